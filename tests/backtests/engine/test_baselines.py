"""Baselines on the vectorized fast path: closed forms and agreement with the replay."""

from __future__ import annotations

import numpy as np

from rebalancer.autopilot.types import AutonomyConfig
from rebalancer.backtests.engine.baselines import baselines_run
from rebalancer.backtests.engine.fast import fixed_weight_backtest
from rebalancer.backtests.engine.replay import ReplaySpec, replay
from rebalancer.backtests.engine.schedule import period_starts


def test_buy_and_hold_is_the_average_price_ratio(prices_5y):
    # when
    runs = baselines_run(
        prices_5y, initial_cash=1e6, commission_rate=0.0, slippage_rate=0.0, asset_classes={}
    )
    # then each asset keeps 1/N of the cash times its own price ratio
    ratio = (prices_5y / prices_5y.iloc[0]).mean(axis=1).to_numpy()
    np.testing.assert_allclose(runs["buy_and_hold"].equity, 1e6 * ratio, rtol=1e-12)
    assert "sixty_forty" not in runs  # no bond in this universe


def test_sixty_forty_holds_sixty_percent_equity_after_each_rebalance(prices_5y):
    classes = {
        "AAPL": "equity",
        "GE": "equity",
        "WMT": "equity",
        "XOM": "bond",
        "JPM": "bond",
        "PFE": "equity",
    }
    run = baselines_run(
        prices_5y, initial_cash=1e6, commission_rate=0.0, slippage_rate=0.0, asset_classes=classes
    )["sixty_forty"]
    days = np.flatnonzero(period_starts(prices_5y.index, "monthly"))
    values = run.quantities[days] * prices_5y.to_numpy()[days]
    equity_share = values[:, [0, 1, 2, 5]].sum(axis=1) / run.equity[days]
    np.testing.assert_allclose(equity_share, 0.6, rtol=1e-12)


def test_costs_on_the_fast_path_are_what_the_fills_charge(prices_5y):
    n = prices_5y.shape[1]
    mask = period_starts(prices_5y.index, "monthly")
    free = fixed_weight_backtest(prices_5y.to_numpy(), np.full(n, 1 / n), mask, initial_cash=1e6)
    costed = fixed_weight_backtest(
        prices_5y.to_numpy(),
        np.full(n, 1 / n),
        mask,
        initial_cash=1e6,
        commission_rate=0.001,
        slippage_rate=0.001,
    )
    # the first day's value falls by exactly the day's charges
    charged = costed.commission[0] + costed.slippage[0]
    assert charged > 0
    np.testing.assert_allclose(costed.equity[0], 1e6 - charged, rtol=1e-13)
    assert costed.equity[-1] < free.equity[-1]


def test_fast_path_matches_the_pipeline_replay_for_equal_weight(quiet, prices_5y):
    # given the same frictionless equal-weight monthly configuration on both paths
    n = prices_5y.shape[1]
    fast = fixed_weight_backtest(
        prices_5y.to_numpy(),
        np.full(n, 1 / n),
        period_starts(prices_5y.index, "monthly"),
        initial_cash=1e6,
    )
    spec = ReplaySpec(
        initial_cash=quiet["initial"],
        autonomy=AutonomyConfig(
            mode="autopilot",
            strategy="equal_weight",
            universe=tuple(prices_5y.columns),
            rebalance_threshold=1.0,
            calendar="monthly",
            limits=quiet["limits"],
            overlay=quiet["overlay"],
            band=quiet["band"],
            trade=quiet["frictionless"],
        ),
    )
    # when / then
    np.testing.assert_allclose(replay(prices_5y, spec).equity, fast.equity, rtol=1e-9, atol=0)
