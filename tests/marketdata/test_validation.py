"""Data-health rules on hand-made series (DB-free)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from marketdata.validation import HealthRules, business_days_between, series_health

RULES = HealthRules(max_daily_move=0.5, max_daily_move_by_class={"crypto": 0.75}, stale_after_days=3, max_gap_days=5)


def bars(closes: list[float], start: str = "2024-01-01", dates: list[str] | None = None) -> pd.DataFrame:
    index = pd.to_datetime(dates) if dates else pd.bdate_range(start, periods=len(closes))
    return pd.DataFrame(
        {"date": index.date, "high": [c * 1.01 for c in closes], "low": [c * 0.99 for c in closes], "close": closes, "adj_close": closes}
    )


def health(frame, as_of="2024-01-05", asset_class="equity", actions=()):
    return series_health(
        symbol="X", asset_class=asset_class, bars=frame, as_of=dt.date.fromisoformat(as_of), rules=RULES, action_dates=actions
    )


def test_business_days_between_counts_the_half_open_interval():
    # Friday to Monday is one business day; same day none
    assert business_days_between(dt.date(2024, 1, 5), dt.date(2024, 1, 8)) == 1
    assert business_days_between(dt.date(2024, 1, 5), dt.date(2024, 1, 5)) == 0
    assert business_days_between(dt.date(2024, 1, 1), dt.date(2024, 1, 12)) == 9


def test_a_clean_fresh_series_is_ok():
    result = health(bars([100, 101, 99, 102, 103]))
    assert (result.status, result.reasons, result.last_date) == ("ok", [], dt.date(2024, 1, 5))


def test_no_bars_is_missing():
    assert health(bars([])).status == "missing"
    # bars only after the as-of date do not count
    assert health(bars([100, 101], start="2024-02-01")).status == "missing"


def test_last_bar_older_than_the_limit_is_stale():
    # given: last bar Friday 2024-01-05, as of Thursday 2024-01-11 = 4 business days later
    result = health(bars([100, 101, 99, 102, 103]), as_of="2024-01-11")

    # then
    assert result.status == "stale"
    assert result.reasons == ["stale: last bar 2024-01-05 is 4 business days before 2024-01-11 (limit 3)"]
    # 3 business days later is still fresh
    assert health(bars([100, 101, 99, 102, 103]), as_of="2024-01-10").status == "ok"


def test_a_move_beyond_the_bound_is_suspect_unless_a_corporate_action_explains_it():
    # given: +60% on 2024-01-04
    series = bars([100, 101, 161.6, 160, 161])

    # when
    flagged = health(series)
    explained = health(series, actions=[dt.date(2024, 1, 3)])

    # then
    assert flagged.status == "suspect"
    assert flagged.reasons == ["suspect move +60.0% on 2024-01-03 (bound 50%, no corporate action)"]
    assert explained.status == "ok"


def test_the_bound_depends_on_the_asset_class():
    series = bars([100, 101, 161.6, 160, 161])
    assert health(series, asset_class="crypto").status == "ok"


def test_a_long_gap_is_suspect():
    # given: nothing between 2024-01-02 and 2024-01-12 (7 business days missing)
    series = bars([100, 101, 102], dates=["2024-01-01", "2024-01-02", "2024-01-12"])

    # when
    result = health(series, as_of="2024-01-12")

    # then
    assert result.status == "suspect"
    assert result.reasons == ["gap of 7 business days between 2024-01-02 and 2024-01-12"]


def test_inconsistent_bars_are_suspect_not_repaired():
    # given: high below low on the last day
    series = bars([100, 101, 102, 103, 104])
    series.loc[4, "high"] = 90.0

    # when
    result = health(series)

    # then
    assert result.status == "suspect"
    assert result.reasons[0].startswith("inconsistent bar on 2024-01-05: low 102.96, high 90")
    assert series.loc[4, "high"] == 90.0


def test_stale_wins_over_suspect_and_all_reasons_are_kept():
    result = health(bars([100, 101, 161.6, 160, 161]), as_of="2024-01-31")
    assert result.status == "stale"
    assert len(result.reasons) == 2


def test_a_split_day_with_a_halved_close_and_a_continuous_adjusted_close_is_not_ok_unrecorded():
    # given a 2:1 split on 2024-01-04: the close halves, the adjusted close does not move (Yahoo's shape)
    series = bars([100, 101, 50.25, 51, 50.5])
    series["adj_close"] = [50, 50.5, 50.25, 51, 50.5]
    # when nobody recorded the split, and when it is recorded
    unrecorded = health(series)
    recorded = health(series, actions=[dt.date(2024, 1, 3)])
    # then the -50.2 % close would otherwise pass the 50 % move bound of the adjusted close unnoticed
    assert unrecorded.status == "suspect"
    assert unrecorded.reasons == [
        "unrecorded corporate action on 2024-01-03: the close moved -50.2% and the adjusted close -0.5% "
        "(record the split or dividend)"
    ]
    assert recorded.status == "ok"


def test_an_ordinary_dividend_gap_stays_ok_and_adjusted_only_series_never_flag():
    # given a 1 % dividend drop of the close that the adjusted close does not show
    series = bars([100, 101, 99, 102, 103])
    series["adj_close"] = [99.0, 99.99, 99.0, 102, 103]
    assert health(series).status == "ok"
    # and a wide import (close = adjusted close) has no gap by construction
    assert health(bars([100, 101, 99, 102, 103])).status == "ok"


def test_every_kind_of_reason_is_reported_in_a_fixed_order_with_exact_text():
    # given: unsorted bars with a +61.6 % adjusted move, a 6-day gap, an unrecorded split and a close above its high
    series = bars([100, 101, 161.6, 80.8, 81, 82], dates=[
        "2024-01-02", "2024-01-01", "2024-01-03", "2024-01-04", "2024-01-15", "2024-01-16",
    ])
    series["adj_close"] = [100, 101, 161.6, 161.6, 162, 164]
    series.loc[5, "high"] = 80.0
    # when: a week after the last bar
    result = health(series, as_of="2024-01-23")
    # then: stale first, then moves, gaps, adjustments and inconsistent bars, in date order each
    assert (result.status, result.last_date) == ("stale", dt.date(2024, 1, 16))
    assert result.reasons == [
        "stale: last bar 2024-01-16 is 5 business days before 2024-01-23 (limit 3)",
        "suspect move +61.6% on 2024-01-03 (bound 50%, no corporate action)",  # from 100 on 01-02, once sorted
        "gap of 6 business days between 2024-01-04 and 2024-01-15",
        "unrecorded corporate action on 2024-01-04: the close moved -50.0% and the adjusted close +0.0% "
        "(record the split or dividend)",
        "inconsistent bar on 2024-01-16: low 81.18, high 80, close 82",
    ]


def test_only_the_last_lookback_bars_are_checked_and_a_single_bar_is_ok():
    # given: a +60 % move into the 3rd of 6 bars; with a lookback of 3 bars (4 closes) it is out of view
    series = bars([100, 101, 161.6, 160, 161, 162], start="2024-01-01")
    short = HealthRules(max_daily_move=0.5, max_daily_move_by_class={}, lookback_days=3)
    seen = HealthRules(max_daily_move=0.5, max_daily_move_by_class={}, lookback_days=4)
    # when
    def judged(rules):
        return series_health(symbol="X", asset_class="equity", bars=series, as_of=dt.date(2024, 1, 8), rules=rules)
    # then
    assert (judged(short).status, judged(short).reasons) == ("ok", [])
    assert judged(seen).reasons == ["suspect move +60.0% on 2024-01-03 (bound 50%, no corporate action)"]
    single = health(bars([100], start="2024-01-05"))
    assert (single.symbol, single.status, single.reasons, single.last_date) == ("X", "ok", [], dt.date(2024, 1, 5))


def test_missing_names_the_as_of_date_and_has_no_last_date():
    # given / when
    empty = health(bars([]), as_of="2024-01-05")
    later = health(bars([100], start="2024-01-08"), as_of="2024-01-05")
    # then
    assert empty == later
    assert (empty.symbol, empty.status, empty.reasons, empty.last_date) == (
        "X", "missing", ["no price on or before 2024-01-05"], None,
    )
