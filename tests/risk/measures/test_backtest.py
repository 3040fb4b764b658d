import math

import numpy as np
import pandas as pd
import pytest

from risk.measures.backtest import (
    backtest_summary,
    backtest_var,
    basel_traffic_light,
    christoffersen_independence,
    kupiec_pof,
    transition_counts,
)


def test_kupiec_on_a_hand_worked_case():
    # given 5 exceptions in 250 days at 99 %:
    # LR = -2[245 ln .99 + 5 ln .01] + 2[245 ln .98 + 5 ln .02] = 1.956809788...
    # when
    test = kupiec_pof(250, 5, 0.99)
    # then
    assert test.statistic == pytest.approx(1.956809788230622, rel=1e-12)
    assert test.p_value == pytest.approx(math.erfc(math.sqrt(test.statistic / 2)), rel=1e-10)  # chi2(1) tail
    assert not test.reject_at_5pct


def test_kupiec_with_no_exceptions_uses_zero_log_zero_as_zero():
    # LR = -2 * 250 ln(0.99) when x = 0
    assert kupiec_pof(250, 0, 0.99).statistic == pytest.approx(-2 * 250 * np.log(0.99))


def test_christoffersen_on_a_hand_worked_case():
    # given 0000111000: n00=5, n01=1, n10=1, n11=2; pi0=1/6, pi1=2/3, pi=1/3
    exceptions = np.array([0, 0, 0, 0, 1, 1, 1, 0, 0, 0], dtype=bool)
    # when
    counts = transition_counts(exceptions)
    test = christoffersen_independence(exceptions)
    # then LR = -2[6 ln 2/3 + 3 ln 1/3] + 2[5 ln 5/6 + ln 1/6 + ln 1/3 + 2 ln 2/3]
    assert counts == (5, 1, 1, 2)
    assert test.statistic == pytest.approx(2.231435513142097, rel=1e-12)


def test_christoffersen_is_zero_when_exceptions_do_not_depend_on_yesterday():
    # given 0011000100: n00=4, n01=2, n10=2, n11=1, so pi0 = pi1 = pi = 1/3
    exceptions = np.array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0], dtype=bool)
    assert christoffersen_independence(exceptions).statistic == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(("x", "zone", "plus"), [
    (0, "green", 0.0), (4, "green", 0.0), (5, "yellow", 0.40), (7, "yellow", 0.65),
    (9, "yellow", 0.85), (10, "red", 1.0), (14, "red", 1.0),
])
def test_basel_zones_for_250_days_at_99_percent(x, zone, plus):
    light = basel_traffic_light(x, 250, 0.99)
    assert (light.zone, light.plus_factor) == (zone, plus)


def test_backtest_counts_exceptions_against_the_previous_windows_forecast():
    # given i.i.d. normal returns: a correct model
    rng = np.random.default_rng(0)
    r = pd.Series(rng.normal(0, 0.01, 1250), index=pd.bdate_range("2010-01-01", periods=1250))
    # when
    bt = backtest_var(r, method="parametric", confidence_level=0.99, estimation_window=250)
    # then
    day = r.index[300]
    expected = -r.iloc[50:300].mean() + 2.3263478740408408 * r.iloc[50:300].std(ddof=1)
    assert bt.forecasts[day] == pytest.approx(expected, rel=1e-9)
    assert bt.n_exceptions == int((-r.iloc[250:] > bt.forecasts).sum())
    assert len(bt.traffic_lights) == 4
    assert bt.expected_exceptions == pytest.approx(10.0)
    assert not bt.kupiec.reject_at_5pct


def test_an_underestimating_model_is_rejected_and_lands_in_the_red_zone():
    # given returns whose volatility jumps 3x after the estimation window: stale VaR is too low
    rng = np.random.default_rng(5)
    calm = rng.normal(0, 0.005, 1000)
    wild = rng.normal(0, 0.03, 250)
    r = pd.Series(np.concatenate([calm, wild]), index=pd.bdate_range("2012-01-02", periods=1250))
    # when a normal VaR is estimated on a long window that is mostly the calm period
    bt = backtest_var(r, method="parametric", confidence_level=0.99, estimation_window=1000)
    # then
    assert bt.kupiec.reject_at_5pct
    assert bt.traffic_lights[-1].zone == "red"
    assert bt.n_exceptions > 10


def test_conditional_coverage_is_the_sum_with_the_chi2_2_closed_form():
    # given exceptions on days 3, 4 and 40 of 250
    e = np.zeros(250, dtype=bool)
    e[[3, 4, 40]] = True
    # when
    summary = backtest_summary(pd.bdate_range("2020-01-01", periods=250), e.astype(float), np.full(250, 0.5), 0.99)
    # then LR_cc = LR_pof + LR_ind and its chi-square(2) tail is exp(-LR/2)
    cc = summary.conditional_coverage
    assert cc.statistic == pytest.approx(summary.kupiec.statistic + summary.christoffersen.statistic, rel=1e-12)
    assert cc.p_value == pytest.approx(math.exp(-cc.statistic / 2), rel=1e-12)
    assert summary.kupiec.p_value == pytest.approx(math.erfc(math.sqrt(summary.kupiec.statistic / 2)), rel=1e-12)


def test_blocks_are_counted_back_from_the_last_day_with_their_dates():
    # given 600 test days with exceptions on days 10 (before any block), 120, 130 and 599
    days = pd.bdate_range("2019-01-01", periods=600)
    losses = np.zeros(600)
    losses[[10, 120, 130, 599]] = 1.0
    # when
    summary = backtest_summary(days, losses, np.full(600, 0.5), 0.99)
    # then two full blocks, days 100..349 and 350..599; day 10 counts in the totals only
    assert [(b.start, b.end, b.exceptions, b.zone) for b in summary.blocks] == [
        (days[100], days[349], 2, "green"), (days[350], days[599], 1, "green")]
    assert (summary.observations, summary.exceptions, summary.expected_exceptions) == (600, 4, pytest.approx(6.0))
    assert summary.exception_dates == [days[10], days[120], days[130], days[599]]


def test_five_exceptions_in_a_block_is_yellow_and_ten_red():
    days = pd.bdate_range("2019-01-01", periods=500)
    losses = np.zeros(500)
    losses[:5] = 1.0
    losses[250:260] = 1.0
    zones = [b.zone for b in backtest_summary(days, losses, np.full(500, 0.5), 0.99).blocks]
    assert zones == ["yellow", "red"]
