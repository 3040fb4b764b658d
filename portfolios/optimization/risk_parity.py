"""Risk budgeting (risk parity as the equal-budget case) and hierarchical risk parity.

Risk budgeting solves Spinu's (2013) strictly convex problem
``min 1/2 y'Sigma y - sum_i b_i log y_i`` by damped Newton; ``w = y / sum(y)`` has risk
contributions ``w_i (Sigma w)_i / w'Sigma w`` equal to the budgets ``b_i``.
HRP follows Lopez de Prado (2016), "Building diversified portfolios that outperform out of
sample", J. Portfolio Management 42(4): single-linkage clustering of the correlation distance
``sqrt((1 - rho) / 2)``, quasi-diagonal ordering, recursive bisection with inverse-variance
cluster weights -- the same steps as PyPortfolioOpt's ``HRPOpt``. The correlation is the
returns' own, pairwise-complete (``returns.corr()``) when returns are given, as in ``HRPOpt``:
a pairwise covariance divided by full-history volatilities is not a correlation when series
start on different dates. The bisection uses the caller's covariance (its risk model), where
``HRPOpt`` given returns would re-estimate ``returns.cov()``; the two agree for ``sample_cov``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.cluster.hierarchy as sch
from scipy.spatial.distance import squareform

from .exceptions import OptimizationError


def risk_budget_weights(
    sigma: np.ndarray, budgets: np.ndarray, *, tol: float = 1e-12
) -> np.ndarray:
    """Long-only weights summing to 1 whose risk contributions equal ``budgets`` (summing to 1)."""
    b = np.asarray(budgets, dtype=float)
    y = b / np.sqrt(b @ sigma @ b)
    for _ in range(200):
        gradient = sigma @ y - b / y
        hessian = sigma + np.diag(b / y**2)
        step = np.linalg.solve(hessian, gradient)
        decrement = float(gradient @ step)
        t = 1.0
        # damped Newton: keep y > 0 (the log barrier's domain)
        while (y - t * step <= 0).any():
            t *= 0.5
        y = y - t * step
        if decrement / 2 < tol and t == 1.0:
            break
    else:  # pragma: no cover - the problem is strictly convex, Newton converges
        raise OptimizationError("risk budgeting did not converge")
    return y / y.sum()


def hrp_weights(cov: pd.DataFrame, corr: pd.DataFrame | None = None) -> pd.Series:
    """Hierarchical risk parity weights (long-only, summing to 1), in ``cov``'s order.

    ``corr`` is the correlation the assets are clustered on: give the returns' own
    (``returns.corr()``, pairwise-complete, as ``HRPOpt(returns)`` does) when series start on
    different dates; without it, ``cov`` scaled by its diagonal (``HRPOpt(cov_matrix=...)``).
    ``cov`` weighs the clusters in the bisection.
    """
    return hrp_allocation(cov, corr)[0]


def hrp_allocation(
    cov: pd.DataFrame, corr: pd.DataFrame | None = None
) -> tuple[pd.Series, list[str]]:
    """:func:`hrp_weights` and the quasi-diagonal order of the symbols they came from."""
    sigma = cov.to_numpy(dtype=float)
    if len(sigma) == 1:
        return pd.Series([1.0], index=cov.index), list(cov.index)
    if (np.diag(sigma) <= 0).any():
        raise OptimizationError(
            "HRP needs every asset to have positive variance", field="risk_model"
        )
    order = quasi_diagonal_order(_correlation(cov, corr))
    weights = recursive_bisection(sigma, order)
    return pd.Series(weights, index=cov.index), [cov.index[i] for i in order]


def quasi_diagonal_order(corr: pd.DataFrame) -> list[int]:
    """Leaf order of the single-linkage tree on the distance ``sqrt((1 - rho) / 2)``.

    Lopez de Prado (2016), snippets 16.1-16.2; the pre-order of scipy's tree is the
    quasi-diagonal order (PyPortfolioOpt's ``_get_quasi_diag``).
    """
    distance = np.sqrt(np.clip((1.0 - corr.to_numpy(dtype=float)) / 2.0, 0.0, 1.0))
    np.fill_diagonal(distance, 0.0)
    link = sch.linkage(squareform(distance, checks=False), "single")
    return sch.to_tree(link, rd=False).pre_order()


def recursive_bisection(sigma: np.ndarray, order: list[int]) -> np.ndarray:
    """Top-down bisection of ``order``: each half gets ``1 - V_half / (V_left + V_right)``.

    ``V`` is the variance of the half's inverse-variance portfolio (Lopez de Prado 2016,
    snippet 16.4). Weights are returned by asset index.
    """
    weights = np.ones(len(sigma))
    clusters = [list(order)]
    while clusters:
        clusters = [
            part
            for cluster in clusters
            for part in (cluster[: len(cluster) // 2], cluster[len(cluster) // 2 :])
            if len(cluster) > 1
        ]
        for i in range(0, len(clusters), 2):
            left, right = clusters[i], clusters[i + 1]
            left_var, right_var = cluster_variance(sigma, left), cluster_variance(sigma, right)
            alpha = 1 - left_var / (left_var + right_var)
            weights[left] *= alpha
            weights[right] *= 1 - alpha
    return weights


def cluster_variance(sigma: np.ndarray, members: list[int]) -> float:
    """Variance of the inverse-variance portfolio of ``members``."""
    sub = sigma[np.ix_(members, members)]
    inverse_variance = 1 / np.diag(sub)
    w = inverse_variance / inverse_variance.sum()
    return float(w @ sub @ w)


def pairwise_correlation(returns: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlation over the periods each pair has in common: pandas' ``returns.corr()``.

    Computed with four matrix products instead of pandas' loop over pairs (500 assets x 2520
    days with late starts: 0.30 s against 1.8 s with one BLAS thread, 1.0 s against 1.7 s
    with two on a loaded machine; ``np.corrcoef`` when nothing is missing). Columns are centred
    on their own mean first, which changes no correlation and keeps the one-pass sums from
    cancelling: it agrees with pandas to 1e-14 (tested). A pair with fewer than two common
    periods is NaN, as in pandas.
    """
    values = returns.to_numpy(dtype=float)
    mask = ~np.isnan(values)
    if mask.all():
        corr = np.corrcoef(values, rowvar=False)
    else:
        present = mask.astype(float)
        x = np.where(mask, values - np.nanmean(values, axis=0), 0.0)
        common = present.T @ present  # periods both have
        sums = x.T @ present  # sums[i, j]: sum of x_i over the periods both have
        squares = (x * x).T @ present
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = x.T @ x - sums * sums.T / common
            var = squares - sums * sums / common
            corr = cov / np.sqrt(var * var.T)
        corr[common < 2] = np.nan
    corr = np.clip(np.atleast_2d(corr), -1.0, 1.0)
    np.fill_diagonal(corr, 1.0)
    return pd.DataFrame(corr, index=returns.columns, columns=returns.columns)


def _correlation(cov: pd.DataFrame, corr: pd.DataFrame | None) -> pd.DataFrame:
    if corr is None:
        std = np.sqrt(np.diag(cov.to_numpy(dtype=float)))
        corr = pd.DataFrame(
            np.clip(cov.to_numpy(dtype=float) / np.outer(std, std), -1, 1),
            index=cov.index,
            columns=cov.columns,
        )
    elif list(corr.index) != list(cov.index) or list(corr.columns) != list(cov.columns):
        raise OptimizationError(
            "the correlation matrix must list the covariance's symbols in its order",
            field="returns",
        )
    values = corr.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        rows, cols = np.nonzero(~np.isfinite(values))
        a, b = corr.index[rows[0]], corr.columns[cols[0]]
        raise OptimizationError(
            f"HRP cannot correlate {a} and {b}: their returns overlap on too few days "
            "(or one is constant); give a longer common history or drop one",
            field="returns",
        )
    return corr
