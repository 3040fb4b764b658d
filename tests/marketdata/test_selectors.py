"""Return panels, latest prices and data health from the database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from common.errors import NotFound, ValidationFailed
from marketdata.models import Asset, CorporateAction
from marketdata.selectors import (
    asset_health_get,
    bars_get,
    latest_prices_get,
    price_panel_get,
    return_panel_get,
)
from marketdata.services import prices_upsert
from marketdata.validation import HealthRules

pytestmark = pytest.mark.django_db
D = pd.Timestamp


def test_inner_panel_keeps_dates_where_every_symbol_has_a_price(priced):
    # when
    panel = price_panel_get(symbols=["BBB", "AAA"])

    # then: columns in the requested order, 2024-01-03 dropped (no BBB)
    assert list(panel.columns) == ["BBB", "AAA"]
    assert panel.index.name == "date"
    assert list(panel.index) == [D("2024-01-02"), D("2024-01-04"), D("2024-01-05")]
    assert panel.dtypes.tolist() == [np.float64, np.float64]
    np.testing.assert_array_equal(panel.to_numpy(), [[50.0, 100.0], [55.0, 99.0], [44.0, 99.0]])


def test_outer_panel_keeps_every_date_with_nan(priced):
    panel = price_panel_get(symbols=["AAA", "BBB"], how="outer")
    assert list(panel.index) == [D("2024-01-02"), D("2024-01-03"), D("2024-01-04"), D("2024-01-05")]
    assert np.isnan(panel.loc[D("2024-01-03"), "BBB"])
    assert panel.loc[D("2024-01-03"), "AAA"] == 110.0


def test_panel_window_is_inclusive(priced):
    panel = price_panel_get(symbols=["AAA"], start=dt.date(2024, 1, 3), end=dt.date(2024, 1, 4))
    assert panel["AAA"].tolist() == [110.0, 99.0]


def test_simple_and_log_returns(priced):
    # when
    simple = return_panel_get(symbols=["AAA", "BBB"])
    log = return_panel_get(symbols=["AAA", "BBB"], kind="log")
    outer = return_panel_get(symbols=["AAA", "BBB"], how="outer")

    # then: inner returns span 01-02 → 01-04 → 01-05
    np.testing.assert_allclose(simple.to_numpy(), [[99 / 100 - 1, 55 / 50 - 1], [0.0, 44 / 55 - 1]])
    np.testing.assert_allclose(log.to_numpy(), np.log([[0.99, 1.1], [1.0, 0.8]]))
    assert list(simple.index) == [D("2024-01-04"), D("2024-01-05")]
    # outer: NaN where either price is missing
    assert outer.loc[D("2024-01-03"), "AAA"] == pytest.approx(0.1)
    assert np.isnan(outer.loc[D("2024-01-03"), "BBB"])
    assert np.isnan(outer.loc[D("2024-01-04"), "BBB"])


def test_other_fields(priced):
    panel = price_panel_get(symbols=["AAA"], field="volume")
    assert panel["AAA"].tolist() == [100.0] * 4


def test_unknown_symbols_are_named(priced):
    with pytest.raises(NotFound) as caught:
        price_panel_get(symbols=["AAA", "XXX", "YYY"], error_field="universe")
    assert (caught.value.field, caught.value.extra) == ("universe", {"symbols": ["XXX", "YYY"]})
    assert "XXX, YYY" in caught.value.message


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"symbols": []}, "symbols"),
        ({"symbols": ["AAA", "AAA"]}, "symbols"),
        ({"symbols": ["AAA"], "start": dt.date(2024, 2, 1), "end": dt.date(2024, 1, 1)}, "end"),
        ({"symbols": ["AAA"], "field": "price"}, "field"),
        ({"symbols": ["AAA"], "how": "left"}, "how"),
    ],
)
def test_bad_panel_requests(priced, kwargs, field):
    with pytest.raises(ValidationFailed) as caught:
        price_panel_get(**kwargs)
    assert caught.value.field == field


def test_panel_is_cached_and_invalidated_when_bars_land(priced, tidy, django_assert_num_queries):
    # given: a first read fills the cache
    price_panel_get(symbols=["AAA", "BBB"])

    # when: a warm read needs no bar query (assets + revision only)
    with django_assert_num_queries(2):
        warm = price_panel_get(symbols=["AAA", "BBB"])
    prices_upsert(frame=tidy([("AAA", "2024-01-08", 120.0), ("BBB", "2024-01-08", 45.0)]), provider="test")
    fresh = price_panel_get(symbols=["AAA", "BBB"])

    # then
    assert warm.index[-1] == D("2024-01-05")
    assert fresh.index[-1] == D("2024-01-08")
    assert fresh.loc[D("2024-01-08")].tolist() == [120.0, 45.0]


def test_a_cold_panel_read_is_one_bar_query_whatever_the_number_of_assets(db, tidy, django_assert_num_queries):
    # given: 30 assets
    symbols = [f"S{k:02d}" for k in range(30)]
    Asset.objects.bulk_create([Asset(symbol=s) for s in symbols])
    prices_upsert(frame=tidy([(s, "2024-01-02", 10.0 + k) for k, s in enumerate(symbols)]), provider="test")

    # when / then: assets, revision, bars
    with django_assert_num_queries(3):
        panel = price_panel_get(symbols=symbols)
    assert panel.iloc[0].tolist() == [10.0 + k for k in range(30)]


def test_latest_prices_on_or_before_a_date(priced):
    # when
    prices = latest_prices_get(symbols=["AAA", "BBB"], as_of=dt.date(2024, 1, 3))

    # then: BBB has no bar on 01-03, so its 01-02 close
    assert prices == {"AAA": Decimal("110.000000"), "BBB": Decimal("50.000000")}


def test_latest_prices_fail_loudly_without_a_price(priced):
    with pytest.raises(NotFound) as caught:
        latest_prices_get(symbols=["AAA", "CCC"], as_of=dt.date(2024, 1, 5))
    assert (caught.value.code, caught.value.extra) == ("no_price", {"symbols": ["CCC"]})
    with pytest.raises(NotFound):
        latest_prices_get(symbols=["AAA"], as_of=dt.date(2023, 12, 31))


def test_health_per_asset(priced, tidy):
    # given: BBB fell 20% on 01-05; make the bound 15% so that it is suspect
    rules = HealthRules(max_daily_move=0.15, stale_after_days=3)

    # when
    report = asset_health_get(symbols=["AAA", "BBB", "CCC"], as_of=dt.date(2024, 1, 5), rules=rules)
    later = asset_health_get(symbols=["AAA"], as_of=dt.date(2024, 3, 1), rules=rules)

    # then
    assert report["AAA"].status == "ok"
    assert report["BBB"].status == "suspect"
    assert report["BBB"].reasons == ["suspect move -20.0% on 2024-01-05 (bound 15%, no corporate action)"]
    assert (report["CCC"].status, report["CCC"].last_date) == ("missing", None)
    assert later["AAA"].status == "stale"
    assert later["AAA"].last_date == dt.date(2024, 1, 5)


def test_a_recorded_corporate_action_explains_a_move(priced):
    # given
    CorporateAction.objects.create(asset=priced["BBB"], date=dt.date(2024, 1, 5), kind="split", ratio=Decimal("1.25"))

    # when
    report = asset_health_get(symbols=["BBB"], as_of=dt.date(2024, 1, 5), rules=HealthRules(max_daily_move=0.15))

    # then
    assert report["BBB"].status == "ok"


def test_health_of_an_asset_whose_bars_all_predate_the_window(db, tidy):
    # given
    Asset.objects.create(symbol="OLD")
    prices_upsert(frame=tidy([("OLD", "2019-06-03", 5.0)]), provider="test")

    # when
    health = asset_health_get(symbols=["OLD"], as_of=dt.date(2024, 1, 5))["OLD"]

    # then
    assert (health.status, health.last_date) == ("stale", dt.date(2019, 6, 3))


def test_weekly_and_monthly_bars_aggregate_daily_ones(db, tidy):
    # given: 2024-01-29 (Mon) to 2024-02-09 (Fri), prices 1..10
    Asset.objects.create(symbol="W")
    days = pd.bdate_range("2024-01-29", "2024-02-09")
    frame = tidy([("W", d.date().isoformat(), float(k + 1)) for k, d in enumerate(days)], volume=10)
    frame["high"] = frame["adj_close"] + 0.5
    frame["low"] = frame["adj_close"] - 0.5
    prices_upsert(frame=frame, provider="test")

    # when
    weekly = bars_get(symbol="W", start=dt.date(2024, 1, 1), end=dt.date(2024, 2, 29), interval="weekly")
    monthly = bars_get(symbol="W", start=dt.date(2024, 1, 1), end=dt.date(2024, 2, 29), interval="monthly")

    # then
    assert [(b.date, b.open, b.high, b.low, b.close, b.volume) for b in weekly] == [
        (dt.date(2024, 2, 2), Decimal(1), Decimal("5.5"), Decimal("0.5"), Decimal(5), 50),
        (dt.date(2024, 2, 9), Decimal(6), Decimal("10.5"), Decimal("5.5"), Decimal(10), 50),
    ]
    assert [(b.date, b.open, b.close, b.volume) for b in monthly] == [
        (dt.date(2024, 1, 31), Decimal(1), Decimal(3), 30),
        (dt.date(2024, 2, 9), Decimal(4), Decimal(10), 70),
    ]


def test_windows_over_one_universe_share_one_read(priced, django_assert_num_queries):
    # given: the whole history is read once
    price_panel_get(symbols=["AAA", "BBB"], end=dt.date(2024, 1, 4))

    # when: another window over the same symbols
    with django_assert_num_queries(2):
        later = price_panel_get(symbols=["AAA", "BBB"], start=dt.date(2024, 1, 4))

    # then
    assert list(later.index) == [D("2024-01-04"), D("2024-01-05")]


def test_the_latest_price_date_is_the_last_bar_of_any_asset_and_none_without_bars(priced):
    # given: the fixture's bars, and a later bar of a new asset
    from marketdata.models import PriceBar
    from marketdata.selectors import latest_price_date_get

    last = PriceBar.objects.order_by("-date").values_list("date", flat=True).first()
    later = last + dt.timedelta(days=3)
    asset = Asset.objects.create(symbol="LATE", name="Late Inc.", asset_class="equity")
    PriceBar.objects.create(asset=asset, date=later, open=1, high=1, low=1, close=1, adj_close=1, volume=1)
    # when / then
    assert latest_price_date_get() == later
    PriceBar.objects.all().delete()
    assert latest_price_date_get() is None
