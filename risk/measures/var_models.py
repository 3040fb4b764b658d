"""Rolling one-day VaR forecasts of a portfolio return series, for backtesting and for tomorrow.

Every model here turns daily portfolio returns ``r_0 .. r_{n-1}`` into a forecast
``VaR_t`` for each day ``t`` from the returns **before** ``t`` only (a test cuts the
series and checks that earlier forecasts do not move), plus the forecast for day ``n``
(tomorrow). Losses are positive, as in :mod:`risk.measures.var`. Methods:

- ``historical``, ``parametric``, ``cornish_fisher``: the :mod:`.var` estimators on the
  last ``window_days`` returns (identical numbers; Cornish-Fisher days outside the
  monotone domain are counted in ``invalid_days`` and filled with historical VaR);
- ``monte_carlo``: :func:`.var.var_monte_carlo` (normal) on the window, re-simulated
  each day (seed ``seed + t``); ``monte_carlo_t``: the same with Student-t scenarios
  whose degrees of freedom match the window's kurtosis (:func:`.volatility.moment_dof`);
- ``ewma``: RiskMetrics (1996): ``VaR_t = z_a s_t``, ``s_t`` the EWMA volatility
  (``lambda = 0.94``), normal innovations;
- ``fhs_ewma``: filtered historical simulation (Barone-Adesi, Giannopoulos & Vosper
  1999; Hull & White 1998): the returns of the last ``window_days`` divided by their
  own EWMA volatility forecast, their empirical ``a``-quantile rescaled by today's
  volatility, ``VaR_t = s_t Q_a(-r_s / s_s)``;
- ``garch_t``: GARCH(1,1) with Student-t innovations (maximum likelihood,
  :func:`.volatility.garch_t_mle`, tested against arch), refitted every
  ``garch_refit_every`` days on the last ``garch_fit_window`` returns and filtered
  day by day in between, ``VaR_t = -s_t t~_nu^-1(1 - a)`` (unit-variance t);
- ``fhs_garch``: filtered historical simulation on the GARCH residuals;
- ``adaptive`` — **the default model**: see below.

FHS quantiles use the Weibull plotting position (``numpy.quantile(...,
method="weibull")``, the ``a (n + 1)``-th order statistic, interpolated): the plain
inverse-CDF quantile of 250 residuals at 99 % is the 3rd largest loss, which a new
draw exceeds with probability 3/251 = 1.2 %, not 1 %.

**The default (``adaptive``), a causal two-step rule** (docs/VAR_BACKTEST.md has the
figures that chose its settings on 1990-2005 and confirm them on 2006-2018):

1. *Target rate.* Aim at the exception rate ``p*`` at which a correct model lands in
   the Basel green zone in 95 % of 250-day blocks — the probability that defines the
   zone's upper edge (:func:`green_zone_target_rate`: 0.79 % for 99 % VaR, 2.49 % for
   97.5 %). At the nominal 1 % a perfectly calibrated model is yellow one year in nine.
2. *Selection.* Each candidate (``ADAPTIVE_CANDIDATES``: FHS-EWMA, GARCH-t, FHS-GARCH)
   forecasts the ``1 - p*`` quantile; on day ``t`` the one with the lowest quantile
   (tick) loss ``(1{L <= V} - (1 - p*)) (V - L)`` — the consistent scoring function
   for a quantile (Gneiting 2011; Giacomini & Komunjer 2005) — over the previous
   ``selection_window`` forecast days is used (FHS-EWMA before there is any history).
3. *Calibration.* The chosen forecast is scaled by ``c_t`` with
   ``log c_{t+1} = log c_t + eta (1{L_t > VaR_t} - p*)`` (a Robbins-Monro step, the
   multiplicative form of adaptive conformal inference, Gibbs & Candes 2021): every
   exception raises the VaR by ~``eta`` (10 %), every quiet day lowers it by
   ``eta p*``. Summing the steps, the exception rate over ``T`` days is
   ``p* + (log c_T - log c_0) / (eta T)``: it converges to ``p*`` whatever the returns
   do, as long as ``c`` stays inside its bounds ``[1/2, 2]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy import optimize, stats

from risk.measures._inputs import check_confidence
from risk.measures.errors import RiskInputError
from risk.measures.var import cornish_fisher_is_monotone, var_monte_carlo
from risk.measures.volatility import (
    RISKMETRICS_LAMBDA,
    GarchParams,
    ewma_variance,
    garch_t_mle,
    garch_variance,
    moment_dof,
    standardized_t_ppf,
)

DEFAULT_VAR_MODEL = "adaptive"
ADAPTIVE_CANDIDATES: tuple[str, ...] = ("fhs_ewma", "garch_t", "fhs_garch")
WINDOW_METHODS: tuple[str, ...] = ("historical", "parametric", "cornish_fisher", "monte_carlo", "monte_carlo_t")
FILTERED_METHODS: tuple[str, ...] = ("ewma", "fhs_ewma", "garch_t", "fhs_garch")
BACKTEST_METHODS: tuple[str, ...] = (DEFAULT_VAR_MODEL, *FILTERED_METHODS, *WINDOW_METHODS)
MIN_WINDOW = 20
BASEL_BLOCK_DAYS = 250


@dataclass(frozen=True)
class VaRModelConfig:
    """Settings of the rolling models (defaults: the product's, chosen on 1990-2005)."""

    window_days: int = 250
    """Returns before each forecast that the window methods use; also the number of
    standardized residuals whose quantile the FHS models take."""
    ewma_lambda: float = RISKMETRICS_LAMBDA
    """Decay of the EWMA variance (RiskMetrics' 0.94 for daily data)."""
    garch_fit_window: int = 1000
    """Returns (up to four years) each GARCH refit sees; at least ``window_days``."""
    garch_refit_every: int = 63
    """Days between GARCH refits (a quarter); the filter runs daily in between."""
    selection_window: int = 500
    """Forecast days whose tick loss ranks the adaptive model's candidates."""
    calibration_step: float = 0.1
    """``eta``: log-change of the adaptive scale per exception (chosen on 1990-2005)."""
    calibration_bounds: tuple[float, float] = (0.5, 2.0)
    """The adaptive scale ``c_t`` never leaves this range."""
    green_zone_probability: float = 0.95
    """The adaptive model aims at the rate at which a correct model is green this often."""
    n_simulations: int = 10_000
    """Scenarios per day for the Monte Carlo methods."""
    seed: int = 0
    """Monte Carlo seed; day ``t`` uses ``seed + t``."""

    def __post_init__(self) -> None:
        if int(self.window_days) < MIN_WINDOW:
            raise RiskInputError(f"window_days must be at least {MIN_WINDOW}; got {self.window_days}",
                                 field="window_days")


@dataclass(frozen=True)
class RollingForecast:
    """VaR forecasts for days ``first .. n`` of a return series of length ``n``.

    ``forecasts[i]`` is the forecast for day ``first + i`` (positive loss); the last
    one, for day ``n``, has no realised return yet (:attr:`next_day`).
    """

    method: str
    confidence_level: float
    first: int
    forecasts: np.ndarray
    invalid_days: int = 0
    """Cornish-Fisher only: days outside the monotone domain (filled with historical VaR)."""
    target_rate: float | None = None
    """Adaptive only: the exception rate aimed at (``p*``)."""
    chosen: np.ndarray | None = None
    """Adaptive only: index into ``ADAPTIVE_CANDIDATES`` of the model used each day."""
    scale: np.ndarray | None = None
    """Adaptive only: the calibration multiplier ``c_t`` of each day."""
    candidates: dict[str, np.ndarray] = field(default_factory=dict)
    """Adaptive only: each candidate's own forecasts of the ``1 - p*`` quantile."""

    @property
    def backtested(self) -> np.ndarray:
        """The forecasts of the days that have a realised return (all but the last)."""
        return self.forecasts[:-1]

    @property
    def next_day(self) -> float:
        return float(self.forecasts[-1])

    @property
    def current_model(self) -> str | None:
        """Adaptive only: the candidate the rule uses for the next day."""
        return None if self.chosen is None else ADAPTIVE_CANDIDATES[int(self.chosen[-1])]


def green_zone_target_rate(
    confidence_level: float, *, probability: float = 0.95, block_days: int = BASEL_BLOCK_DAYS
) -> float:
    """The exception rate ``p*`` at which ``P(Binomial(block_days, p*) <= g) = probability``,
    ``g`` the green zone's largest exception count at the nominal rate (BCBS 1996:
    green while the binomial CDF is below 95 %). 0.0079 for 99 % over 250 days (g = 4)."""
    level = check_confidence(confidence_level)
    nominal = 1.0 - level
    counts = np.arange(block_days + 1)
    green = int(counts[stats.binom.cdf(counts, block_days, nominal) < 0.95].max(initial=0))
    if stats.binom.cdf(green, block_days, nominal) >= probability:
        return nominal
    return float(optimize.brentq(lambda p: stats.binom.cdf(green, block_days, p) - probability, 1e-9, nominal))


def _series(returns: np.ndarray | pd.Series) -> np.ndarray:
    r = np.asarray(returns, dtype=float)
    if r.ndim != 1:
        raise RiskInputError("the returns must be one series (the portfolio's)", field="returns")
    if not np.all(np.isfinite(r)):
        raise RiskInputError("returns contain missing or infinite values", field="returns")
    return r


def _windows(r: np.ndarray, window: int, first: int) -> np.ndarray:
    """Row ``i``: the returns ``r[t - window : t]`` for ``t = first + i``, up to ``t = n``."""
    return sliding_window_view(r, window)[first - window :]


def _empirical_quantile_loss(losses: np.ndarray, level: float) -> np.ndarray:
    """The module's historical convention (var.empirical_var_es): the ceil(a n)-th smallest loss."""
    n = losses.shape[1]
    k = min(max(math.ceil(level * n - 1e-9), 1), n)
    return np.partition(losses, k - 1, axis=1)[:, k - 1]


def _historical(windows: np.ndarray, level: float) -> np.ndarray:
    if windows.shape[1] * (1.0 - level) < 1.0:
        raise RiskInputError(
            f"a window of {windows.shape[1]} days leaves no tail at confidence {level}; "
            f"need at least {math.ceil(1.0 / (1.0 - level))}", field="window_days")
    return _empirical_quantile_loss(-windows, level)


def _parametric(windows: np.ndarray, level: float) -> np.ndarray:
    return -windows.mean(axis=1) + stats.norm.ppf(level) * windows.std(axis=1, ddof=1)


def _cornish_fisher(windows: np.ndarray, level: float) -> tuple[np.ndarray, int]:
    mean, std = windows.mean(axis=1), windows.std(axis=1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.nan_to_num(stats.skew(windows, axis=1, bias=False))
        k = np.nan_to_num(stats.kurtosis(windows, axis=1, fisher=True, bias=False))
    q = stats.norm.ppf(1.0 - level)
    z = q + (q**2 - 1) * s / 6 + (q**3 - 3 * q) * k / 24 - (2 * q**3 - 5 * q) * s**2 / 36
    var = -(mean + std * z)
    valid = np.asarray(cornish_fisher_is_monotone(s, k), dtype=bool)  # one flag per window
    if not valid.all():
        var = np.where(valid, var, _historical(windows, level))
    return var, int((~valid).sum())


def _monte_carlo(windows: np.ndarray, level: float, config: VaRModelConfig, first: int, *, t_dist: bool) -> np.ndarray:
    out = np.empty(windows.shape[0])
    for i, window in enumerate(windows):
        dof = moment_dof(window) if t_dist else 5.0
        out[i] = var_monte_carlo(
            pd.Series(window.copy()), confidence_level=level, n_simulations=config.n_simulations,
            distribution="t" if t_dist else "normal", dof=dof, seed=config.seed + first + i,
        ).var
    return out


def _fhs(r: np.ndarray, sigma: np.ndarray, window: int, first: int, level: float) -> np.ndarray:
    """``sigma[t] * Q_a(-r_s / sigma_s, s in [t - window, t))`` for ``t = first .. n``."""
    residuals = r / sigma[: r.shape[0]]
    quantiles = np.quantile(-_windows(residuals, window, first), level, axis=1, method="weibull")
    return sigma[first:] * quantiles


def _with_tomorrow(r: np.ndarray) -> np.ndarray:
    """The series with a placeholder for day ``n``: causal filters never read it, and
    their value at ``n`` is the forecast for tomorrow."""
    return np.append(r, 0.0)


def ewma_volatility(r: np.ndarray, lam: float) -> np.ndarray:
    """EWMA volatility forecasts for days ``0 .. n`` (``n`` = tomorrow)."""
    return np.sqrt(ewma_variance(_with_tomorrow(r), lam=lam))


@dataclass(frozen=True)
class GarchPath:
    """GARCH-t volatility forecasts for days ``first .. n`` and the fits that made them.

    The fits do not depend on the VaR level, so one path serves every level and both
    GARCH methods (:func:`rolling_var_many` shares it).
    """

    sigma: np.ndarray
    """``sigma[i]``: the forecast for day ``first + i``."""
    nu: np.ndarray
    """Degrees of freedom of the fit in force on each day."""
    residual_quantiles: dict[float, np.ndarray]
    """FHS: per level ``a``, ``Q_a`` of the last ``window`` standardized losses, per day."""
    fits: list[GarchParams]

    def t_var(self, level: float) -> np.ndarray:
        return -standardized_t_ppf(1.0 - level, self.nu) * self.sigma

    def fhs_var(self, level: float) -> np.ndarray:
        return self.residual_quantiles[level] * self.sigma


def garch_path(
    r: np.ndarray, *, first: int, levels: tuple[float, ...], config: VaRModelConfig
) -> GarchPath:
    """Refit every ``garch_refit_every`` days from ``first`` on (on the preceding
    ``max(garch_fit_window, window_days)`` returns), filter each segment with its fit.

    A refit that does not converge keeps the previous fit's parameters.
    """
    n, window = r.shape[0], int(config.window_days)
    extended = _with_tomorrow(r)
    fit_window = max(config.garch_fit_window, window)
    days = n + 1 - first
    sigma, nu = np.empty(days), np.empty(days)
    q_resid = {level: np.empty(days) for level in levels}
    fits: list[GarchParams] = []
    params: GarchParams | None = None
    for start in range(first, n + 1, config.garch_refit_every):
        lo = max(0, start - fit_window)
        fitted = garch_t_mle(r[lo:start], starting=params)
        if fitted.converged or params is None:
            params = fitted
        fits.append(fitted)
        stop = min(start + config.garch_refit_every, n + 1)
        # segment[j]: the forecast for day lo + j, from the returns lo .. lo + j - 1
        segment = np.sqrt(garch_variance(extended[lo:stop], params, initial=params.backcast))
        days_here = slice(start - first, stop - first)
        sigma[days_here] = segment[start - lo :]
        nu[days_here] = params.nu
        # FHS: day t's residual window is z[t - window - lo : t - lo] (start - lo >= window)
        residuals = extended[lo : stop - 1] / segment[: stop - 1 - lo]
        windows = -sliding_window_view(residuals, window)[start - window - lo :]
        for level in levels:
            q_resid[level][days_here] = np.quantile(windows, level, axis=1, method="weibull")
    return GarchPath(sigma, nu, q_resid, fits)


def _check(returns, method: str, config: VaRModelConfig, first: int | None) -> tuple[np.ndarray, int]:
    r = _series(returns)
    window = int(config.window_days)
    first = window if first is None else int(first)
    if method not in BACKTEST_METHODS:
        raise RiskInputError(f"method must be one of {', '.join(BACKTEST_METHODS)}; got {method!r}",
                             field="method")
    if first < window or r.shape[0] < first:
        raise RiskInputError(
            f"need at least {window} returns before the first forecast; got {min(first, r.shape[0])}",
            field="returns")
    return r, first


def rolling_var(
    returns: np.ndarray | pd.Series,
    *,
    method: str = DEFAULT_VAR_MODEL,
    confidence_level: float = 0.99,
    config: VaRModelConfig | None = None,
    first: int | None = None,
) -> RollingForecast:
    """Causal one-day VaR forecasts for days ``first .. n`` (``first`` defaults to
    ``window_days``, the first day with a full window before it).

    Raises :class:`RiskInputError` for an unknown method (field ``method``), a series too
    short for the window (field ``returns``) or a window with no tail (``window_days``).
    """
    return rolling_var_many(returns, methods=(method,), confidence_level=confidence_level,
                            config=config, first=first)[method]


def rolling_var_many(
    returns: np.ndarray | pd.Series,
    *,
    methods: tuple[str, ...],
    confidence_level: float = 0.99,
    config: VaRModelConfig | None = None,
    first: int | None = None,
) -> dict[str, RollingForecast]:
    """:func:`rolling_var` for several methods at once, sharing the EWMA filter and the
    GARCH fits (the costly part: one fit a quarter) between the methods that use them."""
    config = config or VaRModelConfig()
    level = check_confidence(confidence_level)
    if not methods:
        raise RiskInputError("give at least one method", field="method")
    r, first = _check(returns, methods[0], config, first)
    for method in methods[1:]:
        _check(r, method, config, first)
    target = green_zone_target_rate(level, probability=config.green_zone_probability)
    needs_garch = {"garch_t", "fhs_garch", DEFAULT_VAR_MODEL} & set(methods)
    path: GarchPath | None = None
    if needs_garch:
        levels = tuple(sorted({level, 1.0 - target} if DEFAULT_VAR_MODEL in methods else {level}))
        path = garch_path(r, first=first, levels=levels, config=config)
    sigma = ewma_volatility(r, config.ewma_lambda)
    out: dict[str, RollingForecast] = {}
    for method in methods:
        if method in WINDOW_METHODS:
            out[method] = _windowed(r, method, level, config, first)
        elif method == "ewma":
            out[method] = RollingForecast(method, level, first, stats.norm.ppf(level) * sigma[first:])
        elif method == "fhs_ewma":
            out[method] = RollingForecast(method, level, first, _fhs(r, sigma, config.window_days, first, level))
        else:
            assert path is not None, "fitted above for every GARCH method"
            if method == DEFAULT_VAR_MODEL:
                out[method] = _adaptive(r, level=level, target=target, sigma=sigma, path=path, config=config,
                                        first=first)
            elif method == "garch_t":
                out[method] = RollingForecast(method, level, first, path.t_var(level))
            else:
                out[method] = RollingForecast(method, level, first, path.fhs_var(level))
    return out


def _windowed(r: np.ndarray, method: str, level: float, config: VaRModelConfig, first: int) -> RollingForecast:
    windows = _windows(r, int(config.window_days), first)
    invalid = 0
    if method == "historical":
        var = _historical(windows, level)
    elif method == "parametric":
        var = _parametric(windows, level)
    elif method == "cornish_fisher":
        var, invalid = _cornish_fisher(windows, level)
    else:
        var = _monte_carlo(windows, level, config, first, t_dist=method == "monte_carlo_t")
    return RollingForecast(method, level, first, var, invalid_days=invalid)


def _adaptive(
    r: np.ndarray, *, level: float, target: float, sigma: np.ndarray, path: GarchPath,
    config: VaRModelConfig, first: int,
) -> RollingForecast:
    aim = 1.0 - target
    candidates = {
        "fhs_ewma": _fhs(r, sigma, config.window_days, first, aim),
        "garch_t": path.t_var(aim),
        "fhs_garch": path.fhs_var(aim),
    }
    stacked = np.column_stack([candidates[name] for name in ADAPTIVE_CANDIDATES])
    losses = -r[first:]
    days = stacked.shape[0]
    # tick loss of each candidate on every day with a realised loss, then trailing sums
    tick = ((losses[:, None] <= stacked[:-1]) - aim) * (stacked[:-1] - losses[:, None])
    cumulative = np.vstack([np.zeros(len(ADAPTIVE_CANDIDATES)), np.cumsum(tick, axis=0)])
    idx = np.arange(days)
    trailing = cumulative[idx] - cumulative[np.maximum(idx - config.selection_window, 0)]
    chosen = np.where(idx == 0, 0, np.argmin(trailing, axis=1))
    base = stacked[idx, chosen]
    forecasts, scale = _calibrate(base, losses, target, config)
    return RollingForecast(DEFAULT_VAR_MODEL, level, first, forecasts, target_rate=target,
                           chosen=chosen, scale=scale, candidates=candidates)


def _calibrate(
    base: np.ndarray, losses: np.ndarray, target: float, config: VaRModelConfig
) -> tuple[np.ndarray, np.ndarray]:
    """``VaR_t = c_t base_t`` with the Robbins-Monro update of the module docstring."""
    step = config.calibration_step
    low, high = math.log(config.calibration_bounds[0]), math.log(config.calibration_bounds[1])
    log_c = 0.0
    scale = np.empty(base.shape[0])
    base_list, loss_list = base.tolist(), losses.tolist()
    for t in range(base.shape[0]):
        c = math.exp(log_c)
        scale[t] = c
        if t < len(loss_list):
            hit = 1.0 if loss_list[t] > c * base_list[t] else 0.0
            log_c = min(max(log_c + step * (hit - target), low), high)
    return scale * base, scale
