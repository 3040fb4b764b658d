"""Market-data fixtures: small tidy frames and assets with bars."""

from __future__ import annotations

import pandas as pd
import pytest

from marketdata.models import Asset


def tidy(rows: list[tuple[str, str, float]], volume: int = 100) -> pd.DataFrame:
    """A tidy frame from (symbol, date, adj_close) rows; open/high/low/close = adj_close."""
    frame = pd.DataFrame(rows, columns=["symbol", "date", "adj_close"])
    frame["date"] = pd.to_datetime(frame["date"])
    for column in ("open", "high", "low", "close"):
        frame[column] = frame["adj_close"]
    frame["volume"] = volume
    return frame[["date", "symbol", "open", "high", "low", "close", "adj_close", "volume"]]


@pytest.fixture(name="tidy")
def tidy_fixture():
    """The ``tidy`` helper, as a fixture (test modules cannot import conftest)."""
    return tidy


@pytest.fixture
def assets(db):
    """Three assets: AAA and BBB equities, CCC a bond."""
    return {
        "AAA": Asset.objects.create(symbol="AAA", name="Aaa Corp", sector="technology"),
        "BBB": Asset.objects.create(symbol="BBB", name="Bbb Bank", sector="financials"),
        "CCC": Asset.objects.create(symbol="CCC", name="Treasury Ccc", asset_class="bond", sector="government"),
    }


@pytest.fixture
def priced(assets):
    """AAA on 4 days, BBB missing 2024-01-03, CCC without bars."""
    from marketdata.services import prices_upsert

    prices_upsert(
        frame=tidy(
            [
                ("AAA", "2024-01-02", 100.0),
                ("AAA", "2024-01-03", 110.0),
                ("AAA", "2024-01-04", 99.0),
                ("AAA", "2024-01-05", 99.0),
                ("BBB", "2024-01-02", 50.0),
                ("BBB", "2024-01-04", 55.0),
                ("BBB", "2024-01-05", 44.0),
            ]
        ),
        provider="test",
    )
    return assets
