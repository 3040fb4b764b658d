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
