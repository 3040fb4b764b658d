"""The pure cycle core: reviews, projection, bands, cash, kill switch, stale data, shared targets."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from portfolios.policy import LimitOverrides, policy_limits
from portfolios.strategies import RegimeState, StrategyResult, register
from rebalancer.autopilot.engine import (
    REGIME_CONFIRM_DAYS,
    cycle_decide,
    policy_key,
    regime_track,
    review_due,
)
from rebalancer.autopilot.strategies import strategies_register
from rebalancer.autopilot.types import (
    AssetStatus,
    AutonomyConfig,
    BandSettings,
    HoldingsState,
    MarketView,
    OverlaySettings,
    PolicyState,
    TradeConfig,
)

AS_OF = date(2024, 5, 15)  # a Wednesday, not the first trading day of a month
SYMBOLS = ("AAA", "BBB", "CCC", "DDD")
CLASSES = {"AAA": "equity", "BBB": "equity", "CCC": "bond", "DDD": "bond"}
TARGETS = {s: 0.245 for s in SYMBOLS}
QUIET = OverlaySettings(volatility_targeting=False, drawdown_rule=False)


@pytest.fixture(autouse=True)
def _strategies():
    strategies_register()


def market(*, vol: float = 0.01, health=None, as_of: date = AS_OF, prices=None) -> MarketView:
    rng = np.random.default_rng(7)
    idx = pd.bdate_range(end=pd.Timestamp(as_of), periods=260)
    returns = pd.DataFrame(rng.normal(0.0004, vol, (260, len(SYMBOLS))), index=idx, columns=SYMBOLS)
    return MarketView(
        as_of=as_of, returns=returns, prices=prices or {s: 100.0 for s in SYMBOLS}, asset_classes=CLASSES,
        health=health or {},
    )


def config(**overrides) -> AutonomyConfig:
    base = dict(
        mode="autopilot",
        strategy="target_allocation",
        target_weights=TARGETS,
        universe=SYMBOLS,
        rebalance_threshold=0.05,
        calendar="monthly",
        limits=policy_limits(tier="balanced"),
        trade=TradeConfig(cash_buffer=0.02, min_trade_value=50.0),
        overlay=QUIET,
        band=BandSettings(cost_gate=False),
    )
    base.update(overrides)
    return AutonomyConfig(**base)


def reviewed(cfg: AutonomyConfig, targets=TARGETS, **fields) -> PolicyState:
    """The state a previous review left: the targets and the key they were made for."""
    return PolicyState(targets=dict(targets), reviewed_on=AS_OF - timedelta(days=7),
                       key=policy_key(cfg, tuple(sorted(cfg.universe))), strategy=cfg.strategy,
                       last_date=AS_OF - timedelta(days=1), **fields)


def holdings(quantities: dict[str, float], cash: float = 2000.0, cfg: AutonomyConfig | None = None,
             policy: PolicyState | None = None) -> HoldingsState:
    cfg = cfg or config()
    return HoldingsState(as_of=AS_OF, cash=cash, quantities=quantities,
                         policy=policy if policy is not None else reviewed(cfg))


ON_TARGET = {s: 245.0 for s in SYMBOLS}  # 24.5 % each at 100, 2 % cash
DRIFTED = {"AAA": 345.0, "BBB": 195.0, "CCC": 245.0, "DDD": 195.0}  # AAA 34.5 %, BBB and DDD 19.5 %


def test_no_trigger_means_no_trade():
    # given a portfolio on its targets, reviewed last week
    decision = cycle_decide(state=holdings(ON_TARGET), market=market(), config=config())
    # then
    assert decision.action == "hold"
    assert decision.triggers == ()
    assert decision.trades == ()
    assert "No change was needed" in decision.summary
    assert decision.policy_state.targets == pytest.approx(TARGETS)


def test_an_asset_outside_its_band_trades_into_it_and_cash_goes_to_the_underweights():
    # given AAA 10 points above target (band 5 points), BBB and DDD 5 points under (on the edge)
    decision = cycle_decide(state=holdings(DRIFTED), market=market(), config=config())
    # then AAA is sold to target + half its band (27 %) and the proceeds buy BBB and DDD equally
    assert decision.action == "rebalance"
    assert [t.kind for t in decision.triggers] == ["drift"]
    assert decision.triggers[0].value == pytest.approx(0.10)
    assert [(t.side, t.symbol) for t in decision.trades] == [("sell", "AAA"), ("buy", "BBB"), ("buy", "DDD")]
    assert decision.trades[0].quantity == pytest.approx(75.0)
    buys = [t for t in decision.trades if t.side == "buy"]
    assert buys[0].quantity == pytest.approx(buys[1].quantity)
    assert "CCC" not in {t.symbol for t in decision.trades}  # on target: left alone
    assert all(t.reason for t in decision.trades)


def test_drift_inside_the_band_does_not_trade():
    # given AAA 4 points above its target
    state = holdings({"AAA": 285.0, "BBB": 205.0, "CCC": 245.0, "DDD": 245.0})
    decision = cycle_decide(state=state, market=market(), config=config())
    assert decision.action == "hold" and decision.trades == () and decision.triggers == ()


def test_the_band_is_half_of_a_small_target():
    # given 8 % targets (band 4 points): 12.5 % is outside, 11.5 % inside
    targets = {"AAA": 0.08, "BBB": 0.08, "CCC": 0.41, "DDD": 0.41}
    cfg = config(target_weights=targets)
    outside = cycle_decide(state=holdings({"AAA": 125.0, "BBB": 80.0, "CCC": 410.0, "DDD": 365.0}, cfg=cfg,
                                          policy=reviewed(cfg, targets)), market=market(), config=cfg)
    inside = cycle_decide(state=holdings({"AAA": 115.0, "BBB": 80.0, "CCC": 410.0, "DDD": 375.0}, cfg=cfg,
                                         policy=reviewed(cfg, targets)), market=market(), config=cfg)
    assert outside.action == "rebalance" and inside.action == "hold"


def test_new_cash_is_invested_with_buys_only():
    # given 12,000 deposited since the last cycle on a portfolio otherwise on target
    state = replace(holdings(ON_TARGET, cash=14000.0), net_flows=12000.0)
    decision = cycle_decide(state=state, market=market(), config=config())
    # then
    assert "cash" in [t.kind for t in decision.triggers]
    assert {t.side for t in decision.trades} == {"buy"}
    assert decision.after.cash_weight < decision.before.cash_weight


def test_cash_held_by_the_overlay_on_purpose_does_not_trigger_buys():
    # given targets that hold 30 % in cash and a portfolio that does
    targets = {"AAA": 0.175, "BBB": 0.175, "CCC": 0.175, "DDD": 0.175}
    cfg = config(target_weights=targets)
    state = holdings({s: 175.0 for s in SYMBOLS}, cash=30000.0, cfg=cfg, policy=reviewed(cfg, targets))
    decision = cycle_decide(state=state, market=market(), config=cfg)
    assert decision.action == "hold" and decision.triggers == ()


@pytest.mark.parametrize(
    ("as_of", "calendar", "reviews"),
    [
        (date(2024, 4, 1), "quarterly", True),  # Monday, first trading day of Q2
        (date(2024, 5, 1), "quarterly", False),  # month start but not a quarter start
        (date(2024, 5, 1), "monthly", True),
        (date(2024, 6, 3), "monthly", True),  # June 1-2 is a weekend
        (date(2024, 5, 2), "monthly", False),
    ],
)
def test_the_review_calendar(as_of, calendar, reviews):
    # given an equal-weight portfolio reviewed earlier
    cfg = config(strategy="equal_weight", calendar=calendar)
    policy = reviewed(cfg, {s: 0.245 for s in SYMBOLS})
    trigger = review_due(policy=policy, config=cfg, market=market(as_of=as_of), regime=None,
                         key=policy_key(cfg, SYMBOLS))
    assert (trigger is not None and trigger.kind == "calendar") is reviews


def test_a_review_refreshes_the_targets_and_trades_only_what_is_out_of_band():
    # given targets last reviewed at 40/10/25/25 and equal weight today, on the first of June
    cfg = config(strategy="equal_weight")
    old = {"AAA": 0.40, "BBB": 0.09, "CCC": 0.245, "DDD": 0.245}
    state = HoldingsState(as_of=date(2024, 6, 3), cash=2000.0,
                          quantities={"AAA": 400.0, "BBB": 90.0, "CCC": 245.0, "DDD": 245.0},
                          policy=reviewed(cfg, old))
    # when
    decision = cycle_decide(state=state, market=market(as_of=date(2024, 6, 3)), config=cfg)
    # then the new targets are equal weight (projected: 24.5 % each, 2 % cash) and AAA/BBB trade
    assert decision.reviewed
    assert decision.policy_state.targets == pytest.approx(TARGETS)
    assert decision.policy_state.reviewed_on == date(2024, 6, 3)
    assert [t.kind for t in decision.triggers] == ["calendar", "drift"]
    assert {t.symbol for t in decision.trades} == {"AAA", "BBB"}


def test_between_reviews_the_reviewed_targets_stand():
    # given targets reviewed at 40 % AAA, and an equal-weight strategy that would say 24.5 %
    cfg = config(strategy="equal_weight")
    old = {"AAA": 0.40, "BBB": 0.09, "CCC": 0.245, "DDD": 0.245}
    state = holdings({"AAA": 400.0, "BBB": 90.0, "CCC": 245.0, "DDD": 245.0}, cfg=cfg, policy=reviewed(cfg, old))
    decision = cycle_decide(state=state, market=market(), config=cfg)
    assert decision.action == "hold" and not decision.reviewed


def test_a_regime_change_reviews_only_once_it_has_lasted():
    cfg = config(strategy="regime_adaptive")
    policy = reviewed(cfg, TARGETS, regime="bull", regime_candidate="bull", regime_days=30)
    bear = RegimeState(regime="bear", confidence=0.8)
    key = policy_key(cfg, SYMBOLS)
    # the first day of a bear call does not review; the fifth in a row does
    candidate, days = regime_track(policy, bear)
    assert (candidate, days) == ("bear", 1)
    assert review_due(policy=policy, config=cfg, market=market(), regime=bear, key=key, regime_days=days) is None
    later = replace(policy, regime_candidate="bear", regime_days=REGIME_CONFIRM_DAYS - 1)
    candidate, days = regime_track(later, bear)
    trigger = review_due(policy=later, config=cfg, market=market(), regime=bear, key=key, regime_days=days)
    assert trigger is not None and trigger.kind == "regime_change" and "bear" in trigger.message


def test_kill_switch_halt_skips_without_trades():
    decision = cycle_decide(state=holdings(DRIFTED), market=market(), config=config(), kill_switch="halt")
    assert decision.action == "skipped" and decision.trades == ()
    assert "halted" in decision.skipped_reason


def test_kill_switch_defensive_moves_every_portfolio_to_defensive():
    decision = cycle_decide(state=holdings(ON_TARGET), market=market(), config=config(), kill_switch="defensive")
    assert decision.triggers[0].kind == "kill_switch"
    assert decision.override.source == "kill_switch"
    assert {t.side for t in decision.trades} == {"sell"}
    assert decision.after.cash_weight == pytest.approx(0.5, abs=0.01)


def test_a_stale_holding_is_held_and_the_rest_still_rebalances():
    # given CCC's price is stale and AAA has drifted
    health = {"CCC": AssetStatus(status="stale", reasons=("last quote 2024-05-08",))}
    decision = cycle_decide(state=holdings(DRIFTED), market=market(health=health), config=config())
    # then CCC is not traded, AAA still is, and the decision says why CCC was left alone
    assert decision.action == "rebalance"
    assert "CCC" not in {t.symbol for t in decision.trades}
    assert "AAA" in {t.symbol for t in decision.trades}
    assert any("CCC is stale (last quote 2024-05-08)" in n for n in decision.notes)
    assert decision.target_weights["CCC"] == pytest.approx(0.245)


def test_a_stale_asset_not_held_is_left_out_of_the_targets():
    health = {"DDD": AssetStatus(status="suspect", reasons=("a 60 % move without a corporate action",))}
    state = holdings({"AAA": 245.0, "BBB": 245.0, "CCC": 245.0}, cash=26500.0)
    decision = cycle_decide(state=state, market=market(health=health), config=config())
    assert "DDD" not in decision.target_weights
    assert "DDD" not in {t.symbol for t in decision.trades}
    assert any("left out of today's targets" in n for n in decision.notes)


def test_a_holding_that_cannot_be_valued_skips():
    decision = cycle_decide(state=holdings({**ON_TARGET, "ZZZ": 10.0}), market=market(), config=config())
    assert decision.action == "skipped"
    assert "ZZZ is missing" in decision.skipped_reason


def test_targets_above_a_cap_are_projected_not_vetoed():
    # given the investor's own targets put 60 % in AAA against the balanced tier's 25 % cap
    targets = {"AAA": 0.6, "BBB": 0.38}
    cfg = config(target_weights=targets)
    decision = cycle_decide(state=holdings({}, cash=100_000.0, cfg=cfg, policy=PolicyState()), market=market(),
                            config=cfg)
    # then the targets are the closest feasible ones, the checks pass, there is no override
    assert decision.override is None
    assert decision.raw_weights == pytest.approx(targets)
    assert decision.target_weights["AAA"] == pytest.approx(0.25)
    assert all(c.passed for c in decision.checks)
    assert any("25% cap" in n for n in decision.projection_notes)
    assert decision.action == "rebalance"


def test_an_all_equity_universe_keeps_the_tier_equity_ceiling_in_cash():
    cfg = config(strategy="equal_weight", universe=("AAA", "BBB"), target_weights={},
                 limits=policy_limits(tier="conservative", overrides=LimitOverrides(max_position=0.5)))
    decision = cycle_decide(state=holdings({}, cash=100_000.0, cfg=cfg, policy=PolicyState()), market=market(),
                            config=cfg)
    assert sum(decision.target_weights.values()) == pytest.approx(0.35)
    assert decision.after.cash_weight == pytest.approx(0.65, abs=0.005)


def test_overlay_cash_above_the_cash_ceiling_fills_the_money_market_fund_to_its_cap_not_the_defensive():
    # given an aggressive portfolio (cash ceiling 25 %) of two equities and a money-market fund,
    # in a market whose volatility makes the overlay hold the equities at about 60 %
    classes = {"AAA": "equity", "BBB": "equity", "MMF": "cash"}
    view = market(vol=0.025)
    view = replace(view, asset_classes=classes, returns=view.returns.rename(columns={"CCC": "MMF"})[list(classes)]
                   .assign(MMF=0.0001), prices={s: 100.0 for s in classes})
    cfg = config(strategy="equal_weight", universe=tuple(classes), target_weights={},
                 limits=policy_limits(tier="aggressive", overrides=LimitOverrides(max_position=0.5)),
                 overlay=OverlaySettings(drawdown_rule=False))
    # when
    decision = cycle_decide(state=holdings({}, cash=100_000.0, cfg=cfg, policy=PolicyState()), market=view,
                            config=cfg)
    # then the overlay's decision stands: no defensive override, the fund at its 25 % cap, the rest cash
    assert decision.override is None, decision.override
    assert all(c.passed for c in decision.checks), [c.message for c in decision.checks if not c.passed]
    equity = decision.target_weights["AAA"] + decision.target_weights["BBB"]
    assert equity < 0.7  # so more than the 25 % ceiling plus the buffer is cash
    assert decision.target_weights["MMF"] == pytest.approx(0.25)
    assert 1.0 - sum(decision.target_weights.values()) == pytest.approx(1.0 - equity - 0.25)


def test_turnover_cap_moves_part_of_the_way():
    # given a 20 % one-way turnover cap and a 49 % move
    cfg = config(limits=policy_limits(tier="balanced", overrides=LimitOverrides(max_turnover=0.2,
                                                                                 max_position=0.5)))
    state = holdings({"AAA": 490.0, "BBB": 490.0}, cfg=cfg)
    decision = cycle_decide(state=state, market=market(), config=cfg)
    assert decision.override is None
    partial = next(c for c in decision.checks if c.name == "turnover_partial")
    assert 0 < partial.value < 1
    assert sum(t.value for t in decision.trades) / 2 / 100_000 <= 0.2 + 1e-9


def test_targets_are_computed_once_per_shared_key():
    calls = []

    class Counting:
        name = "counting"

        def target_weights(self, ctx):
            calls.append(ctx.symbols)
            return StrategyResult(weights={s: 0.25 for s in ctx.symbols}, confidence=0.9, explanation="x",
                                  strategy="counting")

    register("counting", Counting)
    cache: dict = {}
    cfg = config(strategy="counting")
    # when three portfolios with the same strategy, universe and limits are reviewed
    for cash in (1000.0, 5000.0, 9000.0):
        cycle_decide(state=holdings(ON_TARGET, cash=cash, cfg=cfg, policy=PolicyState()), market=market(),
                     config=cfg, targets_cache=cache)
    assert calls == [SYMBOLS]


def test_optimizer_targets_respect_the_position_cap():
    # the 25 % cap binds the equities; a bond fund may fill its sleeve (50 %)
    cfg = config(strategy="optimizer:max_sharpe")
    decision = cycle_decide(state=holdings({}, cash=100_000.0, cfg=cfg, policy=PolicyState()), market=market(),
                            config=cfg)
    assert decision.action == "rebalance"
    assert max(w for s, w in decision.target_weights.items() if CLASSES[s] == "equity") <= 0.25 + 1e-9
    assert sum(w for s, w in decision.target_weights.items() if CLASSES[s] == "bond") <= 0.50 + 1e-9
    assert all(c.passed for c in decision.checks)


def test_the_numpy_window_gives_the_same_decision_as_the_frame():
    view = market()
    fast = MarketView(
        as_of=view.as_of, returns=view.returns, prices=view.prices, asset_classes=view.asset_classes,
        returns_array=view.returns.to_numpy(), returns_dates=view.returns.index.to_numpy(),
        returns_columns={s: i for i, s in enumerate(view.returns.columns)},
    )
    cfg = config(strategy="optimizer:min_volatility", overlay=OverlaySettings())
    state = holdings(DRIFTED, cfg=cfg, policy=PolicyState())
    a, b = cycle_decide(state=state, market=view, config=cfg), cycle_decide(state=state, market=fast, config=cfg)
    assert a.target_weights == pytest.approx(b.target_weights, abs=1e-12)
    assert [(t.symbol, t.quantity) for t in a.trades] == [(t.symbol, t.quantity) for t in b.trades]


def test_tax_loss_harvest_swaps_to_correlated_peer_and_tags_the_lots():
    from rebalancer.autopilot.types import Lot, TaxConfig

    lots = (Lot(symbol="AAA", quantity=245.0, cost_per_share=125.0, acquired_on=date(2023, 1, 3), lot_id=11),)
    # (gains of 10,000 realized this year: the loss is usable now)
    cfg = config(tax=TaxConfig(enabled=True, loss_threshold=0.05, tracking_penalty=0.0), force=True)
    state = replace(holdings(ON_TARGET, cfg=cfg), lots=lots, realized_this_year=10_000.0)
    view = replace(market(), correlated={"AAA": ("BBB",)})
    # when a review runs with tax optimization on (the tracking risk of the swap not charged)
    decision = cycle_decide(state=state, market=view, config=cfg)
    # then AAA is sold from lot 11 and BBB bought with the proceeds
    sell = next(t for t in decision.trades if t.side == "sell")
    assert (sell.symbol, sell.lot_ids, sell.harvest) == ("AAA", (11,), True)
    assert sell.quantity == pytest.approx(245.0)
    assert [t.symbol for t in decision.trades if t.side == "buy"] == ["BBB"]
    assert decision.harvested_loss == pytest.approx(245 * 25.0)


def test_a_harvest_that_saves_less_than_its_costs_and_tracking_risk_is_not_made():
    # given the same 6,125 long-term loss (worth 918.75 at 15 %) and the default tracking penalty
    from rebalancer.autopilot.types import Lot, TaxConfig

    lots = (Lot(symbol="AAA", quantity=245.0, cost_per_share=125.0, acquired_on=date(2023, 1, 3), lot_id=11),)
    cfg = config(tax=TaxConfig(enabled=True), force=True)
    state = replace(holdings(ON_TARGET, cfg=cfg), lots=lots, realized_this_year=10_000.0)
    # when
    decision = cycle_decide(state=state, market=replace(market(), correlated={"AAA": ("BBB",)}), config=cfg)
    # then one standard deviation of AAA - BBB over 30 days costs more than the loss saves
    assert not any(t.harvest for t in decision.trades) and decision.harvested_loss == 0
    (why,) = [n for n in decision.notes if "does not pay" in n]
    assert "saves about 918.75 in tax against" in why


def test_an_ordinary_loss_sale_is_bought_back_and_the_ledger_books_the_wash_sale():
    # given AAA sold at a loss by a rebalance (not a harvest) 10 days ago
    from rebalancer.autopilot.types import TaxConfig

    cfg = config(tax=TaxConfig(enabled=True), force=True)
    state = replace(holdings({"BBB": 490.0, "CCC": 245.0, "DDD": 245.0}, cash=26500.0, cfg=cfg),
                    recent_loss_sales=(("AAA", AS_OF - timedelta(days=10)),))
    # when the targets want AAA back
    decision = cycle_decide(state=state, market=market(), config=cfg)
    # then it is bought (a wash sale defers that loss; holding something else for a month costs more)
    assert "AAA" in {t.symbol for t in decision.trades if t.side == "buy"}
    assert decision.wash_sale_blocks == ()


def test_wash_sale_blocks_buying_back_a_symbol_sold_at_a_loss():
    # given AAA harvested 10 days ago and now absent from the portfolio
    from rebalancer.autopilot.types import TaxConfig

    cfg = config(tax=TaxConfig(enabled=True), force=True)
    state = replace(holdings({"BBB": 490.0, "CCC": 245.0, "DDD": 245.0}, cash=26500.0, cfg=cfg),
                    recent_loss_sales=(("AAA", AS_OF - timedelta(days=10)),),
                    recent_harvests=(("AAA", AS_OF - timedelta(days=10)),))
    # when the targets want AAA back
    decision = cycle_decide(state=state, market=replace(market(), correlated={"AAA": ("BBB",)}), config=cfg)
    # then no AAA is bought and the reason is recorded
    assert "AAA" not in {t.symbol for t in decision.trades if t.side == "buy"}
    assert any("wash-sale" in n for n in decision.notes)
    assert decision.wash_sale_blocks == ("AAA",)


def test_a_loss_no_gain_of_the_year_can_use_is_not_harvested():
    # given no gain realized this year and a 2,000 carryover: only 1,000 of loss is usable (3,000 deduction)
    from rebalancer.autopilot.types import Lot, TaxConfig

    lots = (Lot(symbol="AAA", quantity=245.0, cost_per_share=125.0, acquired_on=date(2023, 1, 3), lot_id=11),)
    cfg = config(tax=TaxConfig(enabled=True, tracking_penalty=0.0), force=True)
    state = replace(holdings(ON_TARGET, cfg=cfg), lots=lots, loss_carryover=2000.0)
    decision = cycle_decide(state=state, market=replace(market(), correlated={"AAA": ("BBB",)}), config=cfg)
    assert not any(t.harvest for t in decision.trades)
    assert any("leave no room to use a loss on AAA" in n for n in decision.notes)


# --- characterization of the rarer outcomes (pinned before cycle_decide was split into steps) ---


class _FailingStrategy:
    name = "failing"

    def target_weights(self, ctx):
        from portfolios.strategies import StrategyError

        raise StrategyError("needs 20 days of returns; got 3")


JUNE_REVIEW = date(2024, 6, 3)  # the first trading day of June: a scheduled review
OLD_TARGETS = {"AAA": 0.40, "BBB": 0.09, "CCC": 0.245, "DDD": 0.245}


def test_a_strategy_that_fails_on_the_first_review_skips_and_keeps_the_empty_policy():
    # given a portfolio never reviewed and a strategy that cannot run
    register("failing", _FailingStrategy)
    cfg = config(strategy="failing")
    # when
    decision = cycle_decide(state=holdings(ON_TARGET, cfg=cfg, policy=PolicyState()), market=market(), config=cfg)
    # then
    assert (decision.action, decision.skip_kind) == ("skipped", "strategy")
    assert decision.skipped_reason == "The strategy failing could not propose targets: needs 20 days of returns; got 3"
    assert decision.summary == decision.skipped_reason
    assert decision.policy_state == PolicyState()
    assert (decision.triggers, decision.trades, decision.strategy) == ((), (), "failing")


def test_a_strategy_that_fails_on_a_later_review_keeps_the_last_reviewed_targets():
    # given targets reviewed at 40/9/24.5/24.5, a scheduled review today, and a strategy that cannot run
    register("failing", _FailingStrategy)
    cfg = config(strategy="failing")
    policy = reviewed(cfg, OLD_TARGETS)
    state = HoldingsState(as_of=JUNE_REVIEW, cash=2000.0,
                          quantities={"AAA": 400.0, "BBB": 90.0, "CCC": 245.0, "DDD": 245.0}, policy=policy)
    # when
    decision = cycle_decide(state=state, market=market(as_of=JUNE_REVIEW), config=cfg)
    # then the review says why the old targets stand, they are projected onto today's limits, and
    # the policy keeps its review date and key (the review did not happen)
    assert decision.action == "rebalance" and not decision.reviewed
    assert [(t.kind, t.message) for t in decision.triggers] == [
        ("calendar", "2024-06-03 is the first trading day of the month (scheduled review); the strategy could "
                     "not run (needs 20 days of returns; got 3), so the last reviewed targets stand"),
        ("drift", "AAA is 40.0% of the portfolio against a target of 25.0%, outside its ±5.0% band "
                  "(2 assets outside their bands)"),
    ]
    assert decision.raw_weights == OLD_TARGETS
    assert decision.target_weights == pytest.approx({"AAA": 0.25, "BBB": 0.15, "CCC": 0.245, "DDD": 0.245})
    assert (decision.policy_state.reviewed_on, decision.policy_state.key) == (policy.reviewed_on, policy.key)
    assert decision.strategy_result is None and decision.confidence == policy.confidence
    assert [(t.side, t.symbol) for t in decision.trades] == [("sell", "AAA"), ("buy", "BBB")]


def test_targets_that_cannot_be_projected_skip_and_keep_the_policy(monkeypatch):
    # given a projection that finds nothing investable (the engine cannot reach it with a non-empty
    # universe, so it is forced here)
    from portfolios.policy import ProjectionError
    from rebalancer.autopilot import engine

    def nothing_investable(*args, **kwargs):
        raise ProjectionError("the universe is empty: there is nothing to invest in")

    monkeypatch.setattr(engine, "project", nothing_investable)
    cfg = config(force=True)
    state = holdings(ON_TARGET, cfg=cfg)
    # when
    decision = cycle_decide(state=state, market=market(), config=cfg)
    # then
    assert (decision.action, decision.skip_kind) == ("skipped", "infeasible")
    assert decision.skipped_reason == "No feasible targets: the universe is empty: there is nothing to invest in"
    assert decision.policy_state == state.policy
    assert decision.current_weights == pytest.approx({s: 0.245 for s in SYMBOLS})
    assert decision.total_value == pytest.approx(100_000.0)


@pytest.mark.parametrize(
    ("on_review", "action", "triggers", "trades"),
    [
        ("full", "rebalance", ["calendar"], [("sell", "AAA", 20.0), ("buy", "BBB", 19.96004)]),
        ("band", "hold", [], []),
    ],
)
def test_a_full_review_trades_drift_inside_the_band_and_a_band_review_does_not(on_review, action, triggers, trades):
    # given AAA 2 points over and BBB 2 points under their targets (inside the 5-point band) on a review day
    cfg = config(strategy="equal_weight", band=BandSettings(cost_gate=False, on_review=on_review))
    state = HoldingsState(as_of=JUNE_REVIEW, cash=2000.0,
                          quantities={"AAA": 265.0, "BBB": 225.0, "CCC": 245.0, "DDD": 245.0}, policy=reviewed(cfg))
    # when
    decision = cycle_decide(state=state, market=market(as_of=JUNE_REVIEW), config=cfg)
    # then a full review trades both back to 24.5 %; a band review leaves them (and, the targets being
    # unchanged, says nothing)
    assert decision.action == action
    assert [t.kind for t in decision.triggers] == triggers
    assert [(t.side, t.symbol, round(t.quantity, 6)) for t in decision.trades] == trades
