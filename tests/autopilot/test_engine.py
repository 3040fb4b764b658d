"""The pure cycle core: triggers, shared targets, risk override, kill switch, data freshness."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from portfolios.strategies import RegimeState, StrategyResult, register
from rebalancer.autopilot.engine import cycle_decide
from rebalancer.autopilot.strategies import strategies_register
from rebalancer.autopilot.types import (
    AssetStatus,
    AutonomyConfig,
    HoldingsState,
    MarketView,
    RiskLimits,
    TradeConfig,
)

AS_OF = date(2024, 5, 15)  # a Wednesday, not the first trading day of a month
SYMBOLS = ("AAA", "BBB", "CCC", "DDD")


@pytest.fixture(autouse=True)
def _strategies():
    strategies_register()


def market(*, vol: float = 0.01, health=None, as_of: date = AS_OF) -> MarketView:
    rng = np.random.default_rng(7)
    idx = pd.bdate_range(end=pd.Timestamp(as_of), periods=260)
    returns = pd.DataFrame(rng.normal(0.0004, vol, (260, len(SYMBOLS))), index=idx, columns=SYMBOLS)
    return MarketView(
        as_of=as_of,
        returns=returns,
        prices={s: 100.0 for s in SYMBOLS},
        asset_classes={"AAA": "equity", "BBB": "equity", "CCC": "bond", "DDD": "bond"},
        health=health or {},
    )


def config(**overrides) -> AutonomyConfig:
    base = dict(
        mode="autopilot",
        strategy="target_allocation",
        target_weights={s: 0.245 for s in SYMBOLS},
        universe=SYMBOLS,
        rebalance_threshold=0.05,
        calendar="none",
        limits=RiskLimits(max_position=0.5, max_asset_class=None, max_var_95=0.05, max_drawdown=0.25),
        trade=TradeConfig(cash_buffer=0.02, min_trade_value=50.0),
    )
    base.update(overrides)
    return AutonomyConfig(**base)


def holdings(quantities: dict[str, float], cash: float = 2000.0, history=None) -> HoldingsState:
    return HoldingsState(as_of=AS_OF, cash=cash, quantities=quantities, value_history=history)


BALANCED = {s: 245.0 for s in SYMBOLS}  # 24.5 % each at 100, 2 % cash


def test_no_trigger_means_no_trade():
    # given a portfolio on its targets with only the buffer in cash
    state = holdings(BALANCED)
    # when
    decision = cycle_decide(state=state, market=market(), config=config())
    # then
    assert decision.action == "hold"
    assert decision.triggers == ()
    assert decision.trades == ()
    assert "No change was needed" in decision.summary


def test_drift_beyond_threshold_rebalances_sells_first():
    # given AAA at 34.5 % against a 24.5 % target (drift 10 % > 5 %)
    state = holdings({"AAA": 345.0, "BBB": 195.0, "CCC": 245.0, "DDD": 195.0})
    # when
    decision = cycle_decide(state=state, market=market(), config=config())
    # then
    assert decision.action == "rebalance"
    assert [t.kind for t in decision.triggers] == ["drift"]
    assert decision.triggers[0].value == pytest.approx(0.10)
    assert [(t.side, t.symbol) for t in decision.trades] == [
        ("sell", "AAA"), ("buy", "BBB"), ("buy", "DDD")
    ]
    assert decision.trades[0].quantity == pytest.approx(100.0)
    assert all(t.reason for t in decision.trades)


def test_drift_within_threshold_does_not_trigger():
    # given AAA at 28.5 % (drift 4 % < 5 %)
    state = holdings({"AAA": 285.0, "BBB": 205.0, "CCC": 245.0, "DDD": 245.0})
    # when
    decision = cycle_decide(state=state, market=market(), config=config())
    # then
    assert decision.action == "hold" and decision.trades == ()


def test_cash_to_invest_triggers_buys():
    # given new cash far above the 2 % buffer
    state = holdings(BALANCED, cash=12000.0)
    # when
    decision = cycle_decide(state=state, market=market(), config=config())
    # then
    kinds = [t.kind for t in decision.triggers]
    assert "cash" in kinds
    assert {t.side for t in decision.trades} == {"buy"}
    assert decision.after.cash_weight < decision.before.cash_weight


@pytest.mark.parametrize(
    ("as_of", "calendar", "fires"),
    [
        (date(2024, 4, 1), "quarterly", True),  # Monday, first trading day of Q2
        (date(2024, 5, 1), "quarterly", False),  # month start but not a quarter start
        (date(2024, 5, 1), "monthly", True),
        (date(2024, 6, 3), "monthly", True),  # June 1-2 is a weekend
        (date(2024, 5, 2), "monthly", False),
        (date(2024, 4, 1), "none", False),
    ],
)
def test_calendar_trigger(as_of, calendar, fires):
    # given a balanced portfolio on a (non-)review day
    state = holdings(BALANCED)
    # when
    decision = cycle_decide(state=state, market=market(as_of=as_of), config=config(calendar=calendar))
    # then
    assert ("calendar" in [t.kind for t in decision.triggers]) is fires


def test_regime_change_triggers_review():
    # given the detector reports a change to bear
    regime = RegimeState(regime="bear", confidence=0.8, changed=True)
    # when
    decision = cycle_decide(state=holdings(BALANCED), market=market(), config=config(), regime=regime)
    # then
    assert [t.kind for t in decision.triggers] == ["regime_change"]
    assert "bear" in decision.triggers[0].message


def test_var_breach_overrides_to_defensive_allocation():
    # given a volatile market where the portfolio's one-day VaR is far above 1 %
    limits = RiskLimits(max_position=0.5, max_asset_class=None, max_var_95=0.01, max_drawdown=None)
    # when
    decision = cycle_decide(state=holdings(BALANCED), market=market(vol=0.03), config=config(limits=limits))
    # then
    assert [t.kind for t in decision.triggers] == ["risk_limit"]
    assert decision.override is not None and decision.override.source == "risk_limit"
    assert sum(decision.target_weights.values()) == pytest.approx(0.5)  # 50 % cash
    assert decision.after.cash_weight == pytest.approx(0.5, abs=0.01)
    assert decision.confidence == 1.0
    assert "defensive" in decision.summary


def test_drawdown_breach_overrides_to_defensive_allocation():
    # given the portfolio is 30 % below its peak (limit 25 %)
    history = pd.Series([100_000.0, 140_000.0, 98_000.0])
    state = holdings(BALANCED, history=history)
    # when
    decision = cycle_decide(state=state, market=market(), config=config())
    # then
    assert decision.triggers[0].kind == "risk_limit"
    assert decision.triggers[0].value == pytest.approx(0.3)
    assert decision.override is not None
    assert sum(decision.target_weights.values()) == pytest.approx(0.5)


def test_kill_switch_halt_skips_without_trades():
    # given a drifted portfolio
    state = holdings({"AAA": 345.0, "BBB": 195.0, "CCC": 245.0, "DDD": 195.0})
    # when the operator halts trading
    decision = cycle_decide(state=state, market=market(), config=config(), kill_switch="halt")
    # then
    assert decision.action == "skipped"
    assert decision.trades == ()
    assert "halted" in decision.skipped_reason


def test_kill_switch_defensive_moves_every_portfolio_to_defensive():
    # given a balanced portfolio (no trigger of its own)
    # when the operator switches to defensive
    decision = cycle_decide(state=holdings(BALANCED), market=market(), config=config(), kill_switch="defensive")
    # then
    assert decision.triggers[0].kind == "kill_switch"
    assert decision.override.source == "kill_switch"
    assert {t.side for t in decision.trades} == {"sell"}
    assert decision.after.cash_weight == pytest.approx(0.5, abs=0.01)


def test_stale_price_skips_and_names_the_asset():
    # given CCC's price is stale
    health = {"CCC": AssetStatus(status="stale", reasons=("last quote 2024-05-08",))}
    state = holdings({"AAA": 345.0, "BBB": 195.0, "CCC": 245.0, "DDD": 195.0})
    # when
    decision = cycle_decide(state=state, market=market(health=health), config=config())
    # then
    assert decision.action == "skipped"
    assert decision.trades == ()
    assert "CCC is stale (last quote 2024-05-08)" in decision.skipped_reason


def test_missing_price_of_a_held_asset_skips():
    # given a held symbol without any price
    state = holdings({**BALANCED, "ZZZ": 10.0})
    # when
    decision = cycle_decide(state=state, market=market(), config=config())
    # then
    assert decision.action == "skipped"
    assert "ZZZ is missing" in decision.skipped_reason


def test_failed_pre_trade_check_falls_back_to_defensive():
    # given targets that put 60 % in AAA against a 40 % position limit
    targets = {"AAA": 0.6, "BBB": 0.38}
    limits = RiskLimits(max_position=0.4, max_asset_class=None, max_var_95=None, max_drawdown=None)
    # when
    decision = cycle_decide(
        state=holdings({}, cash=100_000.0), market=market(),
        config=config(target_weights=targets, limits=limits),
    )
    # then
    position = [c for c in decision.checks if c.name == "position"][0]
    assert position.passed is False and position.value == pytest.approx(0.6)
    assert decision.override.source == "pre_trade"
    assert all(c.passed for c in decision.checks if c.name.startswith("defensive:"))


def test_turnover_cap_moves_part_of_the_way():
    # given a 20 % one-way turnover cap and a 40 % move
    limits = RiskLimits(max_position=0.5, max_asset_class=None, max_var_95=None, max_drawdown=None, max_turnover=0.2)
    state = holdings({"AAA": 490.0, "BBB": 490.0})
    # when
    decision = cycle_decide(state=state, market=market(), config=config(limits=limits))
    # then
    assert decision.override is None
    partial = [c for c in decision.checks if c.name == "turnover_partial"][0]
    assert partial.value == pytest.approx(0.2 / 0.49 * 0.999, rel=1e-6)
    moved = sum(t.value for t in decision.trades) / 2 / 100_000
    assert moved <= 0.2


def test_targets_are_computed_once_per_shared_key():
    # given a strategy that counts its calls
    calls = []

    class Counting:
        name = "counting"

        def target_weights(self, ctx):
            calls.append(ctx.symbols)
            return StrategyResult(weights={s: 0.25 for s in ctx.symbols}, confidence=0.9, explanation="x", strategy="counting")

    register("counting", Counting)
    cache: dict = {}
    # when three portfolios with the same strategy, universe and tier are decided
    for cash in (1000.0, 5000.0, 9000.0):
        cycle_decide(state=holdings(BALANCED, cash=cash), market=market(), config=config(strategy="counting"), targets_cache=cache)
    # then
    assert calls == [SYMBOLS]


def test_optimizer_strategy_respects_position_limit():
    # given the max-Sharpe optimizer over four assets with a 35 % position limit
    limits = RiskLimits(max_position=0.35, max_asset_class=None, max_var_95=None, max_drawdown=None)
    # when
    decision = cycle_decide(
        state=holdings({}, cash=100_000.0), market=market(),
        config=config(strategy="optimizer:max_sharpe", limits=limits),
    )
    # then
    assert decision.action == "rebalance"
    assert max(decision.target_weights.values()) <= 0.35 + 1e-6
    assert all(c.passed for c in decision.checks)
    assert decision.strategy == "optimizer:max_sharpe"


def test_tax_loss_harvest_swaps_to_correlated_peer_and_tags_the_lots():
    # given AAA held in one lot bought at 125 (20 % loss at 100), BBB its ranked peer
    from rebalancer.autopilot.types import Lot, TaxConfig

    lots = (Lot(symbol="AAA", quantity=245.0, cost_per_share=125.0, acquired_on=date(2023, 1, 3), lot_id=11),)
    # (gains of 10,000 realized this year: the loss is usable now)
    state = HoldingsState(as_of=AS_OF, cash=2000.0, quantities=BALANCED, lots=lots, realized_this_year=10_000.0)
    view = market()
    view = MarketView(
        as_of=view.as_of, returns=view.returns, prices=view.prices, asset_classes=view.asset_classes,
        correlated={"AAA": ("BBB",)},
    )
    # when a calendar review runs with tax optimization on (the tracking risk of the swap not charged)
    decision = cycle_decide(
        state=state, market=view,
        config=config(tax=TaxConfig(enabled=True, loss_threshold=0.05, tracking_penalty=0.0), force=True),
    )
    # then AAA is sold from lot 11 and BBB bought with the proceeds
    sell = [t for t in decision.trades if t.side == "sell"][0]
    assert (sell.symbol, sell.lot_ids, sell.harvest) == ("AAA", (11,), True)
    assert sell.quantity == pytest.approx(245.0)
    assert [t.symbol for t in decision.trades if t.side == "buy"] == ["BBB"]
    assert decision.harvested_loss == pytest.approx(245 * 25.0)


def test_a_harvest_that_saves_less_than_its_costs_and_tracking_risk_is_not_made():
    # given the same 6,125 long-term loss (worth 918.75 at 15 %) and the default tracking penalty
    from rebalancer.autopilot.types import Lot, TaxConfig

    lots = (Lot(symbol="AAA", quantity=245.0, cost_per_share=125.0, acquired_on=date(2023, 1, 3), lot_id=11),)
    state = HoldingsState(as_of=AS_OF, cash=2000.0, quantities=BALANCED, lots=lots, realized_this_year=10_000.0)
    view = market()
    view = MarketView(as_of=view.as_of, returns=view.returns, prices=view.prices, asset_classes=view.asset_classes,
                      correlated={"AAA": ("BBB",)})
    # when
    decision = cycle_decide(state=state, market=view, config=config(tax=TaxConfig(enabled=True), force=True))
    # then one standard deviation of AAA - BBB over 30 days costs more than the loss saves
    assert not any(t.harvest for t in decision.trades) and decision.harvested_loss == 0
    (why,) = [n for n in decision.notes if "does not pay" in n]
    assert "saves about 918.75 in tax against 98.00 of trading costs" in why


def test_an_ordinary_loss_sale_is_bought_back_and_the_ledger_books_the_wash_sale():
    # given AAA sold at a loss by a rebalance (not a harvest) 10 days ago
    from datetime import timedelta

    from rebalancer.autopilot.types import TaxConfig

    state = HoldingsState(
        as_of=AS_OF, cash=2000.0 + 24500.0, quantities={"BBB": 490.0, "CCC": 245.0, "DDD": 245.0},
        recent_loss_sales=(("AAA", AS_OF - timedelta(days=10)),),
    )
    view = market()
    # when the targets want AAA back
    decision = cycle_decide(state=state, market=view, config=config(tax=TaxConfig(enabled=True), force=True))
    # then it is bought (a wash sale defers that loss; holding something else for a month costs more)
    assert "AAA" in {t.symbol for t in decision.trades if t.side == "buy"}
    assert decision.wash_sale_blocks == ()


def test_wash_sale_blocks_buying_back_a_symbol_sold_at_a_loss():
    # given AAA harvested 10 days ago and now absent from the portfolio
    from datetime import timedelta

    from rebalancer.autopilot.types import TaxConfig

    state = HoldingsState(
        as_of=AS_OF, cash=2000.0 + 24500.0, quantities={"BBB": 490.0, "CCC": 245.0, "DDD": 245.0},
        recent_loss_sales=(("AAA", AS_OF - timedelta(days=10)),),
        recent_harvests=(("AAA", AS_OF - timedelta(days=10)),),
    )
    view = market()
    view = MarketView(
        as_of=view.as_of, returns=view.returns, prices=view.prices, asset_classes=view.asset_classes,
        correlated={"AAA": ("BBB",)},
    )
    # when the targets want AAA back
    decision = cycle_decide(
        state=state, market=view, config=config(tax=TaxConfig(enabled=True), force=True),
    )
    # then no AAA is bought and the reason is recorded
    assert "AAA" not in {t.symbol for t in decision.trades if t.side == "buy"}
    assert any("wash-sale" in n for n in decision.notes)
    assert decision.wash_sale_blocks == ("AAA",)


def test_a_portfolio_already_defensive_holds_while_the_breach_lasts():
    # given a drawdown breach (30 % below peak) and the portfolio moved to the defensive
    # allocation the day before
    history = pd.Series([100_000.0, 140_000.0, 98_000.0])
    first = cycle_decide(state=holdings(BALANCED, history=history), market=market(), config=config())
    assert first.action == "rebalance" and first.override is not None
    value = 98_000.0
    defensive = {s: w * value / 100.0 for s, w in first.target_weights.items()}
    cash = value * (1 - sum(first.target_weights.values()))
    # when the breach persists the next day
    second = cycle_decide(state=holdings(defensive, cash=cash, history=history), market=market(), config=config())
    # then it holds: the override is recorded, nothing is traded
    assert "risk_limit" in [t.kind for t in second.triggers]
    assert second.override is not None
    assert second.action == "hold"
    assert second.trades == ()
    assert second.notes == ("the portfolio already holds the defensive allocation",)
    assert "already holds the defensive allocation" in second.summary
    assert "nothing was traded" in second.summary


def test_a_loss_no_gain_of_the_year_can_use_is_not_harvested():
    # given no gain realized this year and a 2,000 carryover: only 1,000 of loss is usable (3,000 deduction)
    from rebalancer.autopilot.types import Lot, TaxConfig

    lots = (Lot(symbol="AAA", quantity=245.0, cost_per_share=125.0, acquired_on=date(2023, 1, 3), lot_id=11),)
    state = HoldingsState(as_of=AS_OF, cash=2000.0, quantities=BALANCED, lots=lots, loss_carryover=2000.0)
    view = market()
    view = MarketView(as_of=view.as_of, returns=view.returns, prices=view.prices, asset_classes=view.asset_classes,
                      correlated={"AAA": ("BBB",)})
    decision = cycle_decide(
        state=state, market=view, config=config(tax=TaxConfig(enabled=True, tracking_penalty=0.0), force=True)
    )
    assert not any(t.harvest for t in decision.trades)
    assert any("leave no room to use a loss on AAA" in n for n in decision.notes)
