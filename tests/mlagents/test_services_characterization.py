"""Characterization of ``agent_train`` and ``training_panel_get`` on the small seeded market.

Pinned before both were split into named steps (issue 22): the same seed must store the
same model, evaluation, history rows and progress after any refactoring. The figures are
torch 2.13's on a CPU, one thread; another torch build or CPU kernel may change the last
digits, and then they are re-pinned from unchanged code, never adjusted to changed code.
"""

import datetime as dt
import hashlib
import json

import pytest

from common.errors import ApplicationError
from mlagents.models import AgentHistory, AgentModel, AgentStatus
from mlagents.services import DEFAULT_ENV, agent_train, training_panel_get

END = dt.date(2021, 1, 29)
VALIDATION_END = dt.date(2021, 5, 7)


def _sha(value) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def _stored(model: AgentModel) -> tuple:
    model.refresh_from_db()
    evaluation = {**model.evaluation, "training": {
        k: v for k, v in model.evaluation["training"].items() if k != "steps_per_second"}}  # a timing
    rows = list(
        AgentHistory.objects.filter(agent=model).order_by("episode", "step")
        .values_list("episode", "step", "state", "action", "reward", "next_state")
    )
    return (
        model.status, model.sharpe_ratio, model.test_sharpe_ratio, model.progress,
        _sha(json.dumps(evaluation, sort_keys=True)), _sha(repr(rows)), len(rows),
    )


def test_agent_train_is_pinned_for_a_seed_with_an_incumbent_on_the_same_universe(small_market, torch_one_thread):
    # given: an active PPO model on the same universe and windows (the gate re-evaluates it)
    incumbent = agent_train(algorithm="ppo", end=END, episodes=32, seed=0)
    AgentModel.objects.filter(pk=incumbent.pk).update(status=AgentStatus.ACTIVE)
    reported = []

    # when
    candidate = agent_train(
        algorithm="ppo", end=END, episodes=32, seed=1, progress=lambda frac, stats: reported.append((frac, sorted(stats)))
    )

    # then
    assert _stored(incumbent) == (
        "active", -0.8513138961040527, 1.8038883567889634, 1.0, "70b034578c2dba9c", "bfeb02d0ded561ba", 104)
    assert _stored(candidate) == (
        "candidate", -0.8294580361356498, 1.8478681056061186, 1.0, "e564166f88699527", "63127a165a12e88b", 104)
    assert candidate.promotion_reason == (
        "sharpe_ratio -0.829 is below baseline(s) buy_and_hold (-0.370), equal_weight (-0.250), "
        "min_variance (-0.308), max_sharpe (1.074) on the validation window")
    assert (candidate.version, candidate.seed, candidate.universe) == (2, 1, ["AAA", "BBB", "CCC", "DDD"])
    assert (candidate.hyperparameters["total_timesteps"], candidate.hyperparameters["num_steps"]) == (832, 26)
    assert (candidate.hyperparameters["episodes"], candidate.hyperparameters["regime_labels"]) == (32, [])
    assert candidate.env_config == DEFAULT_ENV.to_dict()
    assert (candidate.train_start, candidate.train_end, candidate.validation_start, candidate.validation_end,
            candidate.test_start, candidate.test_end) == (
        dt.date(2020, 1, 2), END, dt.date(2021, 2, 1), dt.date(2021, 5, 6), dt.date(2021, 5, 7), dt.date(2021, 8, 10))
    assert candidate.artifact.name.startswith("agents/ppo_v2")
    ppo_stats = ["approx_kl", "clip_fraction", "entropy", "episode_reward", "explained_variance", "global_step",
                 "policy_loss", "steps_per_second", "update", "value_loss"]
    assert reported == [(0.9, ppo_stats), (0.95, ["sharpe_ratio"]), (0.98, ["sharpe_ratio"]), (1.0, ["promoted"])]


def test_primal_dual_agent_train_is_pinned_for_a_seed(small_market, torch_one_thread):
    # when
    model = agent_train(algorithm="primal_dual", end=END, episodes=32, seed=0)

    # then
    assert _stored(model) == (
        "candidate", -1.0950409996224106, 2.314301383609449, 1.0, "ed200f3f071dff18", "999842fe1cc9eed2", 104)
    assert (model.hyperparameters["iterations"], model.hyperparameters["max_turnover"]) == (1, 0.05952380952380952)
    assert model.artifact.name.startswith("agents/primal_dual_v1")


PANELS = {
    "default": ({}, (251, 83, 419, ["AAA", "BBB", "CCC", "DDD"], ["equity", "bond", "equity", "commodity"], 0.7119023655578366)),
    "end": ({"end": END}, (282, 69, 419, ["AAA", "BBB", "CCC", "DDD"], ["equity", "bond", "equity", "commodity"], 0.7119023655578366)),
    "end and validation_end": (
        {"end": END, "validation_end": VALIDATION_END},
        (282, 70, 419, ["AAA", "BBB", "CCC", "DDD"], ["equity", "bond", "equity", "commodity"], 0.7119023655578366)),
    "start and test_end": (
        {"start": dt.date(2020, 3, 2), "end": END, "test_end": dt.date(2021, 7, 30)},
        (239, 65, 369, ["AAA", "BBB", "CCC", "DDD"], ["equity", "bond", "equity", "commodity"], 0.6376774187969321)),
    "no test window": (
        {"end": END, "validation_end": VALIDATION_END, "test_end": VALIDATION_END, "require_test": False},
        (282, 70, 352, ["AAA", "BBB", "CCC", "DDD"], ["equity", "bond", "equity", "commodity"], 0.6295337791843334)),
    "explicit symbols": (
        {"symbols": [" aaa", "BBB", "aaa", ""], "end": END},
        (282, 69, 419, ["AAA", "BBB"], ["equity", "bond"], 0.15727032980698763)),
}


@pytest.mark.parametrize(("kwargs", "want"), PANELS.values(), ids=PANELS.keys())
def test_training_panel_is_pinned(small_market, kwargs, want):
    # when
    panel = training_panel_get(env_config=DEFAULT_ENV, **{"symbols": None, "start": None, "end": None, "test_end": None, **kwargs})

    # then
    assert (panel.train_days, panel.validation_days, len(panel.returns), list(panel.returns.columns),
            panel.asset_classes, float(panel.returns.to_numpy().sum())) == want
    assert panel.regimes is None  # no regime calls in the small market


def test_training_panel_reads_the_regime_calls_of_every_day(small_market):
    from mlagents.regime.models import MarketRegime, ReferenceMarket

    # given: a call for every day but the first price's (returns start on the second)
    market, _ = ReferenceMarket.objects.get_or_create(
        name="default", defaults={"benchmark_symbol": "SPY", "asset_class": "equity"})
    MarketRegime.objects.bulk_create(
        MarketRegime(market=market, date=d.date(), regime="bull", confidence="0.8000",
                     probabilities={"bull": 0.7, "bear": 0.2 if i % 2 else 0.1})
        for i, d in enumerate(small_market.index[1:])
    )

    # when
    with_regimes = training_panel_get(symbols=None, start=None, end=END, test_end=None, env_config=DEFAULT_ENV)
    without = training_panel_get(symbols=None, start=None, end=END, test_end=None, env_config=DEFAULT_ENV,
                                 use_regimes=False)

    # then
    assert with_regimes.regimes.shape == (419, 3)
    assert with_regimes.regimes[:2].tolist() == [[0.7, 0.1, 0.0], [0.7, 0.2, 0.0]]
    assert without.regimes is None


ERRORS = {
    "one asset": ({"symbols": ["AAA"]}, ("Unprocessable", "an agent needs at least two assets with prices", "assets")),
    "end at start": ({"start": END, "end": END}, ("ValidationFailed", "end must be after start", "end")),
    "validation_end alone": (
        {"validation_end": END}, ("ValidationFailed", "validation_end needs end (the last training day)", "validation_end")),
    "validation_end at end": (
        {"end": END, "validation_end": END}, ("ValidationFailed", "validation_end must be after end", "validation_end")),
    "test_end at end": ({"end": END, "test_end": END}, ("ValidationFailed", "test_end must be after end", "test_end")),
    "test_end at validation_end": (
        {"end": END, "validation_end": VALIDATION_END, "test_end": VALIDATION_END},
        ("ValidationFailed", "test_end must be after validation_end", "test_end")),
    "test_end before validation_end": (
        {"end": END, "validation_end": VALIDATION_END, "test_end": dt.date(2021, 5, 6), "require_test": False},
        ("ValidationFailed", "test_end must be after validation_end", "test_end")),
    "short training": (
        {"end": dt.date(2020, 2, 3)},
        ("Unprocessable", "the training window has 23 days of returns; at least 152 are needed", "start")),
    "short validation": (
        {"end": dt.date(2021, 7, 30)}, ("Unprocessable", "the validation window has 4 days; at least 63 are needed", "end")),
    "short validation to test_end": (
        {"end": END, "test_end": VALIDATION_END},
        ("Unprocessable", "the validation window has 35 days; at least 63 are needed", "end")),
    "short test": (
        {"end": END, "validation_end": VALIDATION_END, "test_end": dt.date(2021, 6, 1)},
        ("Unprocessable", "the test window has 17 days; at least 63 are needed", "test_end")),
    "unknown symbol": ({"symbols": ["AAA", "ZZZ"], "end": END}, ("NotFound", "Unknown symbols: ZZZ.", "assets")),
}


@pytest.mark.parametrize(("kwargs", "want"), ERRORS.values(), ids=ERRORS.keys())
def test_training_panel_refusals_are_pinned(small_market, kwargs, want):
    # when
    with pytest.raises(ApplicationError) as err:
        training_panel_get(env_config=DEFAULT_ENV, **{"symbols": None, "start": None, "end": None, "test_end": None, **kwargs})

    # then
    assert (type(err.value).__name__, str(err.value), err.value.field) == want


AGENT_TRAIN_REFUSALS = {
    "unknown algorithm": (
        {"algorithm": "a2c"}, ("ValidationFailed", "unknown algorithm 'a2c'; use one of ppo, primal_dual, dqn", "algo")),
    "no episodes": ({"algorithm": "ppo", "episodes": 0}, ("ValidationFailed", "episodes must be a positive number", "episodes")),
}


@pytest.mark.parametrize(("kwargs", "want"), AGENT_TRAIN_REFUSALS.values(), ids=AGENT_TRAIN_REFUSALS.keys())
def test_agent_train_refusals_are_pinned(small_market, kwargs, want):
    # when
    with pytest.raises(ApplicationError) as err:
        agent_train(**kwargs)

    # then: nothing was registered
    assert (type(err.value).__name__, str(err.value), err.value.field) == want
    assert AgentModel.objects.count() == 0


def _recording_gate(calls: list, promote: bool | None = None):
    """The real promotion gate, recording its inputs; ``promote`` overrides its verdict."""
    from mlagents.rl.evaluation import PromotionDecision, promotion_decision

    def gate(agent, baselines, incumbent=None):
        real = promotion_decision(agent, baselines, incumbent)
        calls.append((_sha(json.dumps(agent, sort_keys=True)), sorted(baselines),
                      incumbent and incumbent["sharpe_ratio"], real.reason))
        return real if promote is None else PromotionDecision(promote, f"forced: {real.reason}")

    return gate


def test_agent_train_promotion_retires_the_incumbent_it_re_evaluated(
    small_market, torch_one_thread, monkeypatch, settings, tmp_path
):
    # given: an active PPO model on the same universe whose stored validation Sharpe is
    # made up (the gate must re-run it), and a gate that promotes whatever it is shown
    settings.MEDIA_ROOT = tmp_path
    incumbent = agent_train(algorithm="ppo", end=END, episodes=32, seed=0)
    AgentModel.objects.filter(pk=incumbent.pk).update(
        status=AgentStatus.ACTIVE, evaluation={"validation": {"agent": {"sharpe_ratio": -99.0}}})
    calls: list = []
    monkeypatch.setattr("mlagents.services.promotion_decision", _recording_gate(calls, promote=True))
    saved = []

    # when: two PPO updates with a checkpoint after each; the stored progress read at each report
    candidate = agent_train(
        algorithm="ppo", end=END, episodes=32, seed=1, hyperparameters={"num_steps": 13, "checkpoint_every": 1},
        progress=lambda frac, _stats: saved.append((frac, AgentModel.objects.get(version=2).progress)),
    )

    # then
    reason = ("sharpe_ratio -0.842 is below baseline(s) buy_and_hold (-0.370), equal_weight (-0.250), "
              "min_variance (-0.308), max_sharpe (1.074) on the validation window")
    assert calls == [("aa174e60c4aea8cb", ["buy_and_hold", "equal_weight", "max_sharpe", "min_variance"],
                      -0.8513138961040527, reason)]
    assert _stored(candidate) == (
        "active", -0.841576731013859, 1.8022677787058856, 1.0, "b1af216d998e4a84", "11208bff75d4f9f2", 104)
    assert candidate.promotion_reason == f"forced: {reason}"
    incumbent.refresh_from_db()
    assert incumbent.status == "retired"
    assert incumbent.retired_at == candidate.activated_at is not None
    assert saved == [(0.45, 0.45), (0.9, 0.9), (0.95, 0.9), (0.98, 0.9), (1.0, 1.0)]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.pt")) == [
        "agents/checkpoints/ppo_v2/ppo_update_00001.pt", "agents/checkpoints/ppo_v2/ppo_update_00002.pt",
        "agents/ppo_v1.pt", "agents/ppo_v2.pt"]


def test_agent_train_with_regime_calls_is_pinned_for_a_seed(small_market, torch_one_thread, monkeypatch):
    from mlagents.regime.models import MarketRegime, ReferenceMarket

    # given: a regime call for every day, and an active primal-dual model trained with them
    market, _ = ReferenceMarket.objects.get_or_create(
        name="default", defaults={"benchmark_symbol": "SPY", "asset_class": "equity"})
    MarketRegime.objects.bulk_create(
        MarketRegime(market=market, date=d.date(), regime="bull", confidence="0.8000",
                     probabilities={"bull": 0.7 - 0.001 * (i % 50), "bear": 0.2 if i % 2 else 0.1})
        for i, d in enumerate(small_market.index[1:])
    )
    incumbent = agent_train(algorithm="primal_dual", end=END, episodes=32, seed=0)
    AgentModel.objects.filter(pk=incumbent.pk).update(status=AgentStatus.ACTIVE)
    calls: list = []
    monkeypatch.setattr("mlagents.services.promotion_decision", _recording_gate(calls))

    # when
    model = agent_train(algorithm="primal_dual", end=END, episodes=32, seed=2)

    # then: the incumbent was re-run with its regimes; the candidate stays a candidate
    reason = ("sharpe_ratio -0.566 is below baseline(s) buy_and_hold (-0.370), equal_weight (-0.250), "
              "min_variance (-0.308), max_sharpe (1.074) on the validation window")
    assert [(c[2], c[3]) for c in calls] == [(-1.0309514523969676, reason)]
    assert _stored(incumbent) == (
        "active", -1.0309514523969676, 2.051741349173089, 1.0, "92fda09a8912a91b", "818278a60bbd399f", 104)
    assert _stored(model) == (
        "candidate", -0.5661622442759658, 1.4306404218787994, 1.0, "648e1a8ec9e2dedd", "f2ed234d20dc299c", 104)
    assert model.hyperparameters["regime_labels"] == ["bull", "bear", "sideways"]
    assert model.promotion_reason == reason
    assert len(AgentHistory.objects.filter(agent=model).first().state) == 94  # 91 features + 3 regimes


def test_dqn_agent_train_on_explicit_windows_is_pinned_for_a_seed(small_market, torch_one_thread):
    # when: every window given, a hyperparameter overridden
    model = agent_train(algorithm="dqn", end=END, validation_end=VALIDATION_END, test_end=dt.date(2021, 8, 10),
                        episodes=16, seed=0, hyperparameters={"hidden": 32})

    # then: a policy without a Sharpe ratio (NaN stored as None) and no promotion
    assert _stored(model) == ("candidate", None, None, 1.0, "6965896c60d5638b", "70ffc2f266bf9627", 104)
    assert model.promotion_reason == "candidate has no sharpe_ratio on the validation window"
    assert (model.hyperparameters["hidden"], model.hyperparameters["total_steps"]) == (32, 416)
    assert (model.validation_start, model.validation_end, model.test_start, model.test_end) == (
        dt.date(2021, 2, 1), dt.date(2021, 5, 7), dt.date(2021, 5, 10), dt.date(2021, 8, 10))
    assert model.artifact.name.startswith("agents/dqn_v1")
    assert model.evaluation["selection"] == {
        "chosen_fraction": 1.0, "chosen_score": None,
        "snapshots": [{"fraction": 0.3846, "score": None}, {"fraction": 0.7692, "score": None},
                      {"fraction": 1.0, "score": None}]}


GAPS = {
    "implicit universe drops it": ({}, (282, 69, 419, ["AAA", "BBB", "CCC"], ["equity", "bond", "equity"])),
    "explicit symbols refuse it": (
        {"symbols": ["AAA", "DDD"]},
        ("Unprocessable", "assets without a full price history over the window: DDD", "assets")),
    "too few left": (
        {"symbols": None, "gapped": ("BBB", "CCC", "DDD")},
        ("Unprocessable", "fewer than two assets have a full history over the window", "assets")),
}


@pytest.mark.parametrize(("kwargs", "want"), GAPS.values(), ids=GAPS.keys())
def test_training_panel_of_assets_with_gaps_is_pinned(small_market, kwargs, want):
    from marketdata.models import PriceBar

    # given: no prices of some assets (DDD by default) in the first month
    kwargs = dict(kwargs)
    PriceBar.objects.filter(asset__symbol__in=kwargs.pop("gapped", ("DDD",)), date__lt=dt.date(2020, 2, 1)).delete()
    call = {"symbols": None, "start": None, "end": END, "test_end": None, "env_config": DEFAULT_ENV, **kwargs}

    # when
    try:
        panel = training_panel_get(**call)
    except ApplicationError as err:
        got = (type(err).__name__, str(err), err.field)
    else:
        got = (panel.train_days, panel.validation_days, len(panel.returns), list(panel.returns.columns),
               panel.asset_classes)

    # then
    assert got == want
