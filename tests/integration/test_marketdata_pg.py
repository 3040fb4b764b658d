"""Market data on the real PostgreSQL (and Redis cache): import, upsert, panel reads."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.db import connection

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
STOCKS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "stock_prices.csv"


def test_stock_file_imports_all_or_nothing_and_idempotently(tmp_path):
    from common.errors import ValidationFailed
    from marketdata.models import Asset, PriceBar
    from marketdata.services import prices_import_csv

    # given
    assert connection.vendor == "postgresql"

    # when
    first = prices_import_csv(path=STOCKS, fmt="wide")
    second = prices_import_csv(path=STOCKS, fmt="wide")
    bad = tmp_path / "bad.csv"
    bad.write_text("date,AAPL,NEWCO\n2018-04-12,175.0,10\n2018-04-13,176.0,-1\n")
    with pytest.raises(ValidationFailed):
        prices_import_csv(path=bad, fmt="wide")

    # then
    assert (first.inserted, second.inserted, second.updated, second.unchanged) == (106_931, 0, 0, 106_931)
    assert PriceBar.objects.count() == 106_931
    assert not Asset.objects.filter(symbol="NEWCO").exists()
    assert not PriceBar.objects.filter(date=dt.date(2018, 4, 12)).exists()
    assert PriceBar.objects.get(asset__symbol="GOOG", date=dt.date(2018, 4, 11)).adj_close == Decimal("1019.969971")


def test_panel_from_postgresql_matches_the_file():
    from marketdata.selectors import price_panel_get, return_panel_get
    from marketdata.services import prices_import_csv

    # given
    prices_import_csv(path=STOCKS, fmt="wide")
    raw = pd.read_csv(STOCKS, parse_dates=["date"], index_col="date")
    symbols = ["MA", "AAPL", "XOM"]

    # when
    panel = price_panel_get(symbols=symbols, start=dt.date(2010, 1, 1), end=dt.date(2018, 4, 11))
    outer = price_panel_get(symbols=["FB", "AAPL"], how="outer")
    returns = return_panel_get(symbols=symbols, start=dt.date(2010, 1, 1), kind="log")

    # then: same numbers as the file, columns in the asked order
    expected = raw.loc["2010-01-01":"2018-04-11", symbols].dropna()
    np.testing.assert_array_equal(panel.to_numpy(), expected.to_numpy())
    assert list(panel.columns) == symbols
    assert panel.index.equals(pd.DatetimeIndex(expected.index, name="date"))
    assert outer["FB"].isna().sum() == raw["FB"].isna().sum()
    np.testing.assert_allclose(returns.to_numpy(), np.log(expected).diff().iloc[1:].to_numpy(), rtol=1e-9, atol=1e-15)


def test_postgresql_reader_agrees_with_the_generic_one():
    from marketdata.models import Asset
    from marketdata.selectors import _read_rows_generic, _read_rows_postgresql
    from marketdata.services import demo_market_load

    # given
    demo_market_load(seed=3, years=1, end=dt.date(2024, 6, 28))
    ids = list(Asset.objects.values_list("id", flat=True))

    # when
    fast = _read_rows_postgresql(ids, dt.date(2024, 1, 1), None, "close")
    generic = _read_rows_generic(ids, dt.date(2024, 1, 1), None, "close")

    # then
    order_fast, order_generic = np.lexsort(fast[:2]), np.lexsort(generic[:2])
    for a, b in zip(fast, generic, strict=True):
        np.testing.assert_array_equal(a[order_fast], b[order_generic])


def test_cached_panel_is_invalidated_by_a_committed_upsert():
    from marketdata.models import Asset
    from marketdata.selectors import price_panel_get
    from marketdata.services import prices_upsert

    # given
    Asset.objects.create(symbol="PGX")
    frame = pd.DataFrame(
        {"date": pd.to_datetime(["2024-01-02"]), "symbol": ["PGX"], "open": [1.0], "high": [1.0], "low": [1.0],
         "close": [1.0], "adj_close": [1.0], "volume": [0]}
    )
    prices_upsert(frame=frame, provider="test")
    assert len(price_panel_get(symbols=["PGX"])) == 1

    # when
    prices_upsert(frame=frame.assign(date=pd.to_datetime(["2024-01-03"])), provider="test")

    # then
    assert len(price_panel_get(symbols=["PGX"])) == 2


def test_upsert_updates_revised_bars_on_postgresql():
    from marketdata.models import Asset, PriceBar
    from marketdata.services import prices_upsert

    # given
    Asset.objects.create(symbol="REV")
    frame = pd.DataFrame(
        {"date": pd.to_datetime(["2024-01-02", "2024-01-03"]), "symbol": ["REV", "REV"], "open": [1.0, 2.0],
         "high": [1.5, 2.5], "low": [0.5, 1.5], "close": [1.0, 2.0], "adj_close": [0.9, 1.9], "volume": [10, 20]}
    )
    prices_upsert(frame=frame, provider="test")

    # when
    result = prices_upsert(frame=frame.assign(adj_close=[0.9, 1.8765431]), provider="test")

    # then
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    assert list(PriceBar.objects.filter(asset__symbol="REV").values_list("adj_close", "volume")) == [
        (Decimal("0.900000"), 10), (Decimal("1.876543"), 20)
    ]
