"""Estimators of expected returns and risk models, annualised.

Expected returns: :func:`mean_historical_return` (geometric or arithmetic),
:func:`ema_historical_return` (exponentially weighted), :func:`capm_return` (CAPM
against a benchmark or, without one, the equal-weighted universe).
Risk models: :func:`sample_cov`, :func:`ledoit_wolf` (scikit-learn's shrinkage towards
a scaled identity), :func:`exp_cov` (exponentially weighted), and
:func:`fix_nonpositive_semidefinite` to repair a matrix that is not PSD.

Every estimator takes **simple periodic returns** (dates x symbols, as produced by
``marketdata.selectors.return_panel_get``) and annualises with ``frequency`` periods per
year (252 trading days by default). NaN cells (a stock not yet listed) are skipped per
column / per pair, which is what PyPortfolioOpt 1.6 does with ``pct_change().dropna(how="all")``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .exceptions import OptimizationError

TRADING_DAYS_PER_YEAR = 252

EXPECTED_RETURN_ESTIMATORS = ("mean_historical", "ema", "capm")
RISK_MODELS = ("sample_cov", "ledoit_wolf", "exp_cov")


def returns_from_prices(prices: pd.DataFrame) -> pd.DataFrame:
    """Simple returns of a price panel, leaving NaN before a listing (PyPortfolioOpt's convention)."""
    return prices.pct_change(fill_method=None).dropna(how="all")


def _check(returns: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(returns, pd.DataFrame) or returns.shape[1] == 0:
        raise OptimizationError("returns must be a non-empty DataFrame of dates x symbols")
    if returns.count().min() < 2:
        raise OptimizationError("every symbol needs at least two returns", field="start")
    values = returns.to_numpy(dtype=float)
    if np.isinf(values).any():
        raise OptimizationError("returns contain infinite values", field="returns")
    return returns.astype(float)


def mean_historical_return(
    returns: pd.DataFrame, *, compounding: bool = True, frequency: int = TRADING_DAYS_PER_YEAR
) -> pd.Series:
    """Annualised mean return: the CAGR when ``compounding`` (geometric), else ``mean * frequency``."""
    returns = _check(returns)
    if compounding:
        return (1 + returns).prod() ** (frequency / returns.count()) - 1
    return returns.mean() * frequency


def ema_historical_return(
    returns: pd.DataFrame,
    *,
    span: int = 500,
    compounding: bool = True,
    frequency: int = TRADING_DAYS_PER_YEAR,
) -> pd.Series:
    """Annualised exponentially weighted mean return (``span`` periods), recent days weigh more."""
    returns = _check(returns)
    ewm_mean = returns.ewm(span=span).mean().iloc[-1]
    if compounding:
        return (1 + ewm_mean) ** frequency - 1
    return ewm_mean * frequency


def capm_return(
    returns: pd.DataFrame,
    *,
    market_returns: pd.Series | None = None,
    risk_free_rate: float = 0.0,
    compounding: bool = True,
    frequency: int = TRADING_DAYS_PER_YEAR,
) -> pd.Series:
    """CAPM expected returns ``rf + beta_i (E[R_m] - rf)``, annualised.

    ``market_returns`` are the benchmark's simple returns on the same periods; without
    one the equal-weighted universe is the market proxy (as in PyPortfolioOpt).
    """
    returns = _check(returns).copy()
    if market_returns is None:
        market = returns.mean(axis=1)
    else:
        market = pd.Series(market_returns, dtype=float).reindex(returns.index)
    frame = returns.assign(__mkt__=market)
    cov = frame.cov()
    betas = (cov["__mkt__"] / cov.loc["__mkt__", "__mkt__"]).drop("__mkt__")
    if compounding:
        market_mean = (1 + frame["__mkt__"]).prod() ** (frequency / frame["__mkt__"].count()) - 1
    else:
        market_mean = frame["__mkt__"].mean() * frequency
    return risk_free_rate + betas * (market_mean - risk_free_rate)


def is_positive_semidefinite(matrix: np.ndarray | pd.DataFrame) -> bool:
    try:
        np.linalg.cholesky(np.asarray(matrix, dtype=float) + 1e-16 * np.eye(len(matrix)))
    except np.linalg.LinAlgError:
        return False
    return True


def fix_nonpositive_semidefinite(matrix: pd.DataFrame, *, method: str = "spectral") -> pd.DataFrame:
    """Return ``matrix`` if it is PSD, else a repaired copy.

    ``spectral`` clips negative eigenvalues to zero and rebuilds the matrix; ``diag``
    adds ``1.1 * |min eigenvalue|`` to the diagonal. The result is symmetric.
    """
    values = np.asarray(matrix, dtype=float)
    if not np.isfinite(values).all():
        raise OptimizationError(
            "the covariance matrix has missing or infinite entries", field="risk_model"
        )
    values = (values + values.T) / 2
    if not is_positive_semidefinite(values):
        eigenvalues, vectors = np.linalg.eigh(values)
        if method == "spectral":
            values = (vectors * np.clip(eigenvalues, 0, None)) @ vectors.T
        elif method == "diag":
            values = values - 1.1 * eigenvalues.min() * np.eye(len(values))
        else:
            raise OptimizationError(f"unknown PSD repair method {method!r}; use spectral or diag")
        values = (values + values.T) / 2
    if isinstance(matrix, pd.DataFrame):
        return pd.DataFrame(values, index=matrix.index, columns=matrix.columns)
    return pd.DataFrame(values)


def sample_cov(returns: pd.DataFrame, *, frequency: int = TRADING_DAYS_PER_YEAR) -> pd.DataFrame:
    """Annualised sample covariance (pairwise over the periods both symbols have), made PSD."""
    returns = _check(returns)
    return fix_nonpositive_semidefinite(returns.cov() * frequency)


def ledoit_wolf(returns: pd.DataFrame, *, frequency: int = TRADING_DAYS_PER_YEAR) -> pd.DataFrame:
    """Ledoit-Wolf shrinkage towards a scaled identity (scikit-learn), annualised.

    Missing cells count as zero returns, as in PyPortfolioOpt's ``CovarianceShrinkage``.
    """
    from sklearn.covariance import ledoit_wolf as sk_ledoit_wolf

    returns = _check(returns)
    shrunk, _ = sk_ledoit_wolf(np.nan_to_num(returns.to_numpy()))
    cov = pd.DataFrame(shrunk * frequency, index=returns.columns, columns=returns.columns)
    return fix_nonpositive_semidefinite(cov)


def exp_cov(
    returns: pd.DataFrame, *, span: int = 180, frequency: int = TRADING_DAYS_PER_YEAR
) -> pd.DataFrame:
    """Exponentially weighted covariance (``span`` periods), annualised and made PSD.

    Equals PyPortfolioOpt's pairwise ``exp_cov``: products of demeaned returns averaged with
    pandas' ``ewm(span).mean()`` weights (adjust=True), skipping periods where either is NaN;
    computed with two matrix products instead of an n^2 loop.
    """
    returns = _check(returns)
    centred = (returns - returns.mean()).to_numpy()
    mask = ~np.isnan(centred)
    centred = np.where(mask, centred, 0.0)
    alpha = 2.0 / (span + 1.0)
    periods = len(centred)
    weights = (1 - alpha) ** np.arange(periods - 1, -1, -1)
    numerator = (centred * weights[:, None]).T @ centred
    denominator = (mask * weights[:, None]).T.astype(float) @ mask.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = numerator / denominator
    cov = pd.DataFrame(cov * frequency, index=returns.columns, columns=returns.columns)
    return fix_nonpositive_semidefinite(cov)


def expected_returns_estimate(
    returns: pd.DataFrame,
    method: str,
    *,
    risk_free_rate: float = 0.0,
    market_returns: pd.Series | None = None,
    frequency: int = TRADING_DAYS_PER_YEAR,
) -> pd.Series:
    """Dispatch by name: ``mean_historical`` (geometric), ``ema`` or ``capm``."""
    if method == "mean_historical":
        return mean_historical_return(returns, frequency=frequency)
    if method == "ema":
        return ema_historical_return(returns, frequency=frequency)
    if method == "capm":
        return capm_return(
            returns,
            market_returns=market_returns,
            risk_free_rate=risk_free_rate,
            frequency=frequency,
        )
    raise OptimizationError(
        f"unknown expected-returns estimator {method!r}; use one of {', '.join(EXPECTED_RETURN_ESTIMATORS)}",
        field="expected_returns",
    )


def risk_model_estimate(
    returns: pd.DataFrame, method: str, *, frequency: int = TRADING_DAYS_PER_YEAR
) -> pd.DataFrame:
    """Dispatch by name: ``sample_cov``, ``ledoit_wolf`` or ``exp_cov``."""
    if method == "sample_cov":
        return sample_cov(returns, frequency=frequency)
    if method == "ledoit_wolf":
        return ledoit_wolf(returns, frequency=frequency)
    if method == "exp_cov":
        return exp_cov(returns, frequency=frequency)
    raise OptimizationError(
        f"unknown risk model {method!r}; use one of {', '.join(RISK_MODELS)}", field="risk_model"
    )
