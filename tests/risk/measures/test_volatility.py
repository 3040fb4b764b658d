"""EWMA and GARCH(1,1)-t volatility against a plain loop and the arch package."""

import math

import numpy as np
import pytest
from arch import arch_model
from arch.univariate import StudentsT
from scipy import stats

from risk.measures.errors import RiskInputError
from risk.measures.volatility import (
    GarchParams,
    arch_backcast,
    ewma_variance,
    garch_t_fit,
    garch_t_mle,
    garch_t_negative_loglik,
    garch_variance,
    moment_dof,
    standardized_t_ppf,
)


def test_ewma_variance_is_the_riskmetrics_recursion(spy_returns):
    # given
    r = spy_returns.to_numpy()[:400]
    # when
    s2 = ewma_variance(r, lam=0.94)
    # then: s2[0] = mean square of the first ceil(1 / 0.06) = 17 returns, then the recursion
    expected = [np.mean(r[:17] ** 2)]
    for t in range(1, len(r)):
        expected.append(0.94 * expected[-1] + 0.06 * r[t - 1] ** 2)
    np.testing.assert_allclose(s2, expected, rtol=1e-13)


def test_garch_filter_equals_arch_conditional_volatility(spy_returns):
    # given arch's own fit of 1,500 days of SPY in percent
    r = spy_returns.to_numpy()[:1500]
    model = arch_model(r * 100, mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    fit = model.fit(disp="off")
    p = fit.params
    params = GarchParams(p["omega"] / 1e4, p["alpha[1]"], p["beta[1]"], p["nu"],
                         backcast=model.volatility.backcast(r * 100) / 1e4)
    # when our filter runs with those parameters
    sigma = np.sqrt(garch_variance(r, params))
    # then it is arch's conditional volatility (converted from percent)
    np.testing.assert_allclose(sigma * 100, fit.conditional_volatility, rtol=1e-12)


def test_garch_t_fit_is_archs_maximum_likelihood_in_fractions(spy_returns):
    r = spy_returns.to_numpy()[:1000]
    ours = garch_t_fit(r)
    theirs = arch_model(r * 100, mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False).fit(
        disp="off", cov_type="classic").params
    assert ours.converged
    assert ours.omega == pytest.approx(theirs["omega"] / 1e4, rel=1e-6)
    assert (ours.alpha, ours.beta, ours.nu) == pytest.approx(
        (theirs["alpha[1]"], theirs["beta[1]"], theirs["nu"]), rel=1e-6)


def test_garch_t_fit_recovers_simulated_parameters():
    # given 6,000 days simulated from GARCH(1,1) with omega 2e-6, alpha 0.08, beta 0.90, t(6)
    rng = np.random.default_rng(11)
    n, omega, alpha, beta, nu = 6000, 2e-6, 0.08, 0.90, 6.0
    z = rng.standard_t(nu, n) * math.sqrt((nu - 2) / nu)
    r, s2 = np.empty(n), omega / (1 - alpha - beta)
    for t in range(n):
        r[t] = math.sqrt(s2) * z[t]
        s2 = omega + alpha * r[t] ** 2 + beta * s2
    # when
    fit = garch_t_fit(r)
    # then within a few standard errors
    assert fit.alpha == pytest.approx(alpha, abs=0.02)
    assert fit.beta == pytest.approx(beta, abs=0.025)
    assert fit.nu == pytest.approx(nu, abs=1.5)
    assert fit.omega / (1 - fit.persistence) == pytest.approx(omega / (1 - alpha - beta), rel=0.25)


def test_garch_needs_enough_returns():
    with pytest.raises(RiskInputError) as info:
        garch_t_fit(np.full(50, 0.01))
    assert info.value.field == "window_days"


def test_standardized_t_quantile_is_archs():
    for nu in (3.0, 4.9, 12.0):
        ours = standardized_t_ppf(0.01, nu)
        assert ours == pytest.approx(float(StudentsT().ppf(0.01, [nu])), rel=1e-12)
        # unit variance: t variance nu / (nu - 2) times the scale (nu - 2) / nu
        assert ours == pytest.approx(stats.t.ppf(0.01, nu) / math.sqrt(nu / (nu - 2)), rel=1e-12)


def test_moment_dof_inverts_the_t_kurtosis():
    # excess kurtosis of t(nu) is 6 / (nu - 4): nu = 7 -> 2
    sample = stats.t.rvs(7, size=2_000_000, random_state=3)
    assert moment_dof(sample) == pytest.approx(7.0, abs=0.4)
    assert moment_dof(np.random.default_rng(0).normal(size=5000)) == 100.0  # ~zero kurtosis: normal


def _arch_fit(r):
    model = arch_model(r * 100, mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    return model, model.fit(disp="off", cov_type="classic")


def test_our_likelihood_is_archs_at_archs_optimum(spy_returns):
    r = spy_returns.to_numpy()[1500:2500]
    model, fit = _arch_fit(r)
    assert arch_backcast(r * 100) == pytest.approx(model.volatility.backcast(r * 100), rel=1e-12)
    nll, _ = garch_t_negative_loglik(fit.params.to_numpy(), (r * 100) ** 2, arch_backcast(r * 100))
    assert -nll == pytest.approx(fit.loglikelihood, rel=1e-10)


def test_the_analytic_gradient_is_the_numerical_one(spy_returns):
    x = spy_returns.to_numpy()[:1000] * 100
    theta, bc = np.array([0.02, 0.08, 0.9, 6.0]), arch_backcast(x)
    _, grad = garch_t_negative_loglik(theta, x * x, bc)
    step = 1e-6
    numeric = [(garch_t_negative_loglik(theta + e, x * x, bc)[0] - garch_t_negative_loglik(theta - e, x * x, bc)[0])
               / (2 * step) for e in np.eye(4) * step]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5)


@pytest.mark.parametrize("start", [0, 1500, 3000, 4500])
def test_our_maximum_likelihood_reaches_archs_optimum(spy_returns, start):
    # given four 1,000-day windows of SPY
    r = spy_returns.to_numpy()[start : start + 1000]
    _, fit = _arch_fit(r)
    # when fitted cold, and warm-started from a fit on the window 63 days earlier
    cold = garch_t_mle(r)
    warm = garch_t_mle(r, starting=garch_t_mle(spy_returns.to_numpy()[max(start - 63, 0) : start + 937]))
    # then the same optimum: log-likelihood within 1e-4, parameters within 1e-3
    for ours in (cold, warm):
        nll, _ = garch_t_negative_loglik(np.array([ours.omega * 1e4, ours.alpha, ours.beta, ours.nu]),
                                         (r * 100) ** 2, arch_backcast(r * 100))
        assert -nll == pytest.approx(fit.loglikelihood, abs=1e-4)
        assert -nll >= fit.loglikelihood - 1e-4
        p = fit.params
        assert (ours.omega * 1e4, ours.alpha, ours.beta) == pytest.approx(
            (p["omega"], p["alpha[1]"], p["beta[1]"]), rel=2e-3, abs=1e-4)
        assert ours.nu == pytest.approx(p["nu"], rel=5e-3)
