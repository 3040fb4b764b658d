"""Cornish-Fisher refuses, or falls back with a reason, where its expansion is not monotone."""

import numpy as np
import pytest
from scipy import stats

from risk.measures.var import (
    CornishFisherDomainError,
    cornish_fisher_is_monotone,
    var_cornish_fisher,
    var_historical,
)


def _monotone_by_brute_force(s: float, k: float) -> bool:
    q = np.linspace(-12, 12, 24001)
    z = q + (q**2 - 1) * s / 6 + (q**3 - 3 * q) * k / 24 - (2 * q**3 - 5 * q) * s**2 / 36
    return bool(np.all(np.diff(z) > -1e-12))


@pytest.mark.parametrize(("s", "k", "expected"), [
    (0.0, 0.0, True), (0.0, 8.0, True), (0.0, 8.5, False), (0.0, -0.1, False),
    (-0.5, 2.0, True), (0.07, 11.1, False), (1.0, 1.0, False), (1.0, 4.0, True),
])
def test_the_monotone_domain_matches_a_brute_force_check_of_the_expansion(s, k, expected):
    # the closed-form discriminant condition agrees with checking z_cf(q) on a fine grid
    assert cornish_fisher_is_monotone(s, k) is expected
    assert _monotone_by_brute_force(s, k) is expected


def test_the_domain_check_agrees_with_brute_force_on_a_grid():
    skews, kurts = np.meshgrid(np.linspace(-2, 2, 21), np.linspace(-1, 12, 27))
    closed = cornish_fisher_is_monotone(skews.ravel(), kurts.ravel())
    brute = np.array([_monotone_by_brute_force(s, k) for s, k in zip(skews.ravel(), kurts.ravel(), strict=True)])
    # boundary points may differ by rounding of the grid; none does here
    assert (closed == brute).all()


def test_full_spy_history_falls_back_to_historical_with_the_reason(spy_returns):
    # given SPY 1993-2019: excess kurtosis 11.1, outside the domain (the 5.5 % "VaR")
    assert stats.kurtosis(spy_returns, bias=False) == pytest.approx(11.12, abs=0.01)
    # when
    result = var_cornish_fisher(spy_returns, confidence_level=0.99)
    # then the answer is the historical VaR, and says why
    expected = var_historical(spy_returns, confidence_level=0.99)
    assert (result.method, result.var, result.expected_shortfall) == ("historical", expected.var,
                                                                       expected.expected_shortfall)
    assert "not monotone" in result.note and "kurtosis 11.12" in result.note


def test_it_refuses_naming_the_method_when_asked_to(spy_returns):
    with pytest.raises(CornishFisherDomainError) as info:
        var_cornish_fisher(spy_returns, confidence_level=0.99, on_invalid="raise")
    assert info.value.field == "method"
    assert info.value.extra["excess_kurtosis"] == pytest.approx(11.12, abs=0.01)


def test_a_longer_horizon_scales_kurtosis_into_the_domain(spy_returns):
    # excess kurtosis / h: 11.1 / 2 = 5.6 is inside the domain at a 2-day horizon
    result = var_cornish_fisher(spy_returns, confidence_level=0.99, horizon_days=2)
    assert (result.method, result.note) == ("cornish_fisher", None)
