"""``efficient_frontier``: the facade that picks the path for the constraints and types the result.

- linear constraints: the parametric QP of :mod:`.frontier` (``parametric_qp``);
- a turnover cap and/or proportional costs from current weights: the rebalancing path of
  :mod:`.rebalancing` (also ``parametric_qp``: the same algorithm with kink states);
- ``max_holdings`` / ``min_position``: the support search of :mod:`.cardinality`
  (``support_search``), or the relaxed path itself where the limit never binds;
- a degenerate active set on any path: one cvxpy solve per point (:mod:`.frontier_cvxpy`).

Whatever the path, every point is re-checked against every constraint before it is returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .cardinality import CardinalityFrontier, most_names
from .constraints import Constraints
from .exceptions import OptimizationError, PathError, UnsupportedOptions
from .frontier import linear_frontier
from .frontier_cvxpy import frontier_cvxpy
from .path import RebalancingPath, place_targets
from .problem import Inputs, align_inputs, violations
from .rebalancing import RebalancingQP
from .results import Frontier, FrontierPoint

MAX_POINTS = 500
METHODS = ("auto", "parametric_qp", "support_search", "cvxpy_parametric")


@dataclass
class _Traced:
    """What one method produced, before the shared checks and statistics."""

    weights: np.ndarray
    tangency: np.ndarray
    method: str
    corners: int = 0
    unreachable: int = 0
    supports: int = 0
    lower_bounds: np.ndarray | None = None


def _frontier_parametric(inp: Inputs, points: int, targets: np.ndarray | None) -> _Traced:
    weights, tangency, corners, unreachable = linear_frontier(inp, points, targets)
    return _Traced(weights, tangency, "parametric_qp", corners, unreachable)


def _rebalancing_path(inp: Inputs) -> RebalancingPath:
    c = inp.constraints
    qp = RebalancingQP(
        inp.sigma,
        inp.mu,
        inp.form,
        inp.current,
        cost=c.transaction_cost,
        max_turnover=c.max_turnover,
    )
    return RebalancingPath.trace(qp)


def _frontier_rebalancing(
    inp: Inputs, points: int, targets: np.ndarray | None, path: RebalancingPath | None = None
) -> _Traced:
    """The exact path under a turnover cap and proportional costs (:mod:`.rebalancing`)."""
    path = path or _rebalancing_path(inp)
    targets, unreachable = place_targets(targets, path.min_net, path.max_net, points)
    offset = inp.risk_free_rate * (1 - inp.form.budget)
    tangency = path.tangency(inp.sigma, offset, inp.risk_free_rate)
    return _Traced(
        path.weights_at(targets), tangency, "parametric_qp", len(path.segments), unreachable
    )


def _frontier_cardinality(inp: Inputs, points: int, targets: np.ndarray | None) -> _Traced:
    """Support search over exact paths (:mod:`.cardinality`), seeded by the relaxed path."""
    c = inp.constraints
    if not c.long_only:
        raise UnsupportedOptions(
            "max_holdings and min_position need long-only weights", field="constraints.long_only"
        )
    options = {"cost": c.transaction_cost, "max_turnover": c.max_turnover}
    relaxed = _rebalancing_path(inp)
    if not c.min_position and most_names(relaxed) <= c.max_holdings:
        # the limit binds nowhere on the relaxed frontier: that frontier is the answer, exactly
        traced = _frontier_rebalancing(inp, points, targets, relaxed)
        w = traced.weights
        traced.lower_bounds = np.sqrt(np.clip(((w @ inp.sigma) * w).sum(axis=1), 0, None))
        return traced
    search = CardinalityFrontier(
        inp.sigma,
        inp.mu,
        inp.form,
        inp.current,
        max_holdings=c.max_holdings,
        min_position=c.min_position,
        **options,
    ).search(
        relaxed,
        points=points,
        targets=targets,
        offset=inp.risk_free_rate * (1 - inp.form.budget),
        risk_free_rate=inp.risk_free_rate,
    )
    return _Traced(
        search.weights,
        search.tangency,
        "support_search",
        0,
        search.unreachable,
        supports=search.supports_evaluated,
        lower_bounds=search.lower_bounds,
    )


def _cvxpy(inp: Inputs, points: int, targets: np.ndarray | None) -> _Traced:
    weights, best, unreachable = frontier_cvxpy(inp, points, targets)
    return _Traced(weights, best, "cvxpy_parametric", 0, unreachable)


def _batch_violations(weights: np.ndarray, inp: Inputs, tol: float) -> list[str]:
    """The constraint violations of any point (vectorised check; messages only when one fails)."""
    form = inp.form
    bad = (weights < form.lower - tol).any(axis=1) | (weights > form.upper + tol).any(axis=1)
    bad |= np.abs(weights.sum(axis=1) - form.budget) > tol
    if len(form.h):
        bad |= (weights @ form.G.T - form.h > tol).any(axis=1)
    if not inp.constraints.is_linear:
        bad |= np.array([bool(violations(row, inp, tol=tol)) for row in weights])
    return [m for row in weights[bad][:3] for m in violations(row, inp, tol=tol)]


def efficient_frontier(
    *,
    expected_returns: pd.Series,
    cov: pd.DataFrame,
    constraints: Constraints | None = None,
    points: int = 100,
    risk_free_rate: float = 0.0,
    current_weights: Mapping[str, float] | pd.Series | None = None,
    method: str = "auto",
    target_returns: Sequence[float] | None = None,
) -> Frontier:
    """``points`` frontier portfolios evenly spaced in expected return, min volatility to max return.

    Returns are net of the transaction cost of trading there from ``current_weights`` (when
    ``constraints.transaction_cost`` is set). ``target_returns`` (optional) places the points
    at these returns instead; those above the highest reachable return (e.g. under a turnover
    cap) end the frontier there and are counted in ``unreachable_targets``.

    ``method``: ``auto`` -- the exact parametric QP for linear constraints, turnover caps and
    costs (``parametric_qp``), the support search under ``max_holdings`` / ``min_position``
    (``support_search``), and cvxpy when a path meets a degenerate active set -- or one of
    those names, or ``cvxpy_parametric`` (one cvxpy solve per point). Every point satisfies the
    constraints; ``max_sharpe`` is the exact tangency portfolio of the path (of the best support
    found, under cardinality) or the best point (cvxpy).
    """
    if target_returns is None and not 2 <= points <= MAX_POINTS:
        raise OptimizationError(
            f"points must be between 2 and {MAX_POINTS}", field="frontier_points"
        )
    targets = None
    if target_returns is not None:
        targets = np.asarray(list(target_returns), dtype=float)
        if not 1 <= len(targets) <= MAX_POINTS or not np.isfinite(targets).all():
            raise OptimizationError(
                f"target_returns must hold 1 to {MAX_POINTS} finite numbers", field="target_returns"
            )
    if expected_returns is None:
        raise OptimizationError("the frontier needs expected returns", field="expected_returns")
    if method not in METHODS:
        raise OptimizationError(f"unknown frontier method {method!r}", field="method")
    inp = align_inputs(
        expected_returns, cov, None, constraints, current_weights, risk_free_rate, 252
    )
    c = inp.constraints
    exact = (
        _frontier_cardinality
        if c.needs_mixed_integer
        else (_frontier_parametric if c.is_linear else _frontier_rebalancing)
    )
    wanted = "support_search" if c.needs_mixed_integer else "parametric_qp"
    if method not in ("auto", "cvxpy_parametric", wanted):
        raise UnsupportedOptions(
            f"{method} does not apply to these constraints; use {wanted} or cvxpy_parametric",
            field="method",
        )
    if method == "cvxpy_parametric":
        traced = _cvxpy(inp, points, targets)
    else:
        try:
            traced = exact(inp, points, targets)
        except PathError:
            if method != "auto":
                raise OptimizationError(f"the {method} path met a degenerate active set") from None
            traced = _cvxpy(inp, points, targets)
    return _frontier_result(inp, traced)


def _frontier_result(inp: Inputs, traced: _Traced) -> Frontier:
    weights, tangency = traced.weights, traced.tangency
    broken = _batch_violations(weights, inp, tol=1e-7)
    if broken:
        raise OptimizationError("frontier points break constraints: " + "; ".join(broken[:3]))
    rf = inp.risk_free_rate
    k = inp.constraints.transaction_cost
    offset = rf * (1 - inp.form.budget)
    turnovers = np.abs(weights - inp.current).sum(axis=1)
    returns = weights @ inp.mu - k * turnovers + offset
    vols = np.sqrt(np.clip(((weights @ inp.sigma) * weights).sum(axis=1), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpes = np.where(vols > 0, (returns - rf) / vols, 0.0)
    t_turnover = float(np.abs(tangency - inp.current).sum())
    t_ret = float(tangency @ inp.mu - k * t_turnover + offset)
    t_vol = float(np.sqrt(tangency @ inp.sigma @ tangency))
    symbols = list(inp.symbols)
    return Frontier(
        expected_returns=returns,
        volatilities=vols,
        sharpe_ratios=sharpes,
        weights=pd.DataFrame(weights, columns=symbols),
        risk_free_rate=rf,
        max_sharpe=FrontierPoint(
            t_ret,
            t_vol,
            (t_ret - rf) / t_vol,
            pd.Series(tangency, index=symbols),
            t_turnover,
            k * t_turnover,
        ),
        method=traced.method,
        corners=traced.corners,
        turnovers=turnovers,
        transaction_costs=k * turnovers,
        unreachable_targets=traced.unreachable,
        supports_evaluated=traced.supports,
        gap_bounds=None if traced.lower_bounds is None else vols - traced.lower_bounds,
    )
