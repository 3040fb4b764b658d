import datetime as dt
import io

import numpy as np
import pytest
import torch
from django.core.management import call_command

from common.errors import Unprocessable, ValidationFailed
from mlagents.models import AgentHistory, AgentModel, AgentStatus
from mlagents.rl.evaluation import PromotionDecision
from mlagents.services import DEFAULT_ENV, agent_retire, agent_train

END = dt.date(2021, 1, 29)


def _train(algorithm="ppo", **kw) -> AgentModel:
    return agent_train(algorithm=algorithm, end=END, episodes=kw.pop("episodes", 64), seed=0, **kw)


def test_train_registers_model_with_evaluation_artifact_and_history(small_market, torch_one_thread):
    # when
    model = _train()
    # then
    model.refresh_from_db()
    assert (model.algorithm, model.version, model.progress) == ("ppo", 1, 1.0)
    assert model.universe == ["AAA", "BBB", "CCC", "DDD"]
    assert model.asset_classes == ["equity", "bond", "equity", "commodity"]
    assert model.train_end == END and model.test_start > END
    assert model.test_end == small_market.index[-1].date()
    assert set(model.evaluation["baselines"]) == {"buy_and_hold", "equal_weight", "min_variance", "max_sharpe"}
    assert {"sharpe_ratio", "max_drawdown", "turnover", "win_rate", "profit_factor", "violation_rate"} <= set(
        model.evaluation["agent"]
    )
    assert model.sharpe_ratio == model.evaluation["agent"]["sharpe_ratio"]
    assert {"approx_kl", "clip_fraction", "explained_variance"} <= set(model.evaluation["training"])
    assert model.promotion_reason
    assert (model.status == AgentStatus.ACTIVE) == ("beats" in model.promotion_reason)
    assert model.artifact.name.startswith("agents/ppo_v1")
    assert AgentHistory.objects.filter(agent=model).count() == 4 * DEFAULT_ENV.episode_length
    row = AgentHistory.objects.filter(agent=model).first()
    assert len(row.action) == 5 and abs(sum(row.action) - 1) < 1e-4


def test_training_is_deterministic_for_a_seed(small_market, torch_one_thread):
    a = _train(episodes=32)
    b = _train(episodes=32)
    assert a.version + 1 == b.version
    assert a.evaluation["agent"] == b.evaluation["agent"]


def test_gate_keeps_a_better_incumbent_active(small_market, torch_one_thread, monkeypatch):
    # given: an active model with a held-out Sharpe nobody beats (other universe: stored metrics)
    incumbent = AgentModel.objects.create(
        algorithm="dqn", version=1, status=AgentStatus.ACTIVE, universe=["ZZZ"],
        evaluation={"agent": {"sharpe_ratio": 99.0}}, sharpe_ratio=99.0,
    )
    monkeypatch.setattr(
        "mlagents.services.evaluate_walk_forward",
        lambda *a, **k: {"agent": {"sharpe_ratio": 5.0}, "equal_weight": {"sharpe_ratio": 1.0}},
    )
    # when
    model = _train("dqn", episodes=16)
    # then
    incumbent.refresh_from_db()
    assert incumbent.status == AgentStatus.ACTIVE
    assert model.status == AgentStatus.CANDIDATE
    assert model.promotion_reason == "sharpe_ratio 5.000 does not beat the active model's 99.000"


def test_promotion_retires_the_incumbent(small_market, torch_one_thread, monkeypatch):
    # given
    incumbent = AgentModel.objects.create(algorithm="dqn", version=1, status=AgentStatus.ACTIVE, universe=["ZZZ"])
    monkeypatch.setattr(
        "mlagents.services.promotion_decision", lambda *a, **k: PromotionDecision(True, "beats everything")
    )
    # when
    model = _train("dqn", episodes=16)
    # then
    incumbent.refresh_from_db()
    assert (incumbent.status, model.status) == (AgentStatus.RETIRED, AgentStatus.ACTIVE)
    assert incumbent.retired_at is not None and model.activated_at is not None
    assert model.promotion_reason == "beats everything"


def test_explicit_assets_need_full_history(small_market):
    from marketdata.models import PriceBar

    PriceBar.objects.filter(asset__symbol="DDD", date__lt=dt.date(2020, 3, 1)).delete()
    with pytest.raises(Unprocessable, match="DDD") as err:
        agent_train(algorithm="ppo", symbols=["AAA", "DDD"], start=dt.date(2020, 1, 1), end=END)
    assert err.value.field == "assets"
    assert AgentModel.objects.count() == 0


def test_rejects_unknown_algorithm_and_short_windows(small_market):
    with pytest.raises(ValidationFailed):
        agent_train(algorithm="a2c")
    with pytest.raises(Unprocessable, match="held-out"):
        agent_train(algorithm="ppo", end=small_market.index[-10].date())
    assert AgentModel.objects.count() == 0


def test_retire_takes_the_agent_out_of_service(db):
    model = AgentModel.objects.create(algorithm="ppo", version=1, status=AgentStatus.ACTIVE)
    agent_retire(agent=model)
    model.refresh_from_db()
    assert model.status == AgentStatus.RETIRED


def test_train_agent_command_prints_the_table(small_market, torch_one_thread):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "train_agent", "--algo", "primal_dual", "--episodes", "64", "--end", "2021-01-29", "--seed", "1",
        stdout=out, stderr=err,
    )
    text = out.getvalue()
    assert "primal_dual v1" in text and "equal_weight" in text and "max_sharpe" in text
    model = AgentModel.objects.get()
    assert model.hyperparameters["iterations"] == 2
    assert {"violation_rate", "mean_residual", "rho", "lambda_cvar"} <= set(model.evaluation["training"])


def test_weekly_retrain_task_and_beat_entry(small_market, torch_one_thread):
    from mlagents.beat import BEAT_SCHEDULE
    from mlagents.tasks import agents_retrain_task

    entry = BEAT_SCHEDULE["mlagents: weekly retrain"]
    assert entry["task"] == agents_retrain_task.name == "mlagents.agents_retrain_task"
    ids = agents_retrain_task.delay(algorithms=["dqn"], years=2, holdout_days=100, episodes=16).get()
    model = AgentModel.objects.get(pk=ids[0])
    assert model.algorithm == "dqn" and model.test_end == small_market.index[-1].date()
    assert np.isfinite(model.evaluation["agent"]["annual_volatility"])


def test_execution_fit_learns_from_advise_mode_approvals(small_market, torch_one_thread, investor):
    from mlagents.rl.inference import build_observation
    from mlagents.selectors import agent_engine_get
    from mlagents.services import agent_execution_fit
    from portfolios.models import Decision, Portfolio

    # given: a primal-dual agent and 40 advise-mode proposals; the investor approves
    # small trades and rejects large ones
    model = _train("primal_dual", episodes=32)
    portfolio = Portfolio.objects.create(owner=investor, name="advised")
    symbols = ["AAA", "BBB", "CCC", "DDD"]
    rng = np.random.default_rng(0)
    days = small_market.index[100:380:7]
    for i, day in enumerate(days):
        current = {s: 0.25 for s in symbols}
        big = i % 2 == 0
        target = {s: (0.85 if j == i % 4 else 0.05) for j, s in enumerate(symbols)} if big else {
            s: 0.25 + 0.02 * rng.standard_normal() for s in symbols
        }
        Decision.objects.create(
            portfolio=portfolio, as_of=day.date(), mode="advise", strategy="agent:primal_dual",
            status="rejected" if big else "approved", current_weights=current, target_weights=target,
        )
    Decision.objects.create(portfolio=portfolio, as_of=days[0].date(), mode="advise", strategy="agent:primal_dual",
                            status="proposed", current_weights={}, target_weights={})
    # when: the scheduled task (it fits the active primal-dual agent)
    from mlagents.beat import BEAT_SCHEDULE
    from mlagents.tasks import agent_execution_fit_task

    AgentModel.objects.filter(algorithm="primal_dual").update(status=AgentStatus.CANDIDATE)
    assert agent_execution_fit_task.delay().get() is None  # nothing active: nothing to fit
    AgentModel.objects.filter(pk=model.pk).update(status=AgentStatus.ACTIVE)
    entry = BEAT_SCHEDULE["mlagents: learn who executes recommendations"]
    assert entry["task"] == agent_execution_fit_task.name
    result = agent_execution_fit_task.delay(**entry["kwargs"]).get()
    fit = agent_execution_fit(agent=AgentModel.objects.get(pk=model.pk))
    # then
    assert result["agent"] == model.pk and (result["decisions"], result["executed"]) == (len(days), len(days) // 2)
    assert (fit.decisions, fit.executed) == (len(days), len(days) // 2)
    model.refresh_from_db()
    assert model.artifact.name.startswith("agents/primal_dual_v1_y")
    engine = agent_engine_get(agent=model)
    returns = (small_market / small_market.shift(1) - 1).iloc[1:].to_numpy()[:300]
    obs = build_observation(returns, np.array([0.25, 0.25, 0.25, 0.25, 0.0]), engine.env_config)
    small = torch.tensor([[0.26, 0.24, 0.25, 0.25, 0.0]])
    large = torch.tensor([[0.85, 0.05, 0.05, 0.05, 0.0]])
    assert engine.execution_probability(obs, small)[0] > 0.8
    assert engine.execution_probability(obs, large)[0] < 0.2
