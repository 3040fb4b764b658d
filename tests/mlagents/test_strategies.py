import datetime as dt
import re

import numpy as np
import pytest

from mlagents.models import AgentModel, AgentStatus
from mlagents.services import agent_train
from portfolios.strategies import StrategyContext, StrategyError, strategy_get


def _ctx(prices, symbols=("AAA", "BBB", "CCC", "DDD"), weights=None) -> StrategyContext:
    returns = (prices / prices.shift(1) - 1).iloc[1:][list(symbols)]
    return StrategyContext(
        as_of=returns.index[-1].date(),
        symbols=tuple(symbols),
        returns=returns,
        current_weights=weights or {s: 0.2 for s in symbols},
    )


def test_the_default_menu_offers_ppo_and_primal_dual_and_dqn_only_on_request():
    from mlagents.strategies import register_agent_strategies
    from portfolios.strategies import strategy_names, unregister

    # given the app's registration (no opt-in configured)
    for name in ("agent:ppo", "agent:primal_dual"):
        assert strategy_get(name).name == name
    assert "agent:dqn" not in strategy_names()
    with pytest.raises(StrategyError, match="unknown strategy 'agent:dqn'"):
        strategy_get("agent:dqn")
    # when the operator opts in
    try:
        assert register_agent_strategies(opt_in=["DQN"]) == ["agent:ppo", "agent:primal_dual", "agent:dqn"]
        # then
        assert strategy_get("agent:dqn").name == "agent:dqn"
    finally:
        unregister("agent:dqn")
    assert "agent:dqn" not in strategy_names()


def test_no_active_agent_is_a_clear_strategy_error(small_market):
    with pytest.raises(StrategyError, match=re.escape("no active ppo agent; train one with `python manage.py train_agent --algo ppo`")):
        strategy_get("agent:ppo").target_weights(_ctx(small_market))


@pytest.mark.parametrize("algorithm", ["ppo", "dqn", "primal_dual"])
def test_active_agent_serves_weights_confidence_and_explanation(small_market, torch_one_thread, dqn_offered,
                                                                algorithm):
    # given
    model = agent_train(algorithm=algorithm, end=dt.date(2021, 1, 29), episodes=32, seed=0)
    AgentModel.objects.filter(pk=model.pk).update(status=AgentStatus.ACTIVE)
    # when
    result = strategy_get(f"agent:{algorithm}").target_weights(_ctx(small_market))
    # then
    w = np.array(list(result.weights.values()))
    assert set(result.weights) == {"AAA", "BBB", "CCC", "DDD"}
    assert (w >= 0).all() and w.sum() <= 1 + 1e-6
    assert abs(w.sum() + result.details["cash"] - 1) < 1e-5
    assert 0.0 <= result.confidence <= 1.0
    assert "min-variance" in result.explanation and "driven by" in result.explanation
    assert abs(sum(result.details["attribution"].values()) - 1) < 1e-5
    assert result.strategy == f"agent:{algorithm}"


def test_universe_mismatch_is_a_strategy_error(small_market, torch_one_thread, dqn_offered):
    model = agent_train(algorithm="dqn", end=dt.date(2021, 1, 29), episodes=16, seed=0)
    AgentModel.objects.filter(pk=model.pk).update(status=AgentStatus.ACTIVE)
    with pytest.raises(StrategyError, match="trained on AAA, BBB, CCC, DDD; missing returns for DDD"):
        strategy_get("agent:dqn").target_weights(_ctx(small_market, symbols=("AAA", "BBB", "CCC")))


def _regime_calls(dates):
    from mlagents.regime.models import MarketRegime, ReferenceMarket

    market, _ = ReferenceMarket.objects.get_or_create(
        name="default", defaults={"benchmark_symbol": "SPY", "asset_class": "equity"}
    )
    MarketRegime.objects.bulk_create(
        MarketRegime(
            market=market, date=d.date(), regime="bull" if i % 50 < 30 else "bear", confidence="0.8000",
            probabilities={"bull": 0.8, "bear": 0.1, "sideways": 0.1} if i % 50 < 30 else
            {"bull": 0.1, "bear": 0.8, "sideways": 0.1},
        )
        for i, d in enumerate(dates)
    )


def test_agents_use_regime_probabilities_when_the_detector_has_them(small_market, torch_one_thread):
    from mlagents.regime.models import MarketRegime
    from mlagents.selectors import agent_engine_get
    from portfolios.strategies import RegimeState

    # given: a regime call for every day
    _regime_calls(small_market.index)
    model = agent_train(algorithm="ppo", end=dt.date(2021, 1, 29), episodes=32, seed=0)
    AgentModel.objects.filter(pk=model.pk).update(status=AgentStatus.ACTIVE)
    # then: the regime probabilities are inputs of the agent
    assert model.hyperparameters["regime_labels"] == ["bull", "bear", "sideways"]
    assert agent_engine_get(agent=model).obs_dim == 20 * 4 + 4 + 5 + 2 + 3
    # when: served with the context's regime
    ctx = _ctx(small_market)
    regime = RegimeState(regime="bear", confidence=0.8, probabilities={"bull": 0.1, "bear": 0.8, "sideways": 0.1})
    result = strategy_get("agent:ppo").target_weights(
        StrategyContext(ctx.as_of, ctx.symbols, ctx.returns, ctx.current_weights, regime=regime)
    )
    assert "regime" in result.details["attribution"]
    # and: without a context regime it reads the detector; with no call at all it says so
    assert strategy_get("agent:ppo").target_weights(ctx).weights
    MarketRegime.objects.all().delete()
    with pytest.raises(StrategyError, match="uses market-regime probabilities and the detector has no call"):
        strategy_get("agent:ppo").target_weights(ctx)


def test_agents_train_without_regimes_when_calls_are_missing(small_market, torch_one_thread):
    _regime_calls(small_market.index[:100])
    model = agent_train(algorithm="dqn", end=dt.date(2021, 1, 29), episodes=16, seed=0)
    assert model.hyperparameters["regime_labels"] == []


@pytest.mark.parametrize("algorithm", ["ppo", "primal_dual"])
def test_served_targets_are_projected_onto_the_portfolios_limits(small_market, torch_one_thread, algorithm):
    from portfolios.policy import LimitOverrides, policy_limits, project

    # given: an active agent and a conservative portfolio that caps any position at 15 %
    model = agent_train(algorithm=algorithm, end=dt.date(2021, 1, 29), episodes=32, seed=0)
    AgentModel.objects.filter(pk=model.pk).update(status=AgentStatus.ACTIVE)
    limits = policy_limits(tier="conservative", horizon_years=5, overrides=LimitOverrides(max_position=0.15))
    classes = {"AAA": "equity", "BBB": "bond", "CCC": "equity", "DDD": "commodity"}
    base = _ctx(small_market)
    ctx = StrategyContext(base.as_of, base.symbols, base.returns, base.current_weights, risk_tier="conservative",
                          asset_classes=classes, limits=limits)
    # when
    result = strategy_get(f"agent:{algorithm}").target_weights(ctx)
    # then: every limit holds...
    w = result.weights
    raw = result.details["raw_weights"]
    assert raw["AAA"] + raw["CCC"] > limits.sleeve_ranges["equity"][1]  # the agent's own wish breaks the tier
    assert max(w["AAA"], w["CCC"], w["DDD"]) <= 0.15 + 1e-12
    assert limits.sleeve_ranges["equity"][0] - 1e-12 <= w["AAA"] + w["CCC"] <= limits.sleeve_ranges["equity"][1] + 1e-12
    assert limits.sleeve_ranges["bonds"][0] - 1e-12 <= w["BBB"] <= limits.sleeve_ranges["bonds"][1] + 1e-12
    assert w["DDD"] <= limits.sleeve_ranges["alternatives"][1] + 1e-12
    assert limits.cash_buffer - 1e-12 <= result.details["cash"] <= limits.sleeve_ranges["cash"][1] + 1e-12
    assert result.details["cash"] == pytest.approx(1 - sum(w.values()))
    # ...the autopilot's projection leaves the targets as they are, and the explanation says what moved
    again = project(w, limits=limits, asset_classes=classes, universe=ctx.symbols)
    assert again.changes == () and again.weights == pytest.approx({s: x for s, x in w.items() if x > 1e-10})
    assert result.details["projection"] and "held to the conservative limits" in result.explanation


def test_the_api_offers_dqn_only_where_the_operator_opts_in(investor_client, request):
    from portfolios.models import AutonomySettings

    # given a portfolio with the default settings
    created = investor_client.post("/api/v1/portfolios", {"name": "Mine", "mode": "advise"}, format="json")
    url = f"/api/v1/portfolios/{created.json()['id']}/autonomy"
    before = investor_client.get(url).json()
    # when DQN is asked for, as the strategy or as the hybrid's agent
    as_strategy = investor_client.put(url, {"strategy": "agent:dqn"}, format="json")
    as_hybrid = investor_client.put(url, {"hybrid_agent": "agent:dqn"}, format="json")
    # then both are refused, naming the field and what is offered; nothing changed
    assert (as_strategy.status_code, as_strategy.json()["errors"][0]["attr"]) == (400, "strategy")
    detail = as_strategy.json()["errors"][0]["detail"]
    assert "agent:ppo" in detail and "agent:primal_dual" in detail and "agent:dqn, " not in detail
    assert (as_hybrid.status_code, as_hybrid.json()["errors"][0]["attr"]) == (400, "hybrid_agent")
    assert "use agent:ppo or agent:primal_dual" in as_hybrid.json()["errors"][0]["detail"]
    after = investor_client.get(url).json()
    assert (after["strategy"], after["hybrid_agent"]) == (before["strategy"], before["hybrid_agent"])
    # when the operator offers it, then it is accepted
    request.getfixturevalue("dqn_offered")
    assert investor_client.put(url, {"strategy": "agent:dqn", "hybrid_agent": "agent:dqn"},
                               format="json").status_code == 200
    assert AutonomySettings.objects.get(portfolio_id=created.json()["id"]).strategy == "agent:dqn"
