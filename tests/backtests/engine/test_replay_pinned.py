"""The replay's output pinned on real data before its speed work (issue 21).

Each case replays a fixed slice of ``stock_prices.csv`` and compares the equity curve,
cash, weights, exposure, fills and decision records with the snapshot that the replay
of commit cb33b47 (before the quiet-day screen and the shell's caches) wrote to
``pins/<case>.json.gz``. Fills and decisions must match exactly; the daily float series to
1e-12 relative (the valuation of a close may be computed in floats instead of
``Decimal``; the money itself stays ``Decimal``). Regenerate (only on a deliberate
behaviour change) with ``python tests/backtests/engine/test_replay_pinned.py``.
"""

from __future__ import annotations

import gzip
import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PINS = Path(__file__).resolve().parent / "pins"
START = date(2008, 1, 2)
SYMBOLS = ["AAPL", "GE", "WMT", "XOM", "JPM", "PFE"]


def _autonomy(case: str):
    from portfolios.policy import policy_limits, policy_limits_unconstrained
    from rebalancer.autopilot.types import (
        AutonomyConfig,
        BandSettings,
        OverlaySettings,
        TaxConfig,
        TradeConfig,
    )

    quiet = dict(
        limits=policy_limits_unconstrained(),
        overlay=OverlaySettings(volatility_targeting=False, drawdown_rule=False),
        band=BandSettings(relative=100.0, on_review="full", cost_gate=False),
        rebalance_threshold=1.0,
    )
    costed = TradeConfig(min_trade_value=0.01, commission_rate=0.001, slippage_bps=10.0, cash_buffer=0.0)
    cases = {
        # inert overlay, calendar reviews only: most days are provably quiet
        "quiet_equal_weight_costed": dict(strategy="equal_weight", trade=costed, **quiet),
        # a cash buffer and default costs: the cash trigger fires between reviews
        "quiet_min_volatility_buffer": dict(
            strategy="optimizer:min_volatility", trade=TradeConfig(cash_buffer=0.02),
            **{**quiet, "limits": policy_limits_unconstrained(cash_buffer=0.02)},
        ),
        # the tier's limits, the overlay, bands, the cost gate and tax-loss harvesting
        "balanced_equal_weight_tax": dict(
            strategy="equal_weight", limits=policy_limits(tier="balanced", cash_buffer=0.02),
            trade=TradeConfig(cash_buffer=0.02), tax=TaxConfig(enabled=True, loss_threshold=0.05),
        ),
    }
    return AutonomyConfig(mode="autopilot", universe=tuple(SYMBOLS), calendar="monthly", **cases[case])


CASES = ("quiet_equal_weight_costed", "quiet_min_volatility_buffer", "balanced_equal_weight_tax")


def _prices() -> pd.DataFrame:
    from tests.backtests.conftest import stock_prices

    return stock_prices(SYMBOLS, "2007-01-01", "2011-12-31")


def _run(case: str, prices: pd.DataFrame):
    from rebalancer.backtests.engine.replay import ReplaySpec, replay

    spec = ReplaySpec(
        initial_cash=Decimal("1000000"), autonomy=_autonomy(case),
        asset_classes={s: "equity" for s in SYMBOLS},
    )
    return replay(prices, spec, start=START)


def _snapshot(result) -> dict:
    return {
        "dates": [str(d.date()) for d in result.dates],
        "equity": [float(x) for x in result.equity],
        "cash": [float(x) for x in result.cash],
        "weights": result.weights.to_numpy().tolist(),
        "exposure": [float(x) for x in result.exposure],
        "traded_notional": [float(x) for x in result.traded_notional],
        "final_value": str(result.final_value),
        "commission": str(result.commission),
        "slippage": str(result.slippage),
        "fills": [
            [str(f.as_of), f.symbol, f.side, str(f.quantity), str(f.price), str(f.fill_price), str(f.commission),
             str(f.slippage), str(f.realized_gain), f.harvest, f.reason]
            for f in result.fills
        ],
        "decisions": [
            [str(d.as_of), d.action, d.strategy, list(d.triggers), d.trades, d.override, list(d.overlay_events)]
            for d in result.decisions
        ],
        "wash_sale_blocks": [[str(d), s, why] for d, s, why in result.ledger.wash_sale_blocks],
    }


@pytest.fixture(scope="module")
def pinned_prices() -> pd.DataFrame:
    return _prices()


@pytest.mark.parametrize("case", CASES)
def test_the_replay_reproduces_its_pinned_output(case, pinned_prices):
    # given the snapshot written before the speed work
    expected = json.loads(gzip.decompress((PINS / f"{case}.json.gz").read_bytes()))
    # when
    got = _snapshot(_run(case, pinned_prices))
    # then money, fills and decisions are identical, daily floats within 1e-12
    for key in ("dates", "final_value", "commission", "slippage", "fills", "decisions", "wash_sale_blocks"):
        assert got[key] == expected[key], key
    for key in ("equity", "cash", "weights", "exposure", "traded_notional"):
        np.testing.assert_allclose(np.asarray(got[key]), np.asarray(expected[key]), rtol=1e-12, atol=1e-9,
                                   err_msg=key)
    assert len(expected["fills"]) > 50  # a snapshot that trades (a pin of nothing would pass anything)


if __name__ == "__main__":  # regenerate the pins
    import os

    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rebalancer.settings.test")
    import django

    django.setup()
    from rebalancer.autopilot.strategies import strategies_register

    strategies_register()
    PINS.mkdir(exist_ok=True)
    frame = _prices()
    for name in CASES:
        snap = _snapshot(_run(name, frame))
        (PINS / f"{name}.json.gz").write_bytes(gzip.compress(json.dumps(snap, separators=(",", ":")).encode(), mtime=0))
        print(name, len(snap["fills"]), "fills", len(snap["decisions"]), "decisions", snap["final_value"])
