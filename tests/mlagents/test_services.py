import contextlib
import datetime as dt
import io

import numpy as np
import pytest
import torch
from django.core.management import call_command

from common.errors import Conflict, Unprocessable, ValidationFailed
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
    # three successive windows: train .. END, then validation, then test to the last price
    dates = [d.date() for d in small_market.index[1:]]
    after = [d for d in dates if d > END]
    assert model.train_end == END
    assert (model.validation_start, model.validation_end) == (after[0], after[(len(after) + 1) // 2 - 1])
    assert (model.test_start, model.test_end) == (after[(len(after) + 1) // 2], dates[-1])
    for window in ("validation", "test"):
        section = model.evaluation[window]
        assert set(section["baselines"]) == {"buy_and_hold", "equal_weight", "min_variance", "max_sharpe"}
        assert {"sharpe_ratio", "max_drawdown", "turnover", "win_rate", "profit_factor", "violation_rate"} <= set(
            section["agent"]
        )
        assert section["success"]["episodes"] >= 0
    assert (model.evaluation["validation"]["start"], model.evaluation["test"]["end"]) == (
        model.validation_start.isoformat(), model.test_end.isoformat())
    assert model.sharpe_ratio == model.evaluation["validation"]["agent"]["sharpe_ratio"]
    assert model.test_sharpe_ratio == model.evaluation["test"]["agent"]["sharpe_ratio"]
    assert model.sharpe_ratio != model.test_sharpe_ratio
    selection = model.evaluation["selection"]
    assert [s["fraction"] for s in selection["snapshots"]][-1] == 1.0
    assert selection["chosen_score"] == max(s["score"] for s in selection["snapshots"])
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
    assert a.evaluation["validation"] == b.evaluation["validation"]
    assert a.evaluation["test"] == b.evaluation["test"]


def test_gate_keeps_a_better_incumbent_active(small_market, torch_one_thread, monkeypatch):
    # given: an active model with a held-out Sharpe nobody beats (other universe: stored metrics)
    incumbent = AgentModel.objects.create(
        algorithm="dqn", version=1, status=AgentStatus.ACTIVE, universe=["ZZZ"],
        evaluation={"agent": {"sharpe_ratio": 99.0}}, sharpe_ratio=99.0,
    )
    monkeypatch.setattr(
        "mlagents.services.evaluate_window",
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
    with pytest.raises(Unprocessable, match="the validation window has 5 days; at least 63") as err:
        agent_train(algorithm="ppo", end=small_market.index[-10].date())
    assert err.value.field == "end"
    with pytest.raises(Unprocessable, match="the test window has 9 days; at least 63") as err:
        agent_train(algorithm="ppo", end=END, validation_end=small_market.index[-10].date())
    assert err.value.field == "end"
    with pytest.raises(ValidationFailed, match="validation_end must be after end") as err:
        agent_train(algorithm="ppo", end=END, validation_end=END)
    assert AgentModel.objects.count() == 0


def test_retire_takes_the_agent_out_of_service(db):
    model = AgentModel.objects.create(algorithm="ppo", version=1, status=AgentStatus.ACTIVE)
    agent_retire(agent=model)
    model.refresh_from_db()
    assert model.status == AgentStatus.RETIRED


def test_train_agent_command_prints_validation_and_test_separately(small_market, torch_one_thread):
    # when
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "train_agent", "--algo", "primal_dual", "--episodes", "64", "--end", "2021-01-29",
        "--validation-end", "2021-05-07", "--seed", "1", stdout=out, stderr=err,
    )
    # then: one table per window, each headed by its dates and its purpose
    model = AgentModel.objects.get()
    assert model.hyperparameters["iterations"] == 2
    assert {"violation_rate", "mean_residual", "rho", "lambda_cvar"} <= set(model.evaluation["training"])
    assert model.validation_end == dt.date(2021, 5, 7)
    blocks = out.getvalue().split("\n\n")
    validation = next(b for b in blocks if b.startswith("validation "))
    test = next(b for b in blocks if b.startswith("test "))
    assert validation.splitlines()[0] == (
        f"validation {model.validation_start} .. 2021-05-07 (model selection and the promotion gate)"
    )
    assert test.splitlines()[0] == (
        f"test {model.test_start} .. {model.test_end} (reported only; not read by selection or the gate)"
    )
    for block, window in ((validation, "validation"), (test, "test")):
        section = model.evaluation[window]
        agent_row = next(line for line in block.splitlines() if line.startswith("primal_dual v1"))
        assert f"{section['agent']['sharpe_ratio']:8.3f}" in agent_row
        ew_row = next(line for line in block.splitlines() if line.startswith("equal_weight"))
        assert f"{section['baselines']['equal_weight']['sharpe_ratio']:8.3f}" in ew_row
        assert "max_sharpe" in block
        success = section["success"]
        assert (f"{window} episodes with Sharpe >= equal weight (monthly): "
                f"{success['success_rate']:.1%} of {int(success['episodes'])}" if success["episodes"]
                else f"{window} window too short for a 126-day success episode") in block
    assert out.getvalue().rstrip().endswith(f"{model}: {model.promotion_reason}")
    assert "on the validation window" in model.promotion_reason


def test_weekly_retrain_task_and_beat_entry(small_market, torch_one_thread):
    from mlagents.beat import BEAT_SCHEDULE
    from mlagents.tasks import agents_retrain_task

    entry = BEAT_SCHEDULE["mlagents: weekly retrain"]
    assert entry["task"] == agents_retrain_task.name == "mlagents.agents_retrain_task"
    assert entry["kwargs"]["holdout_days"] == 504  # a year of validation, a year of test
    ids = agents_retrain_task.delay(algorithms=["dqn"], years=2, holdout_days=140, episodes=16).get()
    model = AgentModel.objects.get(pk=ids[0])
    assert model.algorithm == "dqn" and model.test_end == small_market.index[-1].date()
    assert model.train_end < model.validation_start <= model.validation_end < model.test_start
    assert np.isfinite(model.evaluation["validation"]["agent"]["annual_volatility"])
    assert np.isfinite(model.evaluation["test"]["agent"]["annual_volatility"])


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


def test_command_table_reports_the_success_rate_of_its_window():
    from types import SimpleNamespace

    from mlagents.management.commands.train_agent import Command

    # given
    model = SimpleNamespace(algorithm="ppo", version=3, evaluation={"test": {
        "start": "2017-01-03", "end": "2017-12-29", "agent": {"sharpe_ratio": 1.25},
        "baselines": {"equal_weight": {"sharpe_ratio": 0.5}}, "success": {"episodes": 6.0, "success_rate": 0.5},
    }})
    # when
    text = Command._table(model, "test", "reported only")
    # then
    lines = text.splitlines()
    assert lines[1] == "test 2017-01-03 .. 2017-12-29 (reported only)"
    assert lines[3].startswith("ppo v3") and "   1.250" in lines[3]
    assert lines[4].startswith("equal_weight") and "   0.500" in lines[4]
    assert lines[5] == "test episodes with Sharpe >= equal weight (monthly): 50.0% of 6"


def _poison_test_window(after: dt.date) -> int:
    """Scramble every price after ``after`` through the import service: a crash or a
    boom, alternating by asset and day."""
    import pandas as pd

    from marketdata.models import PriceBar
    from marketdata.services import prices_upsert

    rows = []
    for i, (symbol, day, price) in enumerate(
        PriceBar.objects.filter(date__gt=after).order_by("date", "asset__symbol")
        .values_list("asset__symbol", "date", "adj_close")
    ):
        p = float(price) * (0.35 if (i + day.toordinal()) % 2 else 2.9)
        rows.append({"symbol": symbol, "date": day, "open": p, "high": p, "low": p, "close": p,
                     "adj_close": p, "volume": 1000})
    prices_upsert(frame=pd.DataFrame(rows), provider="test")
    return len(rows)


@pytest.mark.parametrize("algorithm", ["ppo", "primal_dual"])
def test_the_gate_never_sees_the_test_window(small_market, torch_one_thread, algorithm):
    # given: a model trained and gated on clean prices (then retired: no incumbent for the next)
    clean = _train(algorithm, episodes=64)
    agent_retire(agent=clean)
    # when: every price of the test window is scrambled and the same seed trains again
    assert _poison_test_window(clean.validation_end) > 0
    poisoned = _train(algorithm, episodes=64)
    # then: selection, validation and the gate's decision are unchanged...
    assert (poisoned.validation_start, poisoned.validation_end) == (clean.validation_start, clean.validation_end)
    assert poisoned.evaluation["selection"] == clean.evaluation["selection"]
    assert poisoned.evaluation["validation"] == clean.evaluation["validation"]
    assert poisoned.promotion_reason == clean.promotion_reason
    assert poisoned.status == (AgentStatus.ACTIVE if "beats" in clean.promotion_reason else AgentStatus.CANDIDATE)
    # ...while the test report did read the scrambled prices
    assert poisoned.evaluation["test"]["agent"] != clean.evaluation["test"]["agent"]
    assert poisoned.evaluation["test"]["baselines"]["equal_weight"]["annual_volatility"] > (
        3 * clean.evaluation["test"]["baselines"]["equal_weight"]["annual_volatility"])


def test_operator_promotion_reevaluates_the_incumbent_on_validation_only(small_market, torch_one_thread):
    from mlagents.services import _gate_incumbent_metrics, agent_promote

    # given: an active model (its stored numbers made up, so a re-evaluation shows) and a
    # candidate on the same universe and windows
    incumbent = _train("ppo", episodes=32)
    candidate = _train("ppo", episodes=64)
    AgentModel.objects.filter(pk=candidate.pk).update(status=AgentStatus.CANDIDATE, activated_at=None)
    AgentModel.objects.filter(pk=incumbent.pk).update(
        status=AgentStatus.ACTIVE, evaluation={"validation": {"agent": {"sharpe_ratio": -99.0}}})
    incumbent.refresh_from_db()
    clean = _gate_incumbent_metrics(candidate, incumbent)
    # when: the test window is scrambled and the operator asks the gate again
    _poison_test_window(candidate.validation_end)
    poisoned = _gate_incumbent_metrics(candidate, incumbent)
    with contextlib.suppress(Conflict):  # refused or promoted: the reason is stored either way
        agent_promote(agent=candidate.pk)
    # then: the incumbent was re-run on the validation window, with the same result
    assert clean["sharpe_ratio"] != -99.0
    assert poisoned == clean
    reason = AgentModel.objects.get(pk=candidate.pk).promotion_reason
    assert f"{clean['sharpe_ratio']:.3f}" in reason or "below baseline" in reason
