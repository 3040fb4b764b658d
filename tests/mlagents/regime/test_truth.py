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
