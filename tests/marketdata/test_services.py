"""Upserts, all-or-nothing imports, idempotent pulls and the demo market."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from common.errors import NotFound, ValidationFailed
from marketdata.models import Asset, DataPull, PriceBar, PriceDataRevision
from marketdata.providers.base import ProviderError
from marketdata.providers.synthetic import DEFAULT_UNIVERSE, SyntheticProvider
from marketdata.services import (
    demo_market_load,
    prices_import_csv,
    prices_pull,
    prices_upsert,
)

pytestmark = pytest.mark.django_db
STOCKS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "stock_prices.csv"


def snapshot() -> tuple:
    return (
        sorted(Asset.objects.values_list("symbol", flat=True)),
        sorted(PriceBar.objects.values_list("asset__symbol", "date", "adj_close", "volume")),
        DataPull.objects.count(),
        PriceDataRevision.objects.get(pk=1).revision,
    )


def test_upsert_inserts_then_updates_only_what_changed(assets, tidy):
    # given
    frame = tidy([("AAA", "2024-01-02", 100.0), ("AAA", "2024-01-03", 101.25)])
    first = prices_upsert(frame=frame, provider="test")
    revision = PriceDataRevision.objects.get(pk=1).revision

    # when: the same frame again, then one price revised and one new day
    again = prices_upsert(frame=frame, provider="test")
    revised = prices_upsert(
        frame=tidy([("AAA", "2024-01-02", 100.0), ("AAA", "2024-01-03", 101.5), ("AAA", "2024-01-04", 102.0)]),
        provider="test",
    )

    # then
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert PriceDataRevision.objects.get(pk=1).revision == revision + 1  # only the write with changes bumps
    assert (revised.inserted, revised.updated, revised.unchanged) == (1, 1, 1)
    assert list(PriceBar.objects.filter(asset=assets["AAA"]).values_list("adj_close", flat=True)) == [
        Decimal("100.000000"), Decimal("101.500000"), Decimal("102.000000")
    ]


def test_upsert_rounds_to_six_decimals_and_stays_idempotent(assets, tidy):
    frame = tidy([("AAA", "2024-01-02", 1 / 3)])
    prices_upsert(frame=frame, provider="test")
    assert PriceBar.objects.get().adj_close == Decimal("0.333333")
    assert prices_upsert(frame=frame, provider="test").unchanged == 1


@pytest.mark.parametrize(
    ("rows", "error", "field"),
    [
        ([("AAA", "2024-01-02", -1.0)], ValidationFailed, "open"),
        ([("AAA", "2024-01-02", float("nan"))], ValidationFailed, "open"),
        ([("AAA", "2024-01-02", 1.0), ("AAA", "2024-01-02", 2.0)], ValidationFailed, "date"),
        ([("AAA", "2024-01-02", 1.0), ("ZZZ", "2024-01-02", 2.0)], NotFound, "symbols"),
    ],
)
def test_upsert_rejects_bad_frames_and_writes_nothing(assets, rows, error, field, tidy):
    # given
    before = snapshot()

    # when
    with pytest.raises(error) as caught:
        prices_upsert(frame=tidy(rows), provider="test")

    # then
    assert caught.value.field == field
    assert snapshot() == before


def test_importing_a_slice_of_the_shared_stock_file_twice_changes_nothing(tmp_path):
    # given: the header and the last 250 days (all 20 stocks trade by then)
    lines = STOCKS.read_text().splitlines()
    path = tmp_path / "stock_prices_tail.csv"
    path.write_text("\n".join([lines[0], *lines[-250:]]) + "\n")

    # when
    first = prices_import_csv(path=path, fmt="wide")
    after_first = snapshot()
    second = prices_import_csv(path=path, fmt="wide")

    # then
    assert (first.rows, first.inserted, first.updated) == (5_000, 5_000, 0)
    assert PriceBar.objects.get(asset__symbol="AAPL", date=dt.date(2018, 4, 11)).adj_close == Decimal("172.440002")
    assert (second.inserted, second.updated, second.unchanged, second.assets_created) == (0, 0, 5_000, [])
    assert snapshot()[:2] == after_first[:2]


def test_importing_the_shared_stock_file_then_again_changes_nothing():
    # when
    first = prices_import_csv(path=STOCKS, fmt="wide")
    after_first = snapshot()
    second = prices_import_csv(path=STOCKS, fmt="wide")

    # then
    assert (first.rows, first.inserted, first.updated) == (106_931, 106_931, 0)
    assert len(first.assets_created) == 20
    assert Asset.objects.get(symbol="AAPL").asset_class == "equity"
    assert PriceBar.objects.get(asset__symbol="AAPL", date=dt.date(1989, 12, 29)).adj_close == Decimal("0.117203")
    assert (second.inserted, second.updated, second.unchanged, second.assets_created) == (0, 0, 106_931, [])
    assert snapshot()[:2] == after_first[:2]
    assert DataPull.objects.filter(provider="csv:stock_prices.csv", status="succeeded").count() == 2


def test_a_file_with_one_bad_row_imports_nothing(tmp_path, assets, tidy):
    # given: existing data, and a file whose last row has a zero price
    prices_upsert(frame=tidy([("AAA", "2024-01-02", 100.0)]), provider="test")
    path = tmp_path / "bad.csv"
    path.write_text("date,AAA,NEW\n2024-01-03,101,5\n2024-01-04,102,6\n2024-01-05,103,0\n")
    before = snapshot()

    # when
    with pytest.raises(ValidationFailed) as caught:
        prices_import_csv(path=path, fmt="wide")

    # then
    assert caught.value.code == "invalid_csv"
    assert caught.value.field == "NEW"
    assert caught.value.extra == {"line": 4, "column": "NEW"}
    assert "line 4, column 'NEW': price must be positive" in caught.value.message
    assert snapshot() == before


def test_import_of_a_long_file_updates_revised_bars(tmp_path, assets):
    # given
    path = tmp_path / "long.csv"
    path.write_text("date,symbol,open,high,low,close,volume,adj_close\n2024-01-02,AAA,10,11,9,10.5,1000,10.4\n")
    prices_import_csv(path=path, fmt="long")
    path.write_text("date,symbol,open,high,low,close,volume,adj_close\n2024-01-02,AAA,10,11,9,10.5,1000,10.3\n")

    # when
    result = prices_import_csv(path=path, fmt="long")

    # then
    assert (result.inserted, result.updated) == (0, 1)
    bar = PriceBar.objects.get(asset__symbol="AAA")
    assert (bar.close, bar.adj_close, bar.volume) == (Decimal("10.5"), Decimal("10.3"), 1000)


def test_import_of_a_missing_file_names_the_path(tmp_path):
    with pytest.raises(ValidationFailed) as caught:
        prices_import_csv(path=tmp_path / "nope.csv")
    assert caught.value.field == "path"


def _synthetic_assets(symbols):
    by_symbol = {a.symbol: a for a in DEFAULT_UNIVERSE}
    for s in symbols:
        Asset.objects.create(symbol=s, asset_class=by_symbol[s].asset_class)


def test_pull_is_idempotent_and_logged():
    # given
    _synthetic_assets(["ORBT", "TSY10"])

    # when
    first = prices_pull(provider="synthetic", start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 31))
    second = prices_pull(provider="synthetic", start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 31))

    # then: 23 weekdays × 2 symbols
    assert (first.status, first.rows_inserted, first.rows_updated, first.errors) == ("succeeded", 46, 0, [])
    assert (second.status, second.rows_inserted, second.rows_updated) == ("succeeded", 0, 0)
    assert first.finished_at is not None
    assert first.symbols == ["ORBT", "TSY10"]
    assert PriceBar.objects.count() == 46


def test_pull_continues_from_the_last_bar():
    # given
    _synthetic_assets(["ORBT"])
    prices_pull(provider="synthetic", start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 31))

    # when: no start given
    pull = prices_pull(provider="synthetic", end=dt.date(2024, 2, 9))

    # then: re-reads a few days before the last bar (unchanged) and adds February's 7 days
    assert pull.start == dt.date(2024, 1, 26)
    assert (pull.rows_inserted, pull.rows_updated) == (7, 0)


def test_pull_with_symbols_the_provider_does_not_know_is_partial():
    # given
    _synthetic_assets(["ORBT"])
    Asset.objects.create(symbol="AAPL")

    # when
    pull = prices_pull(provider="synthetic", start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 5))

    # then
    assert pull.status == "partial"
    assert pull.errors == ["provider does not know: AAPL"]
    assert pull.rows_inserted == 5


def test_a_failing_provider_leaves_a_failed_pull_and_no_bars():
    # given
    _synthetic_assets(["ORBT"])

    class Down:
        name = "down"

        def fetch(self, symbols, start, end):
            raise ProviderError("upstream timed out")

    # when
    pull = prices_pull(provider_instance=Down(), start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 5))

    # then
    assert (pull.status, pull.errors, pull.rows_inserted) == ("failed", ["upstream timed out"], 0)
    assert PriceBar.objects.count() == 0


def test_pull_rejects_unknown_symbols_and_unknown_providers():
    with pytest.raises(NotFound):
        prices_pull(provider="synthetic", symbols=["NOPE"])
    with pytest.raises(ValidationFailed) as caught:
        prices_pull(provider="bloomberg")
    assert caught.value.field == "provider"
    assert DataPull.objects.count() == 0


def test_demo_market_is_idempotent():
    # when
    first = demo_market_load(seed=7, years=1, end=dt.date(2024, 6, 28))
    second = demo_market_load(seed=7, years=1, end=dt.date(2024, 6, 28))

    # then
    weekdays = len(pd.bdate_range(first.start, first.end))
    assert first.assets_created == 26
    assert first.inserted == weekdays * 26
    assert (second.assets_created, second.inserted, second.updated, second.unchanged) == (0, 0, 0, weekdays * 26)
    smoke = Asset.objects.get(symbol="SMKE")
    assert (smoke.asset_class, smoke.esg_flags, smoke.esg_score) == ("equity", ["tobacco"], 18.0)
    assert Asset.objects.filter(asset_class="cash").count() == 1


def test_demo_market_matches_the_provider_bar_for_bar():
    # given
    demo_market_load(seed=7, years=1, end=dt.date(2024, 6, 28))
    expected = SyntheticProvider(seed=7).fetch(["NOVA"], dt.date(2024, 6, 3), dt.date(2024, 6, 28))

    # when
    stored = list(PriceBar.objects.filter(asset__symbol="NOVA", date__gte=dt.date(2024, 6, 3)).values_list("adj_close", flat=True))

    # then
    assert [float(v) for v in stored] == expected["adj_close"].tolist()


def test_pull_records_the_corporate_actions_the_provider_reports(tidy):
    # given: a provider whose bars jump 4x on a split day it reports
    from marketdata.models import CorporateAction
    from marketdata.selectors import asset_health_get

    Asset.objects.create(symbol="SPLT")

    class WithActions:
        name = "with-actions"

        def fetch(self, symbols, start, end):
            self.actions = pd.DataFrame(
                {"date": [pd.Timestamp("2024-01-04")], "symbol": ["SPLT"], "kind": ["split"], "ratio": [0.25]}
            )
            return tidy([("SPLT", "2024-01-03", 100.0), ("SPLT", "2024-01-04", 25.0)])

    # when
    pull = prices_pull(provider_instance=WithActions(), start=dt.date(2024, 1, 3), end=dt.date(2024, 1, 4))
    again = prices_pull(provider_instance=WithActions(), start=dt.date(2024, 1, 3), end=dt.date(2024, 1, 4))

    # then: recorded once, and the -75% move is explained, not suspect
    assert (pull.status, again.status) == ("succeeded", "succeeded")
    action = CorporateAction.objects.get()
    assert (action.asset.symbol, action.date, action.kind, action.ratio) == (
        "SPLT", dt.date(2024, 1, 4), "split", Decimal("0.25000000")
    )
    assert asset_health_get(symbols=["SPLT"], as_of=dt.date(2024, 1, 4))["SPLT"].status == "ok"
