"""Fixtures of the backtest tests: real prices (rounded as stored) and quiet settings."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from portfolios.policy import policy_limits_unconstrained
from rebalancer.autopilot.strategies import strategies_register
from rebalancer.autopilot.types import BandSettings, OverlaySettings, TradeConfig


def _shared_data() -> Path:
    """../shared/data beside the checkout (a worktree in /work/wt/<name> finds /work/shared)."""
    root = Path(__file__).resolve().parents[2]
    for base in (root.parent, root.parent.parent):
        if (base / "shared" / "data").is_dir():
            return base / "shared" / "data"
    return root.parent / "shared" / "data"


DATA = _shared_data() / "stock_prices.csv"
NO_LIMITS = policy_limits_unconstrained()  # also used by the tests through the ``quiet`` fixture
NO_OVERLAY = OverlaySettings(volatility_targeting=False, drawdown_rule=False)
FULL_REVIEWS = BandSettings(relative=100.0, on_review="full", cost_gate=False)
"""Drift off (threshold 1 and no relative band): a review rebalances every asset to target."""
# Zero costs, nothing kept in cash; a one-cent minimum so that rounding leftovers of a
# few hundredths of a cent do not fire the cash trigger every day.
FRICTIONLESS = TradeConfig(
    min_trade_value=0.01, commission_rate=0.0, slippage_bps=0.0, cash_buffer=0.0
)
COSTED = TradeConfig(
    min_trade_value=0.01, commission_rate=0.001, slippage_bps=10.0, cash_buffer=0.0
)
INITIAL = Decimal("1000000")


@pytest.fixture(autouse=True)
def _strategies():
    strategies_register()


def stock_prices(symbols: list[str], start: str, end: str) -> pd.DataFrame:
    """Adjusted closes from the shared file, rounded to the 6 places the database stores."""
    frame = pd.read_csv(DATA, parse_dates=["date"], index_col="date")
    return frame.loc[start:end, symbols].dropna().round(6)


@pytest.fixture(scope="session")
def prices_5y() -> pd.DataFrame:
    return stock_prices(["AAPL", "GE", "WMT", "XOM", "JPM", "PFE"], "2007-01-01", "2011-12-31")


@pytest.fixture
def quiet() -> dict:
    """Trigger and cost settings with only the calendar (and initial cash) trigger."""
    return {"limits": NO_LIMITS, "overlay": NO_OVERLAY, "band": FULL_REVIEWS, "frictionless": FRICTIONLESS,
            "costed": COSTED, "initial": INITIAL}


SPY = _shared_data() / "spy_prices.csv"
STORED = ["AAPL", "XOM", "JPM", "PFE"]


@pytest.fixture
def stored_prices(db):
    """Four stocks and SPY for 2015-2016 in the database (as the CSV import would store them)."""
    from marketdata.services import asset_upsert, prices_upsert

    wide = pd.read_csv(DATA, parse_dates=["date"], index_col="date")[STORED]
    wide = wide.join(pd.read_csv(SPY, parse_dates=["date"], index_col="date"), how="inner")
    wide = wide.loc["2015-01-01":"2016-12-31"]
    for symbol in wide.columns:
        asset_upsert(symbol=symbol, asset_class="equity")
    tidy = wide.stack().rename("adj_close").reset_index()
    tidy.columns = ["date", "symbol", "adj_close"]
    for column in ("open", "high", "low", "close"):
        tidy[column] = tidy["adj_close"]
    tidy["volume"] = 1_000_000
    prices_upsert(frame=tidy, provider="csv")
    return wide.round(6)
