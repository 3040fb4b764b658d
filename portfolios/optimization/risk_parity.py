"""Risk budgeting (risk parity as the equal-budget case) and hierarchical risk parity.

Risk budgeting solves Spinu's (2013) strictly convex problem
``min 1/2 y'Sigma y - sum_i b_i log y_i`` by damped Newton; ``w = y / sum(y)`` has risk
contributions ``w_i (Sigma w)_i / w'Sigma w`` equal to the budgets ``b_i``.
HRP follows Lopez de Prado (2016): single-linkage clustering of the correlation distance
``sqrt((1 - rho) / 2)``, quasi-diagonal ordering, recursive bisection with inverse-variance
cluster weights (the same steps as PyPortfolioOpt's ``HRPOpt``).
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


def hrp_weights(cov: pd.DataFrame) -> pd.Series:
    """Hierarchical risk parity weights (long-only, summing to 1) from a covariance matrix."""
    sigma = cov.to_numpy(dtype=float)
    n = len(sigma)
    if n == 1:
        return pd.Series([1.0], index=cov.index)
    std = np.sqrt(np.diag(sigma))
    if (std <= 0).any():
        raise OptimizationError(
            "HRP needs every asset to have positive variance", field="risk_model"
        )
    corr = np.clip(sigma / np.outer(std, std), -1, 1)
    distance = np.sqrt(np.clip((1 - corr) / 2, 0, None))
    np.fill_diagonal(distance, 0)
    link = sch.linkage(squareform(distance, checks=False), "single")
    order = sch.to_tree(link, rd=False).pre_order()
    weights = np.ones(n)
    clusters = [order]
    while clusters:
        clusters = [
            part
            for cluster in clusters
            for part in (cluster[: len(cluster) // 2], cluster[len(cluster) // 2 :])
            if len(cluster) > 1
        ]
        for i in range(0, len(clusters), 2):
            left, right = clusters[i], clusters[i + 1]
            left_var, right_var = _cluster_variance(sigma, left), _cluster_variance(sigma, right)
            alpha = 1 - left_var / (left_var + right_var)
            weights[left] *= alpha
            weights[right] *= 1 - alpha
    return pd.Series(weights, index=cov.index)


def _cluster_variance(sigma: np.ndarray, members: list[int]) -> float:
    sub = sigma[np.ix_(members, members)]
    inverse_variance = 1 / np.diag(sub)
    w = inverse_variance / inverse_variance.sum()
    return float(w @ sub @ w)
