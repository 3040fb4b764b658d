"""The simulator's seeded output, pinned bit for bit (DB-free).

Many tests, the docs' figures and the demo read the simulated market, so a change of the
code that draws it must not move a single bit: these digests are of the full arrays (closes,
every OHLCV column, the regimes) of a few configs, taken before ``simulate_market`` was split
into named steps (issue 22).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import pandas as pd
import pytest

from marketdata.providers.synthetic import (
    DEFAULT_UNIVERSE,
    SyntheticMarket,
    SyntheticMarketConfig,
    simulate_market,
)


def market_digest(market: SyntheticMarket) -> str:
    """sha256 of the dates, the closes' bits, every OHLCV column's bits and the regimes."""
    digest = hashlib.sha256()
    digest.update(market.prices.index.to_numpy().tobytes())
    digest.update(",".join(market.prices.columns).encode())
    digest.update(market.prices.to_numpy().tobytes())
    for column in market.ohlcv.columns:
        values = market.ohlcv[column].to_numpy()
        digest.update(values.tobytes() if values.dtype != object else "|".join(map(str, values)).encode())
    digest.update("|".join(market.regimes).encode())
    return digest.hexdigest()


FOUR_ASSETS = (DEFAULT_UNIVERSE[0], DEFAULT_UNIVERSE[14], DEFAULT_UNIVERSE[18], DEFAULT_UNIVERSE[23])

PINNED = {
    "default-2023": (
        SyntheticMarketConfig(start=dt.date(2023, 1, 2), end=dt.date(2023, 12, 29)),
        "f2662bbd42c6a53bc8b369ea81ad9c6542181503c7c3ebf60387728652cd97df",
    ),
    "seed-3-fat-tails-from-bear": (
        SyntheticMarketConfig(
            seed=3, start=dt.date(2019, 6, 3), end=dt.date(2021, 3, 31), df=3.5, initial_regime="bear"
        ),
        "e6b7717d73d94ede41bbb0f5a8b6939ee6fa0212c785df869e113df0fc500dac",
    ),
    "seed-123-four-assets-one-day": (
        SyntheticMarketConfig(seed=123, start=dt.date(2024, 2, 5), end=dt.date(2024, 2, 5), universe=FOUR_ASSETS),
        "bc174da7500f4ac5b82dc6cb74222e7bd9c3e5926cc3fcd70cd9d3ad1460f993",
    ),
    "seed-99-four-assets-sideways": (
        SyntheticMarketConfig(
            seed=99, start=dt.date(2000, 1, 3), end=dt.date(2004, 12, 31), universe=FOUR_ASSETS,
            initial_regime="sideways",
        ),
        "59319e89abcb621be61fbdf1b085f45b26dd510df2873c7a32502fdde35d3141",
    ),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_seeded_markets_are_bit_identical_to_the_pinned_digests(name):
    # given
    config, expected = PINNED[name]
    # when
    market = simulate_market(config)
    # then
    assert market_digest(market) == expected


def test_the_first_days_of_the_default_market_are_the_pinned_numbers():
    # given
    config = SyntheticMarketConfig(start=dt.date(2023, 1, 2), end=dt.date(2023, 1, 4))
    # when
    market = simulate_market(config)
    # then: the first day is the starting price, later ones the pinned draws (6 decimals)
    assert market.prices["ORBT"].tolist() == [120.0, 117.382446, 116.881138]
    assert market.prices["TSY10"].tolist() == [100.0, 99.953771, 100.398266]
    assert market.ohlcv.iloc[0].to_dict() == {
        "date": pd.Timestamp("2023-01-02"), "symbol": "AGRI", "open": 24.981791, "high": 25.062253, "low": 24.929929,
        "close": 25.0, "adj_close": 25.0, "volume": 1214409,
    }
    assert market.regimes.tolist() == ["bull", "bull", "bull"]
    assert dataclasses.asdict(market.config) == dataclasses.asdict(config)
