"""The 20 % drawdown dating rule and the accuracy helpers."""

from __future__ import annotations

import pandas as pd
import pytest

from mlagents.regime.engine.truth import (
    TWO_STATE,
    drawdown_regimes,
    regime_accuracy,
    regime_episodes,
)


def test_drawdown_rule_dates_peak_to_trough():
    # 100 -> 120 (peak) -> 90 (-25 %, trough) -> 110 (+22 % from trough) -> 100
    prices = pd.Series([100, 110, 120, 100, 95, 90, 100, 110, 100], index=pd.bdate_range("2020-01-01", periods=9))
    labels = drawdown_regimes(prices)
    assert list(labels) == ["bull", "bull", "bull", "bear", "bear", "bear", "bull", "bull", "bull"]


def test_a_decline_short_of_the_threshold_stays_bull():
    prices = pd.Series([100, 120, 97, 130], index=pd.bdate_range("2020-01-01", periods=4))  # -19.2 %
    assert set(drawdown_regimes(prices)) == {"bull"}


def test_accuracy_with_the_two_state_mapping_and_episodes():
    idx = pd.bdate_range("2020-01-01", periods=4)
    predicted = pd.Series(["bull", "sideways", "bear", "bear"], index=idx)
    truth = pd.Series(["bull", "bull", "bull", "bear"], index=idx)
    assert regime_accuracy(predicted, truth, TWO_STATE) == 0.75
    assert regime_accuracy(predicted, truth) == 0.5
    episodes = regime_episodes(predicted)
    assert [(e.regime, e.days) for e in episodes] == [("bull", 1), ("sideways", 1), ("bear", 2)]
    with pytest.raises(ValueError, match="share no dates"):
        regime_accuracy(predicted, truth.shift(10, freq="D"))


def test_bear_call_report_counts_precision_recall_and_the_lag_from_the_peak():
    from mlagents.regime.engine.truth import bear_call_report

    # given an index that peaks on day 2, falls 30 % to day 6 and recovers 50 %
    days = pd.bdate_range("2019-01-01", periods=10)
    prices = pd.Series([100, 105, 110, 100, 90, 80, 77, 90, 100, 116], index=days, dtype=float)
    # the rule: bear on days 3..6 (the day after the peak to the trough)
    # a detector calling bear on days 5, 6 and 8
    called = pd.Series(["bull"] * 10, index=days)
    called.iloc[[5, 6, 8]] = "bear"
    # when
    report = bear_call_report(called, prices, min_days=1, recessions=(("2019-01-11", "2019-01-11"),))
    # then 2 of 3 bear calls are right, 2 of 4 bear days called, first call 2 days after day 3
    assert (report.precision, report.recall, report.bear_share) == (pytest.approx(2 / 3), 0.5, 0.3)
    [episode] = report.episodes
    assert (episode.start, episode.end, episode.days, episode.lag) == (days[3], days[6], 4, 2)
    assert episode.share_called == 0.5
    # day 8 lies in the given "recession" (2019-01-11): against the union all calls are right
    assert report.precision_with_recessions == 1.0
