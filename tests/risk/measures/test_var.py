import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from risk.measures import (
    RiskInputError,
    value_at_risk,
    var_cornish_fisher,
    var_historical,
    var_monte_carlo,
    var_parametric,
)
from risk.measures.var import cornish_fisher_var_es, empirical_var_es

WEIGHTS = {"AAA": 0.5, "BBB": 0.3, "CCC": 0.2}


def test_historical_var_is_the_inverted_cdf_quantile_of_losses(normal_panel):
    # given
    losses = -(normal_panel.to_numpy() @ np.array([0.5, 0.3, 0.2]))
    # when
    result = var_historical(normal_panel, WEIGHTS, confidence_level=0.99)
    # then
    assert result.var == pytest.approx(np.quantile(losses, 0.99, method="inverted_cdf"), abs=0)
    worst = np.sort(losses)[-20:]  # 2000 * 1 % = 20 scenarios in the tail
    assert result.expected_shortfall == pytest.approx(worst.mean(), rel=1e-12)
    assert (result.method, result.horizon_days, result.n_observations) == ("historical", 1, 2000)


def test_historical_es_weights_the_partial_scenario_when_the_tail_is_fractional():
    # given 10 losses 1..10, level 0.85: k = ceil(8.5) = 9, tail mass 1.5
    losses = np.arange(1.0, 11.0)
    # when
    var, es = empirical_var_es(losses, 0.85)
    # then ES = (0.5 * 9 + 10) / 1.5
    assert var == 9.0
    assert es == pytest.approx((0.5 * 9 + 10) / 1.5)


def test_historical_multi_day_uses_overlapping_compounded_returns():
    # given
    series = pd.Series([0.01, -0.02, 0.03, -0.04, 0.005] * 40)
    # when
    result = var_historical(series, confidence_level=0.9, horizon_days=2)
    # then
    two_day = (1 + series).rolling(2).apply(np.prod, raw=True).dropna() - 1
    assert result.var == pytest.approx(np.quantile(-two_day, 0.9, method="inverted_cdf"))
    assert result.n_observations == 199


def test_parametric_var_equals_the_closed_form(normal_panel):
    # given
    port = normal_panel.to_numpy() @ np.array([0.5, 0.3, 0.2])
    mu, sigma = port.mean(), port.std(ddof=1)
    z = stats.norm.ppf(0.99)
    # when
    result = var_parametric(normal_panel, WEIGHTS, confidence_level=0.99, horizon_days=10)
    # then
    assert result.var == pytest.approx(-10 * mu + z * sigma * math.sqrt(10), rel=1e-12)
    assert result.expected_shortfall == pytest.approx(
        -10 * mu + sigma * math.sqrt(10) * stats.norm.pdf(z) / 0.01, rel=1e-12
    )


def test_cornish_fisher_reduces_to_the_normal_without_skew_or_kurtosis():
    # when
    var, es = cornish_fisher_var_es(0.001, 0.02, 0.0, 0.0, 0.975)
    # then
    z = stats.norm.ppf(0.975)
    assert var == pytest.approx(-0.001 + 0.02 * z)
    assert es == pytest.approx(-0.001 + 0.02 * stats.norm.pdf(z) / 0.025)


def test_cornish_fisher_es_equals_the_integral_of_the_expansion():
    # given
    s, k, p = -0.8, 4.0, 0.05

    def zcf(u: float) -> float:
        q = stats.norm.ppf(u)
        return q + (q**2 - 1) * s / 6 + (q**3 - 3 * q) * k / 24 - (2 * q**3 - 5 * q) * s**2 / 36

    # when
    var, es = cornish_fisher_var_es(0.0, 1.0, s, k, 1 - p)
    # then
    assert var == pytest.approx(-zcf(p), rel=1e-12)
    integral, _ = integrate.quad(zcf, 0, p, limit=200)
    assert es == pytest.approx(-integral / p, rel=1e-6)


def test_cornish_fisher_var_exceeds_normal_var_for_fat_left_tails(stock_returns):
    # given real returns of 2017 (skewness -0.50, excess kurtosis 2.05: inside the monotone domain)
    weights = {"GE": 0.5, "JPM": 0.5}
    window = stock_returns.loc["2017"]
    # when
    cf = var_cornish_fisher(window, weights, confidence_level=0.99)
    normal = var_parametric(window, weights, confidence_level=0.99)
    # then
    assert (cf.method, cf.note) == ("cornish_fisher", None)
    assert cf.var > normal.var
    assert cf.expected_shortfall > cf.var


def test_monte_carlo_var_converges_to_the_closed_form_within_its_error(normal_panel):
    # given
    exact = var_parametric(normal_panel, WEIGHTS, confidence_level=0.99)
    n = 400_000
    port = normal_panel.to_numpy() @ np.array([0.5, 0.3, 0.2])
    sigma = port.std(ddof=1)
    # standard error of the empirical quantile: sqrt(p(1-p)/n) / f(q)
    z = stats.norm.ppf(0.99)
    se = math.sqrt(0.01 * 0.99 / n) / (stats.norm.pdf(z) / sigma)
    # when
    mc = var_monte_carlo(normal_panel, WEIGHTS, confidence_level=0.99, n_simulations=n, seed=3)
    # then
    assert abs(mc.var - exact.var) < 4 * se
    assert mc.expected_shortfall == pytest.approx(exact.expected_shortfall, rel=0.01)


def test_monte_carlo_is_reproducible_with_a_seed_and_varies_without(normal_panel):
    # when
    a = var_monte_carlo(normal_panel, WEIGHTS, n_simulations=20_000, seed=11)
    b = var_monte_carlo(normal_panel, WEIGHTS, n_simulations=20_000, seed=11)
    c = var_monte_carlo(normal_panel, WEIGHTS, n_simulations=20_000, seed=12)
    # then
    assert a == b
    assert a.var != c.var


def test_monte_carlo_student_t_keeps_the_variance_and_fattens_the_tail(normal_panel):
    # when
    normal = var_monte_carlo(normal_panel, WEIGHTS, confidence_level=0.999, n_simulations=400_000)
    t = var_monte_carlo(
        normal_panel, WEIGHTS, confidence_level=0.999, n_simulations=400_000, distribution="t", dof=4
    )
    # then the unit-variance t has a deeper 99.9 % tail than the normal
    assert t.var > normal.var * 1.05
    assert t.distribution == "t"


def test_monte_carlo_horizon_scales_the_normal_exactly(normal_panel):
    # when
    ten = var_monte_carlo(normal_panel, WEIGHTS, horizon_days=10, n_simulations=200_000, seed=5)
    exact = var_parametric(normal_panel, WEIGHTS, horizon_days=10)
    # then
    assert ten.var == pytest.approx(exact.var, rel=0.02)


def test_monte_carlo_handles_a_singular_covariance(normal_panel):
    # given a duplicated column: the covariance is singular
    panel = normal_panel.assign(DUP=normal_panel["AAA"])
    # when
    mc = var_monte_carlo(panel, {"AAA": 0.5, "DUP": 0.5}, n_simulations=200_000, seed=1)
    exact = var_parametric(panel, {"AAA": 0.5, "DUP": 0.5})
    # then
    assert mc.var == pytest.approx(exact.var, rel=0.02)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"confidence_level": 1.0}, "confidence_level"),
        ({"confidence_level": 0.3}, "confidence_level"),
        ({"horizon_days": 0}, "horizon_days"),
        ({"method": "magic"}, "method"),
        ({"method": "monte_carlo", "n_simulations": 10}, "n_simulations"),
        ({"method": "monte_carlo", "distribution": "cauchy"}, "distribution"),
    ],
)
def test_bad_arguments_name_the_field(normal_panel, kwargs, field):
    with pytest.raises(RiskInputError) as info:
        value_at_risk(normal_panel, WEIGHTS, **kwargs)
    assert info.value.field == field


def test_a_weighted_symbol_without_history_is_rejected(normal_panel):
    with pytest.raises(RiskInputError) as info:
        var_historical(normal_panel, {"AAA": 0.5, "ZZZ": 0.5})
    assert info.value.field == "weights"
    assert info.value.extra["missing"] == ["ZZZ"]


def test_too_short_history_for_the_tail_is_rejected():
    with pytest.raises(RiskInputError) as info:
        var_historical(pd.Series([0.01] * 50), confidence_level=0.99)
    assert info.value.field == "returns"


def test_antithetic_scenarios_are_mirror_images_around_the_mean(normal_panel):
    # given
    from risk.measures.var import covariance_factor, simulate_portfolio_returns

    panel = normal_panel.to_numpy()
    mean, w = panel.mean(axis=0), np.array([0.5, 0.3, 0.2])
    factor = covariance_factor(np.cov(panel, rowvar=False))
    # when
    sims = simulate_portfolio_returns(mean, factor, w, n_simulations=10_001, seed=2)
    # then
    half = 5_001
    np.testing.assert_allclose(sims[half:] - mean @ w, -(sims[: 10_001 - half] - mean @ w), atol=1e-15)
    plain = var_monte_carlo(normal_panel, WEIGHTS, n_simulations=200_000, antithetic=False, seed=3)
    exact = var_parametric(normal_panel, WEIGHTS)
    assert plain.var == pytest.approx(exact.var, rel=0.02)
