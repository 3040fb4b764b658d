"""The frontier by cvxpy: one problem, the target return a ``cp.Parameter``, re-solved per point.

The general path (any constraint cvxpy can state, mixed-integer included, solved by the
project's chain in :mod:`.solvers`) and the fallback of the exact paths when they meet a
degenerate active set. It is also the baseline the benchmarks measure the exact paths against
(``bench/bench_rebalancing_frontier.py``): a DPP problem is canonicalised once, and each point
re-solves it with the new parameter value.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from .diagnosis import diagnose
from .exceptions import InfeasibleConstraints, OptimizationError, UnsupportedOptions
from .path import place_targets
from .problem import (
    Inputs,
    linear_constraints,
    net_return,
    nonlinear_constraints,
    variance,
    violations,
)
from .solvers import ProblemInfeasible, solve

MAX_MIXED_INTEGER_POINTS = 50
"""A point of a mixed-integer frontier costs SCIP about half a second on 20 assets."""


def frontier_cvxpy(
    inp: Inputs, points: int, targets: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """``(weights, best point, unreachable targets)``; the endpoints come from two extra solves.

    The points meet net-return targets (``mu'w - k ||w - w0||_1``) from the min-volatility
    portfolio's to the highest reachable; the last default target sits 1e-9 inside the end,
    where an interior-point solver can still meet it.
    """
    if inp.constraints.needs_mixed_integer and points > MAX_MIXED_INTEGER_POINTS:
        raise UnsupportedOptions(
            f"a frontier under max_holdings or min_position by cvxpy is limited to "
            f"{MAX_MIXED_INTEGER_POINTS} points",
            field="frontier_points",
        )
    w = cp.Variable(inp.n)
    base = linear_constraints(w, inp.form) + nonlinear_constraints(w, inp)
    net = net_return(w, inp, inp.mu)
    try:
        solve(cp.Problem(cp.Minimize(variance(w, inp)), base))
        low = float(net.value)
        solve(cp.Problem(cp.Maximize(net), base))
        high = float(net.value)
    except ProblemInfeasible:
        raise InfeasibleConstraints(diagnose(inp, "min_volatility")) from None
    values, unreachable = place_targets(targets, low, high, points)
    end = high - 1e-9 * max(1.0, abs(high))
    values = np.minimum(values, end)
    target = cp.Parameter()
    problem = cp.Problem(cp.Minimize(variance(w, inp)), base + [net >= target])
    weights = np.empty((len(values), inp.n))
    for p, value in enumerate(values):
        target.value = value
        try:
            solve(problem, verify=lambda: violations(np.asarray(w.value), inp))
        except ProblemInfeasible:
            raise OptimizationError(
                f"frontier point {p + 1} (target return {value:.6g}) failed"
            ) from None
        weights[p] = np.asarray(w.value)
    k = inp.constraints.transaction_cost
    nets = weights @ inp.mu - k * np.abs(weights - inp.current).sum(axis=1)
    offset = inp.risk_free_rate * (1 - inp.form.budget)
    sharpe = (nets + offset - inp.risk_free_rate) / np.sqrt(
        np.clip(((weights @ inp.sigma) * weights).sum(axis=1), 1e-300, None)
    )
    return weights, weights[int(np.argmax(sharpe))], unreachable
