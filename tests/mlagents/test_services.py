import datetime as dt
import io

import numpy as np
import pytest
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
    assert AgentModel.objects.get().hyperparameters["iterations"] == 2


def test_weekly_retrain_task_and_beat_entry(small_market, torch_one_thread):
    from mlagents.beat import BEAT_SCHEDULE
    from mlagents.tasks import agents_retrain_task

    entry = BEAT_SCHEDULE["mlagents: weekly retrain"]
    assert entry["task"] == agents_retrain_task.name == "mlagents.agents_retrain_task"
    ids = agents_retrain_task.delay(algorithms=["dqn"], years=2, holdout_days=100, episodes=16).get()
    model = AgentModel.objects.get(pk=ids[0])
    assert model.algorithm == "dqn" and model.test_end == small_market.index[-1].date()
    assert np.isfinite(model.evaluation["agent"]["annual_volatility"])
