"""Rolling VaR models: each forecast from the past only, against the one-window estimators."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from risk.measures.backtest import backtest_var, var_model_backtest
from risk.measures.errors import RiskInputError
from risk.measures.var import value_at_risk, var_cornish_fisher, var_historical, var_parametric
from risk.measures.var_models import (
    ADAPTIVE_CANDIDATES,
    BACKTEST_METHODS,
    VaRModelConfig,
    green_zone_target_rate,
    rolling_var,
    rolling_var_many,
)
from risk.measures.volatility import ewma_variance, garch_t_mle, garch_variance, standardized_t_ppf


@pytest.fixture(scope="module")
def spy_short(spy_returns) -> pd.Series:
    """SPY 2006-2009 (1,000 days: a calm year, then 2008)."""
    return spy_returns.loc["2006":"2009"]


@pytest.mark.parametrize(("method", "engine"), [
    ("historical", var_historical), ("parametric", var_parametric), ("cornish_fisher", var_cornish_fisher),
])
def test_window_methods_are_the_one_window_estimators_on_the_previous_window(spy_short, method, engine):
    # given
    r = spy_short.to_numpy()
    # when
    forecast = rolling_var(r, method=method, confidence_level=0.99)
    # then: forecast i is the estimator on r[t - 250 : t], t = 250 + i, up to t = n (tomorrow)
    assert forecast.first == 250 and forecast.forecasts.shape == (len(r) - 250 + 1,)
    for t in (250, 400, 777, len(r)):
        assert forecast.forecasts[t - 250] == pytest.approx(
            engine(pd.Series(r[t - 250 : t]), confidence_level=0.99).var, rel=1e-10)


def test_cornish_fisher_counts_the_days_outside_its_domain(spy_short):
    r = spy_short.to_numpy()
    forecast = rolling_var(r, method="cornish_fisher", confidence_level=0.99)
    invalid = [t for t in range(250, len(r) + 1)
               if var_cornish_fisher(pd.Series(r[t - 250 : t]), confidence_level=0.99).note]
    assert forecast.invalid_days == len(invalid) > 0


def test_monte_carlo_is_the_old_loop_day_for_day(spy_short):
    # given the straightforward backtest (one value_at_risk call per day, seed + t)
    series = spy_short.iloc[:400]
    old = backtest_var(series, method="monte_carlo", confidence_level=0.99, n_simulations=2000, seed=5)
    # when
    new = rolling_var(series.to_numpy(), method="monte_carlo", confidence_level=0.99,
                      config=VaRModelConfig(n_simulations=2000, seed=5))
    # then
    np.testing.assert_allclose(new.backtested, old.forecasts.to_numpy(), rtol=1e-12)


def test_monte_carlo_t_uses_the_windows_moment_dof(spy_short):
    r = spy_short.to_numpy()[:300]
    forecast = rolling_var(r, method="monte_carlo_t", confidence_level=0.99,
                           config=VaRModelConfig(n_simulations=2000))
    window = r[260 - 250 : 260]
    kurt = stats.kurtosis(window, bias=False)
    expected = value_at_risk(pd.Series(window), method="monte_carlo", confidence_level=0.99,
                             n_simulations=2000, distribution="t", dof=min(max(4 + 6 / kurt, 2.5), 100), seed=260)
    assert forecast.forecasts[10] == pytest.approx(expected.var, rel=1e-12)


def test_ewma_is_riskmetrics_normal_var(spy_short):
    r = spy_short.to_numpy()
    forecast = rolling_var(r, method="ewma", confidence_level=0.99)
    s2 = ewma_variance(np.append(r, 0.0))
    np.testing.assert_allclose(forecast.forecasts, stats.norm.ppf(0.99) * np.sqrt(s2[250:]), rtol=1e-12)


def test_fhs_ewma_rescales_the_weibull_quantile_of_standardized_losses(spy_short):
    # given
    r = spy_short.to_numpy()
    sigma = np.sqrt(ewma_variance(np.append(r, 0.0)))
    # when
    forecast = rolling_var(r, method="fhs_ewma", confidence_level=0.99)
    # then, on day 600: sigma_600 * Q(-r_s / sigma_s, s = 350..599) at position 0.99 (250 + 1)
    z = np.sort(-r[350:600] / sigma[350:600])
    position = 0.99 * 251  # 248.49: between the 248th and 249th smallest
    expected_q = z[247] + (position - 248) * (z[248] - z[247])
    assert forecast.forecasts[600 - 250] == pytest.approx(sigma[600] * expected_q, rel=1e-12)


def test_garch_t_refits_quarterly_and_filters_in_between(spy_short):
    # given
    r = spy_short.to_numpy()
    config = VaRModelConfig()
    # when
    forecast = rolling_var(r, method="garch_t", confidence_level=0.99, config=config)
    # then day 330 uses the fit made at day 313 (= 250 + 63) on r[0:313], filtered from day 0
    params = garch_t_mle(r[0:313], starting=garch_t_mle(r[0:250]))
    sigma = np.sqrt(garch_variance(r[0:331], params))
    assert forecast.forecasts[330 - 250] == pytest.approx(-standardized_t_ppf(0.01, params.nu) * sigma[330],
                                                          rel=1e-9)


@pytest.mark.parametrize("method", [m for m in BACKTEST_METHODS if m != "monte_carlo_t"])
def test_no_forecast_moves_when_later_returns_are_cut_off(spy_short, method):
    # given the same history, once cut after day 700
    r = spy_short.to_numpy()
    config = VaRModelConfig(n_simulations=1000)
    full = rolling_var(r, method=method, confidence_level=0.99, config=config)
    cut = rolling_var(r[:700], method=method, confidence_level=0.99, config=config)
    # then every forecast up to day 700 (the cut series' "tomorrow") is identical
    np.testing.assert_array_equal(cut.forecasts, full.forecasts[: 700 - 250 + 1])


def test_the_green_zone_target_rate_puts_four_exceptions_at_the_95th_percentile():
    p = green_zone_target_rate(0.99)
    assert p == pytest.approx(0.0079129, abs=1e-6)
    assert stats.binom.cdf(4, 250, p) == pytest.approx(0.95, abs=1e-9)
    # at 97.5 % the green zone ends at 10 exceptions and the target is just under nominal
    assert stats.binom.cdf(10, 250, green_zone_target_rate(0.975)) == pytest.approx(0.95, abs=1e-9)


def test_adaptive_uses_the_candidate_with_the_lowest_trailing_tick_loss(spy_short):
    # given
    r = spy_short.to_numpy()
    config = VaRModelConfig(selection_window=100)
    forecast = rolling_var(r, method="adaptive", confidence_level=0.99, config=config)
    aim = 1 - forecast.target_rate
    losses = -r[250:]
    # when the tick losses of days 500..599 (forecast index 250..349) are summed by hand
    totals = []
    for name in ADAPTIVE_CANDIDATES:
        v = forecast.candidates[name][250:350]
        loss = losses[250:350]
        totals.append(np.sum(((loss <= v) - aim) * (v - loss)))
    # then day 600 (index 350) used the argmin, scaled by that day's calibration factor
    assert forecast.chosen[350] == int(np.argmin(totals))
    base = forecast.candidates[ADAPTIVE_CANDIDATES[int(np.argmin(totals))]][350]
    assert forecast.forecasts[350] == pytest.approx(forecast.scale[350] * base, rel=1e-12)
    assert forecast.chosen[0] == 0  # no history yet: FHS-EWMA


def test_the_calibrated_exception_rate_is_the_target_plus_the_scale_drift(spy_short):
    # the Robbins-Monro identity: rate = p* + (log c_T - log c_0) / (eta T), exact while unclipped
    r = spy_short.to_numpy()
    config = VaRModelConfig(calibration_bounds=(1e-3, 1e3))
    forecast = rolling_var(r, method="adaptive", confidence_level=0.99, config=config)
    exceptions = -r[250:] > forecast.backtested
    days = len(exceptions)
    assert exceptions.mean() == pytest.approx(
        forecast.target_rate + math.log(forecast.scale[-1]) / (config.calibration_step * days), abs=1e-12)


def test_bad_inputs_name_their_field():
    r = np.random.default_rng(0).normal(0, 0.01, 300)
    for kwargs, field in [({"method": "magic"}, "method"), ({"first": 100}, "returns"),
                          ({"confidence_level": 1.2}, "confidence_level")]:
        with pytest.raises(RiskInputError) as info:
            rolling_var(r, **kwargs)
        assert info.value.field == field
    with pytest.raises(RiskInputError) as info:
        VaRModelConfig(window_days=5)
    assert info.value.field == "window_days"
    with pytest.raises(RiskInputError) as info:
        rolling_var(r, method="historical", confidence_level=0.999, config=VaRModelConfig(window_days=250))
    assert info.value.field == "window_days"


def test_the_vectorized_historical_backtest_is_the_old_loops(spy_short):
    # given
    old = backtest_var(spy_short, method="historical", confidence_level=0.99, estimation_window=250)
    # when
    new = var_model_backtest(spy_short, method="historical", confidence_level=0.99)
    # then
    np.testing.assert_allclose(new.forecast.backtested, old.forecasts.to_numpy(), rtol=1e-12)
    s = new.summary
    assert (s.observations, s.exceptions) == (len(old.forecasts), old.n_exceptions)
    assert s.kupiec.p_value == pytest.approx(old.kupiec.p_value, rel=1e-12)
    assert s.christoffersen.p_value == pytest.approx(old.christoffersen.p_value, rel=1e-12)
    assert [b.zone for b in s.blocks] == [t.zone for t in old.traffic_lights]


def test_several_methods_at_once_share_the_fits_and_give_the_same_forecasts(spy_short):
    r = spy_short.to_numpy()
    methods = ("adaptive", "fhs_ewma", "garch_t", "fhs_garch", "historical")
    together = rolling_var_many(r, methods=methods, confidence_level=0.99)
    for method in methods:
        np.testing.assert_array_equal(together[method].forecasts, rolling_var(r, method=method).forecasts)
