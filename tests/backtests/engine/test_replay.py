"""The replay of the autopilot core: closed forms, a numpy reference, cost accounting."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from rebalancer.autopilot.types import AutonomyConfig, TaxConfig
from rebalancer.backtests.engine.ledger import LedgerInvariantError, PaperLedger
from rebalancer.backtests.engine.replay import ReplaySpec, replay
from rebalancer.backtests.engine.schedule import period_starts


def autonomy(quiet: dict, *, universe, trade="frictionless", **overrides) -> AutonomyConfig:
    base = dict(
        mode="autopilot",
        strategy="equal_weight",
        universe=tuple(universe),
        rebalance_threshold=1.0,  # drift off: calendar and cash triggers only
        calendar="monthly",
        limits=quiet["limits"],
        overlay=quiet["overlay"],
        band=quiet["band"],
        trade=quiet[trade],
    )
    base.update(overrides)
    return AutonomyConfig(**base)


def numpy_equal_weight_monthly(prices: pd.DataFrame, initial: float) -> np.ndarray:
    """Independent reference: 1/N of value at each month's first close, nothing else."""
    p = prices.to_numpy()
    n = p.shape[1]
    q = np.zeros(n)
    cash = initial
    out = np.empty(len(p))
    months = prices.index.year * 12 + prices.index.month
    for t in range(len(p)):
        if t == 0 or months[t] != months[t - 1]:
            value = cash + q @ p[t]
            q = value / n / p[t]
            cash = 0.0
        out[t] = cash + q @ p[t]
    return out


def test_buy_and_hold_equals_the_price_ratio(quiet, prices_5y):
    # given one asset bought on the first day and never traded again (no calendar)
    prices = prices_5y[["XOM"]]
    spec = ReplaySpec(
        initial_cash=quiet["initial"], autonomy=autonomy(quiet, universe=["XOM"], calendar="none")
    )
    # when
    result = replay(prices, spec)
    # then the value grew exactly as the price did (to the 1e-8-share quantity step)
    ratio = prices["XOM"].iloc[-1] / prices["XOM"].iloc[0]
    np.testing.assert_allclose(result.equity[-1] / float(quiet["initial"]), ratio, rtol=1e-11)
    np.testing.assert_allclose(
        result.equity / result.equity[0], prices["XOM"] / prices["XOM"].iloc[0], rtol=1e-11
    )
    assert len(result.fills) == 1
    assert result.fills[0].side == "buy"


def test_equal_weight_monthly_matches_an_independent_numpy_reference(quiet, prices_5y):
    # given equal weights rebalanced on the first trading day of each month, zero costs
    spec = ReplaySpec(
        initial_cash=quiet["initial"], autonomy=autonomy(quiet, universe=prices_5y.columns)
    )
    # when
    result = replay(prices_5y, spec)
    # then
    reference = numpy_equal_weight_monthly(prices_5y, float(quiet["initial"]))
    np.testing.assert_allclose(result.equity, reference, rtol=1e-9, atol=0)
    months = len(set(zip(prices_5y.index.year, prices_5y.index.month, strict=True)))
    assert result.rebalances == months
    assert result.commission == 0


def test_costs_lower_the_final_value_by_exactly_what_was_charged(quiet, prices_5y):
    # given a run with commission (10 bps) and slippage (10 bps)
    spec = ReplaySpec(
        initial_cash=quiet["initial"],
        autonomy=autonomy(quiet, universe=prices_5y.columns, trade="costed"),
    )
    # when
    result = replay(prices_5y, spec)
    # then its final value is the frictionless value of the same trades minus the costs,
    # to the last Decimal digit: the frictionless run recomputed here from the fills at
    # their reference (close) prices.
    last = {
        s: Decimal(repr(float(p))).quantize(Decimal("0.000001"))
        for s, p in prices_5y.iloc[-1].items()
    }
    cash = quiet["initial"]
    held: dict[str, Decimal] = {}
    for f in result.fills:
        sign = 1 if f.side == "buy" else -1
        cash -= sign * f.quantity * f.price
        held[f.symbol] = held.get(f.symbol, Decimal(0)) + sign * f.quantity
    frictionless = cash + sum(q * last[s] for s, q in held.items())
    charged = result.commission + result.slippage
    assert result.commission > Decimal("500")
    assert result.slippage > Decimal("500")
    assert result.final_value == frictionless - charged
    # and the costs cost money against the zero-cost run of the same configuration
    free = replay(prices_5y, replace(spec, autonomy=autonomy(quiet, universe=prices_5y.columns)))
    assert free.final_value > result.final_value


def test_the_harness_checks_1000_trades_day_by_day(quiet, prices_5y):
    # given costs, tax-loss harvesting and a drift trigger: the core runs every day
    config = autonomy(
        quiet,
        universe=prices_5y.columns,
        trade="costed",
        rebalance_threshold=0.01,
        tax=TaxConfig(enabled=True, loss_threshold=0.05),
    )
    spec = ReplaySpec(initial_cash=quiet["initial"], autonomy=config, check_invariants=True)
    # when the ledger invariants and cost identities are checked after every day
    result = replay(prices_5y, spec, start=prices_5y.index[0].date())
    # then
    assert len(result.fills) >= 1000
    assert {f.side for f in result.fills} == {"buy", "sell"}
    assert result.ledger.cash >= 0


def test_the_harness_catches_a_cash_leak():
    # given a ledger whose cash was changed outside of a fill
    ledger = PaperLedger(
        initial_cash=Decimal("1000"),
        costs=__import__("portfolios.trading.costs", fromlist=["CostModel"]).CostModel(),
    )
    ledger.execute(
        as_of=pd.Timestamp("2020-01-02").date(),
        symbol="A",
        side="buy",
        quantity=Decimal("2"),
        price=Decimal("100"),
    )
    ledger.cash -= Decimal("0.0001")
    # when / then
    with pytest.raises(LedgerInvariantError, match="cash equals initial plus fills"):
        ledger.check_invariants(pd.Timestamp("2020-01-02").date())


def test_period_starts_follow_the_first_trading_day_of_each_month():
    index = pd.DatetimeIndex(["2020-01-30", "2020-01-31", "2020-02-03", "2020-02-04", "2020-03-02"])
    assert period_starts(index, "monthly").tolist() == [True, False, True, False, True]
    assert period_starts(index, "never").tolist() == [True, False, False, False, False]
