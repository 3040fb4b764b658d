"""The causal confirmation rule for bear calls (engine.confirm, issue 16)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlagents.regime.engine.confirm import BearConfirmation, confirmed_bear_calls

DAYS = pd.bdate_range("2020-01-01", periods=10)


def test_a_bear_call_needs_the_probability_and_the_drawdown():
    # given a bear probability high on days 2-7 and a fall that reaches 10 % on day 4
    prob = pd.Series([0.1, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.2, 0.1], index=DAYS)
    prices = pd.Series([100, 101, 97, 93, 90.8, 89, 92, 95, 96, 97], index=DAYS, dtype=float)
    # when confirmed with the defaults (p >= 0.5, one day, 10 % below the running peak of 101)
    calls = confirmed_bear_calls(prob, prices)
    # then bear from day 4 (90.8 < 101 * 0.9) until the probability falls, though prices recover
    assert calls.tolist() == [False] * 4 + [True] * 4 + [False] * 2


def test_persistence_is_hysteresis_on_both_sides():
    # given a probability that dips for one day inside a long high spell
    prob = pd.Series([0.9, 0.9, 0.9, 0.9, 0.3, 0.9, 0.9, 0.3, 0.3, 0.3], index=DAYS)
    prices = pd.Series([100, 97, 94, 89.9, 87, 84, 81, 78, 75, 72], index=DAYS, dtype=float)  # 10 % down from day 3
    # when two days of evidence are needed to enter and two of its absence to leave
    calls = confirmed_bear_calls(prob, prices, BearConfirmation(persistence=2))
    # then the call starts on day 3 (evidence since day 0, drawdown 10 %), survives the
    # one-day dip and ends on day 8, the second day below 0.5
    assert calls.tolist() == [False] * 3 + [True] * 5 + [False] * 2


def test_calls_up_to_day_t_do_not_depend_on_later_data():
    # given random probabilities and prices, and copies changed after day t
    rng = np.random.default_rng(0)
    days = pd.bdate_range("2000-01-03", periods=600)
    prob = pd.Series(rng.uniform(size=600), index=days)
    prices = pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.02, 600))), index=days)
    t = 400
    prob2, prices2 = prob.copy(), prices.copy()
    prob2.iloc[t + 1 :] = 0.0
    prices2.iloc[t + 1 :] = prices.iloc[t] * 1.5  # a new running peak after t
    # when both are confirmed
    calls = confirmed_bear_calls(prob, prices)
    calls2 = confirmed_bear_calls(prob2, prices2)
    # then the calls agree up to t and the series has both kinds of call (the test can fail)
    pd.testing.assert_series_equal(calls.iloc[: t + 1], calls2.iloc[: t + 1])
    assert calls.iloc[: t + 1].any() and not calls.iloc[: t + 1].all()
    assert not calls2.iloc[t + 1 :].any()  # no evidence after t: no bear call
