import sys
from pathlib import Path

# simulate.py (the tests' own regime-switching market) sits beside the tests
sys.path.insert(0, str(Path(__file__).parent))

import datetime as dt

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def regime_market():
    """1,300 days of a regime-switching index and its true regimes (seeded)."""
    from simulate import simulate_regime_market

    return simulate_regime_market(n_days=1300, seed=6)


@pytest.fixture
def spy_prices(db, regime_market):
    """The simulated index stored as the SPY asset's daily bars (the default market's benchmark)."""
    from marketdata.models import Asset
    from marketdata.services import prices_upsert

    prices, _ = regime_market
    Asset.objects.create(symbol="SPY", name="S&P 500 ETF", asset_class="equity")
    frame = pd.DataFrame({"date": prices.index, "symbol": "SPY", "adj_close": prices.round(4).to_numpy()})
    for column in ("open", "high", "low", "close"):
        frame[column] = frame["adj_close"]
    frame["volume"] = 1000
    prices_upsert(frame=frame[["date", "symbol", "open", "high", "low", "close", "adj_close", "volume"]], provider="test")
    return prices.round(4)


@pytest.fixture
def fast_fit():
    from mlagents.regime.engine.hmm import FitConfig

    return FitConfig(n_restarts=1, n_iter=25)


def day(value: str) -> dt.date:
    return dt.date.fromisoformat(value)
