"""The vectorized fast path against a plain day-by-day loop of the paper broker's arithmetic.

Pinned before ``fixed_weight_backtest`` was split into named steps (issue 22): per-row
weights that leave cash, costs, the minimum trade value (on the first day too), and the
refusals of a bad mask or bad weights.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from rebalancer.backtests.engine.fast import fixed_weight_backtest
from rebalancer.backtests.engine.schedule import period_starts


def day_by_day(prices, weights, rebalance, *, initial_cash, commission, slippage, min_trade):
    """Every day visited: on a rebalance day trade each asset to w * V / p, one asset at a time."""
    t_days, n = prices.shape
    q, cash, k = [0.0] * n, initial_cash, -1
    out = {"equity": [], "cash": [], "commission": [], "slippage": [], "notional": [], "count": []}
    for t in range(t_days):
        fee_t = slip_t = notional_t = 0.0
        count_t = 0
        if rebalance[t]:
            k += 1
            value = cash + sum(q[i] * prices[t, i] for i in range(n))
            for i in range(n):
                p = prices[t, i]
                dq = weights[k][i] * value / p - q[i]
                if abs(dq) * p < min_trade:
                    continue
                fill = p * (1 + slippage) if dq > 0 else p * (1 - slippage)
                fee = abs(dq) * fill * commission
                cash -= dq * fill + fee
                q[i] += dq
                fee_t, slip_t, notional_t = fee_t + fee, slip_t + abs(dq) * p * slippage, notional_t + abs(dq) * p
                count_t += dq != 0
        out["equity"].append(cash + sum(q[i] * prices[t, i] for i in range(n)))
        for key, value in (("cash", cash), ("commission", fee_t), ("slippage", slip_t), ("notional", notional_t),
                           ("count", count_t)):
            out[key].append(value)
    return {key: np.asarray(v) for key, v in out.items()}, np.asarray(q)


@pytest.mark.parametrize("min_trade", [0.0, 20_000.0])
def test_the_fast_path_is_the_day_by_day_loop_with_per_row_weights_and_costs(prices_5y, min_trade):
    # given: monthly reviews, a different mix each month that leaves 3 % in cash, costs
    prices = prices_5y.to_numpy()
    mask = period_starts(prices_5y.index, "monthly")
    weights = np.random.default_rng(7).dirichlet(np.ones(prices.shape[1]), int(mask.sum())) * 0.97
    # when
    fast = fixed_weight_backtest(prices, weights, mask, initial_cash=1e6, commission_rate=0.001,
                                 slippage_rate=0.0005, min_trade_value=min_trade)
    slow, last_q = day_by_day(prices, weights, mask, initial_cash=1e6, commission=0.001, slippage=0.0005,
                              min_trade=min_trade)
    # then
    for got, key in ((fast.equity, "equity"), (fast.cash, "cash"), (fast.commission, "commission"),
                     (fast.slippage, "slippage"), (fast.traded_notional, "notional")):
        np.testing.assert_allclose(got, slow[key], rtol=1e-10, atol=1e-6, err_msg=key)
    np.testing.assert_array_equal(fast.trade_count, slow["count"])
    np.testing.assert_allclose(fast.quantities[-1], last_q, rtol=1e-10)
    assert fast.quantities.shape == prices.shape and fast.trade_count.dtype == np.int64
    skipped = int(mask.sum()) * prices.shape[1] - int(fast.trade_count.sum())
    assert (skipped > 0) == (min_trade > 0)  # the minimum trade value did skip trades


def test_a_minimum_above_every_trade_leaves_the_cash_uninvested():
    # given
    prices = np.array([[10.0, 20.0], [11.0, 19.0]])
    # when
    run = fixed_weight_backtest(prices, np.array([0.5, 0.5]), np.array([True, True]), initial_cash=100.0,
                                min_trade_value=60.0)
    # then
    np.testing.assert_array_equal(run.equity, [100.0, 100.0])
    np.testing.assert_array_equal(run.trade_count, [0, 0])


def test_an_empty_panel_gives_empty_series():
    run = fixed_weight_backtest(np.zeros((0, 3)), np.ones(3) / 3, np.zeros(0, dtype=bool), initial_cash=10.0)
    assert run.equity.shape == (0,) and run.quantities.shape == (0, 3)


@pytest.mark.parametrize(
    ("weights", "mask", "message"),
    [
        (np.ones(2) / 2, [False, True, True], "rebalance must be a (T,) mask whose first day is True"),
        (np.ones(2) / 2, [True, True], "rebalance must be a (T,) mask whose first day is True"),
        (np.ones((3, 2)) / 2, [True, False, True], "weights must be (N,) or (K, N) = (2, 2)"),
    ],
)
def test_a_bad_mask_or_bad_weights_are_refused_naming_the_shape(weights, mask, message):
    prices = np.array([[10.0, 20.0], [11.0, 19.0], [12.0, 18.0]])
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        fixed_weight_backtest(prices, weights, np.array(mask), initial_cash=100.0)
