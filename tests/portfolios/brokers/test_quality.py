"""Execution-quality arithmetic (no database): shortfall by hand, totals, the slippage fit."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from portfolios.trading.quality import (
    ExecutionRecord,
    order_quality,
    quality_total,
    slippage_bps_fit,
)

D = Decimal
T0 = datetime(2024, 5, 15, 13, 30, tzinfo=UTC)


def _buy():
    # buy 10 at a decision price of 100; 6 filled at 100.30 for 1.00 commission; the close was 101 at the end
    return ExecutionRecord(side="buy", quantity=D("10"), filled_quantity=D("6"), decision_price=D("100"),
                           avg_fill_price=D("100.30"), commission=D("1.00"), model_slippage_bps=D("10"),
                           submitted_at=T0, last_fill_at=T0.replace(minute=42), completion_price=D("101"))


def test_the_shortfall_of_one_order_by_hand():
    q = order_quality(_buy())
    # execution (100.30 - 100) x 6 = 1.80; opportunity (101 - 100) x 4 = 4.00; + commission 1.00 = 6.80
    assert (q.execution_cost, q.opportunity_cost, q.commission, q.shortfall) == (D("1.80"), D("4.00"), D("1.00"),
                                                                               D("6.80"))
    assert q.paper_notional == D("1000")
    assert q.shortfall_bps == 68.0  # 6.80 / 1,000
    assert q.slippage_bps == 30.0  # 1.80 / (6 x 100)
    assert (q.model_slippage_bps, q.slippage_vs_model_bps) == (10.0, 20.0)
    assert (q.fill_rate, q.time_to_fill_s, q.opportunity_priced) == (0.6, 720.0, True)


def test_a_sell_below_the_decision_price_is_a_cost_and_totals_add_up():
    sell = ExecutionRecord(side="sell", quantity=D("5"), filled_quantity=D("5"), decision_price=D("50"),
                           avg_fill_price=D("49.90"), commission=D("0"), model_slippage_bps=D("10"))
    s = order_quality(sell)
    assert (s.execution_cost, s.shortfall_bps, s.fill_rate) == (D("0.50"), 20.0, 1.0)  # -(49.90 - 50) x 5
    total = quality_total([_buy(), sell])
    assert total.shortfall == D("7.30")
    assert total.shortfall_bps == float(D("7.30") / D("1250") * 10000)
    assert total.fill_rate == float(D("850") / D("1250"))


def test_an_unfilled_part_without_a_completion_price_is_flagged():
    record = ExecutionRecord(side="buy", quantity=D("2"), filled_quantity=D("0"), decision_price=D("10"),
                             avg_fill_price=None, commission=D("0"), model_slippage_bps=D("5"))
    q = order_quality(record)
    assert (q.shortfall, q.opportunity_priced, q.slippage_bps, q.fill_rate) == (D("0"), False, None, 0.0)


def test_the_slippage_fit_is_least_squares_through_the_origin():
    rng = np.random.default_rng(3)
    records, notionals, costs = [], [], []
    for _ in range(40):
        price = D(str(round(rng.uniform(20, 200), 2)))
        qty = D(str(int(rng.integers(1, 50))))
        bps = D(str(round(rng.normal(7, 3), 3)))
        fill = (price * (1 + bps / 10000)).quantize(D("0.000001"))
        records.append(ExecutionRecord("buy", qty, qty, price, fill, D("0"), D("5")))
        notionals.append(float(price * qty))
        costs.append(float((fill - price) * qty))
    fit = slippage_bps_fit(records)
    expected = np.linalg.lstsq(np.array(notionals)[:, None], np.array(costs), rcond=None)[0][0] * 1e4
    np.testing.assert_allclose(fit.raw_bps, expected, rtol=1e-12)
    assert fit.orders == 40 and fit.slippage_bps == max(fit.raw_bps, 0)


def test_fills_better_than_the_decision_price_clamp_the_fit_at_zero():
    record = ExecutionRecord("buy", D("10"), D("10"), D("100"), D("99"), D("0"), D("5"))
    fit = slippage_bps_fit([record])
    assert (fit.raw_bps, fit.slippage_bps) == (-100.0, 0.0)
    assert slippage_bps_fit([]) is None
