"""Value at risk and expected shortfall, four ways.

Implements, for a portfolio given as weights over a return panel (or directly as a
portfolio return series):

- :func:`var_historical` — the empirical distribution of past portfolio returns;
- :func:`var_parametric` — the normal distribution with the sample mean and covariance;
- :func:`var_cornish_fisher` — the normal quantile corrected for sample skewness and
  excess kurtosis (Cornish-Fisher expansion), with the matching closed-form ES; where
  the expansion is not monotone (:func:`cornish_fisher_is_monotone`) its quantile is
  not a quantile of any distribution, and the function refuses or falls back to
  historical VaR with the reason in ``VaRResult.note``;
- :func:`var_monte_carlo` — scenarios ``mu + L z`` with ``L`` the Cholesky factor of
  the sample covariance and ``z`` standard normal or Student-t (seeded).

Conventions (all functions):

- **Losses are positive.** ``VaRResult.var`` and ``VaRResult.expected_shortfall`` are
  losses as fractions of portfolio value: a VaR of 0.021 means "lose at least 2.1 % of
  the portfolio with probability 1 - confidence_level".
- **Returns** are simple one-period (daily) returns; the portfolio return of a day is
  ``R @ w`` (whatever the weights leave of 1.0 is cash earning nothing).
- **Empirical quantile** (historical and Monte Carlo): with losses sorted ascending
  ``L(1) <= ... <= L(n)``, ``VaR = L(k)`` with ``k = ceil(confidence_level * n)`` — the
  inverse of the empirical CDF (``numpy.quantile(..., method="inverted_cdf")``), no
  interpolation. ES is the exact expected shortfall of the empirical distribution
  (Acerbi & Tasche 2002): ``ES = [(k - a n) L(k) + sum_{i>k} L(i)] / (n (1 - a))``;
  when ``a n`` is an integer it is the mean of the worst ``n (1 - a)`` losses.
- **Horizons**: historical VaR uses overlapping ``h``-day compounded portfolio returns;
  parametric and Cornish-Fisher scale i.i.d. moments (mean ``x h``, volatility
  ``x sqrt(h)``, skewness ``/ sqrt(h)``, excess kurtosis ``/ h``); Monte Carlo draws the
  ``h``-day sum of i.i.d. daily returns directly (mean ``mu h``, covariance ``S h``; exact
  for the normal, the same scaling applied to the Student-t scenarios).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from risk.measures._inputs import (
    aligned_weights,
    check_confidence,
    check_horizon,
    clean_returns,
    compound_over,
)
from risk.measures.errors import RiskInputError

VaRMethod = Literal["historical", "parametric", "cornish_fisher", "monte_carlo"]
VAR_METHODS: tuple[str, ...] = ("historical", "parametric", "cornish_fisher", "monte_carlo")
MC_DISTRIBUTIONS: tuple[str, ...] = ("normal", "t")
MAX_SIMULATIONS = 5_000_000
_MC_CHUNK_ELEMENTS = 4_000_000  # normals drawn per chunk: ~16 MB of float32, cache friendly


@dataclass(frozen=True)
class VaRResult:
    """VaR and ES as **positive loss fractions** of portfolio value over ``horizon_days``."""

    var: float
    """Loss not exceeded with probability ``confidence_level`` (positive = a loss)."""
    expected_shortfall: float
    """Mean loss in the worst ``1 - confidence_level`` of outcomes (positive = a loss)."""
    confidence_level: float
    horizon_days: int
    method: str
    n_observations: int
    """Return observations (historical/parametric/Cornish-Fisher) or scenarios (Monte Carlo)."""
    distribution: str | None = None
    """``normal`` or ``t`` for Monte Carlo; the fitted family otherwise (None for historical)."""
    note: str | None = None
    """Why the result is not what was asked for, e.g. a Cornish-Fisher request answered
    by historical VaR because the expansion is not monotone (None when it is)."""


def _portfolio_series(
    returns: pd.DataFrame | pd.Series, weights: Mapping[str, float] | None
) -> np.ndarray:
    if isinstance(returns, pd.Series):
        return clean_returns(returns.to_frame(), min_rows=2)[:, 0]
    if weights is None:
        if returns.shape[1] != 1:
            raise RiskInputError("weights are required for a panel of several assets", field="weights")
        return clean_returns(returns)[:, 0]
    w = aligned_weights(weights, returns)
    return clean_returns(returns) @ w


def empirical_var_es(losses: np.ndarray, confidence_level: float) -> tuple[float, float]:
    """VaR and ES of an empirical loss sample (module docstring: the quantile convention)."""
    n = losses.shape[0]
    k = math.ceil(confidence_level * n - 1e-9)  # tolerance: 0.95 * 100 is 95.00000000000001
    k = min(max(k, 1), n)
    ordered = np.sort(losses)
    var = float(ordered[k - 1])
    tail_mass = n * (1.0 - confidence_level)
    es = ((k - confidence_level * n) * ordered[k - 1] + ordered[k:].sum()) / tail_mass
    return var, float(max(es, var))


def empirical_tail_weights(losses: np.ndarray, confidence_level: float) -> tuple[int, np.ndarray]:
    """Index of the VaR scenario and the ES weight of every scenario (they sum to 1).

    Used for Euler attribution: component ES of asset i is ``sum_s weight_s * loss_{s,i}``.
    """
    n = losses.shape[0]
    k = min(max(math.ceil(confidence_level * n - 1e-9), 1), n)
    order = np.argsort(losses, kind="stable")
    tail_mass = n * (1.0 - confidence_level)
    weights = np.zeros(n)
    weights[order[k:]] = 1.0 / tail_mass
    weights[order[k - 1]] = (k - confidence_level * n) / tail_mass
    return int(order[k - 1]), weights


def var_historical(
    returns: pd.DataFrame | pd.Series,
    weights: Mapping[str, float] | None = None,
    *,
    confidence_level: float = 0.95,
    horizon_days: int = 1,
) -> VaRResult:
    """Historical VaR/ES: the empirical quantile of past (overlapping h-day) portfolio losses."""
    level = check_confidence(confidence_level)
    horizon = check_horizon(horizon_days)
    daily = _portfolio_series(returns, weights)
    period = compound_over(daily, horizon)
    if period.shape[0] * (1.0 - level) < 1.0:
        raise RiskInputError(
            f"{period.shape[0]} observations leave no tail at confidence {level}; "
            f"need at least {math.ceil(1.0 / (1.0 - level))}",
            field="returns",
        )
    var, es = empirical_var_es(-period, level)
    return VaRResult(var, es, level, horizon, "historical", int(period.shape[0]))


def normal_var_es(mean: float, std: float, confidence_level: float) -> tuple[float, float]:
    """Closed-form VaR/ES of a normal return N(mean, std^2) as positive losses."""
    z = stats.norm.ppf(confidence_level)
    var = -mean + z * std
    es = -mean + std * stats.norm.pdf(z) / (1.0 - confidence_level)
    return float(var), float(es)


def var_parametric(
    returns: pd.DataFrame | pd.Series,
    weights: Mapping[str, float] | None = None,
    *,
    confidence_level: float = 0.95,
    horizon_days: int = 1,
) -> VaRResult:
    """Normal (variance-covariance) VaR/ES: ``VaR = -mu h + z_a sigma sqrt(h)``."""
    level = check_confidence(confidence_level)
    horizon = check_horizon(horizon_days)
    series = _portfolio_series(returns, weights)
    mean, std = float(series.mean()), float(series.std(ddof=1))
    var, es = normal_var_es(mean * horizon, std * math.sqrt(horizon), level)
    return VaRResult(var, es, level, horizon, "parametric", int(series.shape[0]), "normal")


def cornish_fisher_var_es(
    mean: float, std: float, skew: float, excess_kurtosis: float, confidence_level: float
) -> tuple[float, float]:
    """Cornish-Fisher VaR and ES (positive losses).

    The return quantile at ``p = 1 - a`` is ``mean + std * z_cf(q)`` with ``q = Phi^-1(p)`` and
    ``z_cf(q) = q + (q^2-1) S/6 + (q^3-3q) K/24 - (2q^3-5q) S^2/36``. ES integrates the same
    expansion over the tail with the normal partial moments, which gives in closed form
    ``E[z_cf | Z < q] = phi(q) [-1 - q S/6 + (1-q^2) K/24 - (1-2q^2) S^2/36] / p``.
    """
    p = 1.0 - confidence_level
    q = stats.norm.ppf(p)
    s, k = skew, excess_kurtosis
    z_cf = q + (q**2 - 1) * s / 6 + (q**3 - 3 * q) * k / 24 - (2 * q**3 - 5 * q) * s**2 / 36
    tail_mean = (
        stats.norm.pdf(q)
        * (-1 - q * s / 6 + (1 - q**2) * k / 24 - (1 - 2 * q**2) * s**2 / 36)
        / p
    )
    var = -(mean + std * z_cf)
    es = -(mean + std * tail_mean)
    return float(var), float(max(es, var))


def cornish_fisher_is_monotone(skew: float | np.ndarray, excess_kurtosis: float | np.ndarray) -> bool | np.ndarray:
    """Whether ``z_cf(q)`` increases in ``q`` on the whole real line (Maillard 2012).

    ``dz_cf/dq = a q^2 + b q + c`` with ``a = K/8 - S^2/6``, ``b = S/3``,
    ``c = 1 - K/8 + 5 S^2/36``; it is positive for every ``q`` iff ``a >= 0`` and
    ``b^2 - 4 a c <= 0``. Outside this domain (e.g. excess kurtosis above 8 without
    skew, or any negative excess kurtosis) the expansion's "quantiles" are not
    ordered: a higher confidence can give a lower VaR.
    """
    s, k = np.asarray(skew, dtype=float), np.asarray(excess_kurtosis, dtype=float)
    a = k / 8 - s**2 / 6
    c = 1 - k / 8 + 5 * s**2 / 36
    ok = (a >= -1e-12) & (s**2 / 9 - 4 * a * c <= 1e-12)
    return bool(ok) if ok.ndim == 0 else ok


class CornishFisherDomainError(RiskInputError):
    """The sample's skewness and kurtosis are outside the expansion's monotone domain."""

    def __init__(self, skew: float, excess_kurtosis: float) -> None:
        super().__init__(
            f"the Cornish-Fisher expansion is not monotone for skewness {skew:.2f} and excess "
            f"kurtosis {excess_kurtosis:.2f} (it needs e.g. 0 <= kurtosis <= 8 without skew), so its "
            "quantile is not a VaR; use historical or a volatility-filtered method",
            field="method", skew=skew, excess_kurtosis=excess_kurtosis,
        )


def var_cornish_fisher(
    returns: pd.DataFrame | pd.Series,
    weights: Mapping[str, float] | None = None,
    *,
    confidence_level: float = 0.95,
    horizon_days: int = 1,
    on_invalid: Literal["historical", "raise"] = "historical",
) -> VaRResult:
    """Modified (Cornish-Fisher) VaR/ES from the sample mean, volatility, skewness, kurtosis.

    Skewness and excess kurtosis are the bias-corrected sample estimates
    (``scipy.stats.skew(bias=False)``, ``kurtosis(fisher=True, bias=False)``), scaled to
    the horizon before the domain check. Outside the monotone domain
    (:func:`cornish_fisher_is_monotone`): ``on_invalid="historical"`` returns
    :func:`var_historical` with method ``historical`` and the reason in ``note``;
    ``"raise"`` raises :class:`CornishFisherDomainError` (field ``method``).
    """
    level = check_confidence(confidence_level)
    horizon = check_horizon(horizon_days)
    series = _portfolio_series(returns, weights)
    if series.shape[0] < 4:
        raise RiskInputError("Cornish-Fisher needs at least 4 observations", field="returns")
    mean, std = float(series.mean()), float(series.std(ddof=1))
    if std == 0.0:
        skew = kurt = 0.0
    else:
        skew = float(stats.skew(series, bias=False))
        kurt = float(stats.kurtosis(series, fisher=True, bias=False))
    if not cornish_fisher_is_monotone(skew / math.sqrt(horizon), kurt / horizon):
        error = CornishFisherDomainError(skew / math.sqrt(horizon), kurt / horizon)
        if on_invalid == "raise":
            raise error
        fallback = var_historical(returns, weights, confidence_level=level, horizon_days=horizon)
        return VaRResult(**{**fallback.__dict__, "note": f"historical VaR instead: {error.message}"})
    var, es = cornish_fisher_var_es(
        mean * horizon,
        std * math.sqrt(horizon),
        skew / math.sqrt(horizon),
        kurt / horizon,
        level,
    )
    return VaRResult(var, es, level, horizon, "cornish_fisher", int(series.shape[0]), "cornish_fisher")


def covariance_factor(cov: np.ndarray) -> np.ndarray:
    """A lower-triangular-like factor ``L`` with ``L L' = cov``.

    The Cholesky factor when ``cov`` is positive definite; for a singular sample covariance
    (fewer days than assets, duplicated assets) the symmetric square root from the
    eigen-decomposition with negative rounding noise clipped to zero.
    """
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        eigval, eigvec = np.linalg.eigh(cov)
        return eigvec * np.sqrt(np.clip(eigval, 0.0, None))


def sample_moments_factor(panel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample mean, and the factor ``L`` of the sample covariance (ddof=1), computed with torch.

    Same numbers as ``panel.mean(0)`` and :func:`covariance_factor` of ``np.cov``; done in
    torch (float64) so that the simulation that follows stays in one thread pool — mixing
    numpy's OpenBLAS threads with torch's on a 2-core machine made a 500 x 500 Cholesky
    take ~0.7 s instead of milliseconds (the two pools spin against each other).
    """
    import torch

    x = torch.from_numpy(np.array(panel, dtype=np.float64))  # a copy: windows may be read-only views
    mean = x.mean(dim=0)
    centred = x - mean
    cov = centred.T @ centred / max(x.shape[0] - 1, 1)
    factor, info = torch.linalg.cholesky_ex(cov)
    if int(info) != 0:
        eigval, eigvec = torch.linalg.eigh(cov)
        factor = eigvec * torch.sqrt(torch.clamp(eigval, min=0.0))
    return mean.numpy(), factor.numpy()


def _check_mc_args(n_simulations: int, distribution: str, dof: float) -> None:
    if not (1_000 <= int(n_simulations) <= MAX_SIMULATIONS):
        raise RiskInputError(
            f"n_simulations must be between 1000 and {MAX_SIMULATIONS}; got {n_simulations}",
            field="n_simulations",
        )
    if distribution not in MC_DISTRIBUTIONS:
        raise RiskInputError(
            f"distribution must be one of {', '.join(MC_DISTRIBUTIONS)}; got {distribution!r}",
            field="distribution",
        )
    if distribution == "t" and not (dof > 2.0 and math.isfinite(dof)):
        raise RiskInputError("the Student-t needs dof > 2 (finite variance)", field="dof")


def _t_scale(n: int, dof: float, seed: int) -> np.ndarray:
    """Per-scenario multipliers turning normal draws into unit-variance multivariate-t draws."""
    chi2 = np.random.default_rng([seed, 1]).chisquare(dof, size=n)
    return np.sqrt((dof - 2.0) / chi2)


def simulate_portfolio_returns(
    mean: np.ndarray,
    factor: np.ndarray,
    weights: np.ndarray,
    *,
    n_simulations: int,
    horizon_days: int = 1,
    distribution: str = "normal",
    dof: float = 5.0,
    seed: int = 0,
    antithetic: bool = True,
) -> np.ndarray:
    """Simulated ``h``-day portfolio returns ``w'(mu h + sqrt(h) L z)``, shape ``(n,)``.

    Only the portfolio is needed, so instead of forming every asset's scenario
    (``Z @ L'``, an ``n x k x k`` matrix product) the draws are projected on the single
    vector ``b = L' w``: ``w' L z = z . b``. The result is the same random variable,
    computed with ``n x k`` multiply-adds. Normals are drawn with torch (float32,
    seeded generator, fixed chunks so the stream does not depend on the machine).

    ``antithetic``: draw ``ceil(n/2)`` vectors ``z`` and use both ``z`` and ``-z`` (a
    standard variance reduction; exact for the symmetric normal and t). Drawing the
    normals is most of the cost, so this halves the run time.
    """
    import torch

    n, k = int(n_simulations), factor.shape[0]
    b = torch.from_numpy(np.ascontiguousarray(factor.T @ weights, dtype=np.float32))
    generator = torch.Generator().manual_seed(int(seed))
    rows = max(1, _MC_CHUNK_ELEMENTS // max(k, 1))
    draws = (n + 1) // 2 if antithetic else n
    out = np.empty(n, dtype=np.float64)
    for start in range(0, draws, rows):
        m = min(rows, draws - start)
        z = torch.randn((m, k), generator=generator, dtype=torch.float32)
        out[start : start + m] = torch.mv(z, b).numpy()
    if antithetic:
        out[draws:] = -out[: n - draws]
    if distribution == "t":
        out *= _t_scale(n, dof, seed)
    out *= math.sqrt(horizon_days)
    out += float(mean @ weights) * horizon_days
    return out


def simulate_asset_returns(
    mean: np.ndarray,
    factor: np.ndarray,
    *,
    n_simulations: int,
    horizon_days: int = 1,
    distribution: str = "normal",
    dof: float = 5.0,
    seed: int = 0,
    antithetic: bool = True,
) -> np.ndarray:
    """Full asset scenarios ``mu h + sqrt(h) Z L'``, shape ``(n, k)`` (for attribution).

    Uses the same draws as :func:`simulate_portfolio_returns` with the same seed, so
    ``simulate_asset_returns(...) @ w`` equals the fast path up to float32 rounding.
    """
    import torch

    n, k = int(n_simulations), factor.shape[0]
    lt = torch.from_numpy(np.ascontiguousarray(factor.T, dtype=np.float32))
    generator = torch.Generator().manual_seed(int(seed))
    rows = max(1, _MC_CHUNK_ELEMENTS // max(k, 1))
    draws = (n + 1) // 2 if antithetic else n
    out = np.empty((n, k), dtype=np.float64)
    for start in range(0, draws, rows):
        m = min(rows, draws - start)
        z = torch.randn((m, k), generator=generator, dtype=torch.float32)
        out[start : start + m] = (z @ lt).numpy()
    if antithetic:
        out[draws:] = -out[: n - draws]
    if distribution == "t":
        out *= _t_scale(n, dof, seed)[:, None]
    out *= math.sqrt(horizon_days)
    out += mean * horizon_days
    return out


def var_monte_carlo(
    returns: pd.DataFrame | pd.Series,
    weights: Mapping[str, float] | None = None,
    *,
    confidence_level: float = 0.95,
    horizon_days: int = 1,
    n_simulations: int = 100_000,
    distribution: str = "normal",
    dof: float = 5.0,
    seed: int = 0,
    antithetic: bool = True,
) -> VaRResult:
    """Monte Carlo VaR/ES from ``n_simulations`` seeded scenarios ``mu + L z``.

    ``L`` is the Cholesky factor of the sample covariance (:func:`covariance_factor`);
    ``z`` is standard normal, or for ``distribution="t"`` a multivariate Student-t with
    ``dof`` degrees of freedom scaled to unit variance (so the covariance is still the
    sample covariance and only the tails fatten). VaR/ES use the empirical convention
    of the module docstring; the Monte Carlo standard error of VaR shrinks like
    ``1/sqrt(n_simulations)``. ``antithetic`` pairs every draw ``z`` with ``-z``
    (:func:`simulate_portfolio_returns`).
    """
    level = check_confidence(confidence_level)
    horizon = check_horizon(horizon_days)
    _check_mc_args(n_simulations, distribution, dof)
    w: np.ndarray | None
    if isinstance(returns, pd.Series):
        panel, w = clean_returns(returns.to_frame()), np.ones(1)
    else:
        panel = clean_returns(returns)
        w = aligned_weights(weights, returns) if weights is not None else None
        if w is None:
            if panel.shape[1] != 1:
                raise RiskInputError("weights are required for a panel of several assets", field="weights")
            w = np.ones(1)
    mean, factor = sample_moments_factor(panel)
    simulated = simulate_portfolio_returns(
        mean,
        factor,
        w,
        n_simulations=n_simulations,
        horizon_days=horizon,
        distribution=distribution,
        dof=dof,
        seed=seed,
        antithetic=antithetic,
    )
    var, es = empirical_var_es(-simulated, level)
    return VaRResult(var, es, level, horizon, "monte_carlo", int(n_simulations), distribution)


def value_at_risk(
    returns: pd.DataFrame | pd.Series,
    weights: Mapping[str, float] | None = None,
    *,
    method: str = "historical",
    confidence_level: float = 0.95,
    horizon_days: int = 1,
    n_simulations: int = 100_000,
    distribution: str = "normal",
    dof: float = 5.0,
    seed: int = 0,
) -> VaRResult:
    """Dispatch to one of the four methods by name (``VAR_METHODS``)."""
    level, horizon = confidence_level, horizon_days
    if method == "historical":
        return var_historical(returns, weights, confidence_level=level, horizon_days=horizon)
    if method == "parametric":
        return var_parametric(returns, weights, confidence_level=level, horizon_days=horizon)
    if method == "cornish_fisher":
        return var_cornish_fisher(returns, weights, confidence_level=level, horizon_days=horizon)
    if method == "monte_carlo":
        return var_monte_carlo(
            returns,
            weights,
            confidence_level=level,
            horizon_days=horizon,
            n_simulations=n_simulations,
            distribution=distribution,
            dof=dof,
            seed=seed,
        )
    raise RiskInputError(
        f"method must be one of {', '.join(VAR_METHODS)}; got {method!r}", field="method"
    )
