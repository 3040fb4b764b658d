"""Naming what makes a problem infeasible: targets out of reach, or which constraint group
to drop, found by re-solving relaxations (each a small feasibility problem)."""

from __future__ import annotations

from dataclasses import replace

import cvxpy as cp
import numpy as np

from .constraints import Constraints, LinearForm, compile_constraints
from .exceptions import InfeasibleConstraints, OptimizationError
from .problem import Inputs, linear_constraints, net_return, nonlinear_constraints, variance
from .solvers import ProblemInfeasible, solve


def _extreme(inp: Inputs, sense: str) -> float | None:
    """Max expected return (``sense="max_return"``) or min volatility under the constraints."""
    w = cp.Variable(inp.n)
    cons = linear_constraints(w, inp.form) + nonlinear_constraints(w, inp)
    if sense == "max_return":
        problem = cp.Problem(cp.Maximize(net_return(w, inp, inp.expected)), cons)
    else:
        problem = cp.Problem(cp.Minimize(variance(w, inp)), cons)
    try:
        solve(problem)
    except (ProblemInfeasible, OptimizationError):
        return None
    if sense == "max_return":
        return float(problem.value)
    return float(np.sqrt(max(problem.value, 0.0)))


def diagnose(
    inp: Inputs,
    objective: str,
    *,
    target_return: float | None = None,
    target_volatility: float | None = None,
) -> list[str]:
    """Sentences naming what makes the problem infeasible, found by re-solving relaxations."""
    if not _feasible(inp, inp.constraints):
        return _constraint_conflicts(inp)
    if target_return is not None and inp.mu is not None:
        best = _extreme(inp, "max_return")
        if best is not None and target_return > best:
            return [
                f"target_return {target_return:.6g} is above {best:.6g}, the highest expected return "
                "the constraints allow; use a lower target"
            ]
    if target_volatility is not None:
        least = _extreme(inp, "min_volatility")
        if least is not None and target_volatility < least:
            return [
                f"target_volatility {target_volatility:.6g} is below {least:.6g}, the lowest volatility "
                "the constraints allow; use a higher target"
            ]
    if objective in ("max_sharpe", "black_litterman") and inp.mu is not None:
        best = _extreme(inp, "max_return")
        return [
            f"no portfolio within the constraints has an expected return above the risk-free rate "
            f"{inp.risk_free_rate:.6g} (the best is {best if best is None else round(best, 6)})"
        ]
    return ["the solver found no portfolio satisfying the constraints and the objective's targets"]


def _feasible(inp: Inputs, c: Constraints) -> bool:
    relaxed = Inputs(
        inp.symbols,
        inp.mu,
        inp.sigma,
        None,
        c,
        _form_or_none(c, inp) or inp.form,
        inp.current,
        inp.risk_free_rate,
    )
    w = cp.Variable(inp.n)
    problem = cp.Problem(
        cp.Minimize(0), linear_constraints(w, relaxed.form) + nonlinear_constraints(w, relaxed)
    )
    try:
        solve(problem)
    except ProblemInfeasible:
        return False
    except OptimizationError:
        return True  # cannot tell; let the caller report the generic failure
    return True


def _form_or_none(c: Constraints, inp: Inputs) -> LinearForm | None:
    try:
        return compile_constraints(c, inp.symbols, current_weights=inp.current)
    except InfeasibleConstraints:
        return None


_RELAXATIONS: tuple[tuple[str, dict], ...] = (
    ("the turnover cap", {"max_turnover": None}),
    ("max_holdings", {"max_holdings": None}),
    ("min_position", {"min_position": None}),
    ("the asset-class limits", {"asset_class_min": {}, "asset_class_max": {}}),
    ("the sector limits", {"sector_min": {}, "sector_max": {}}),
    ("max_position", {"max_position": None}),
)


def _constraint_conflicts(inp: Inputs) -> list[str]:

    c = inp.constraints
    present = [
        (name, change)
        for name, change in _RELAXATIONS
        if any(getattr(c, key) not in (None, {}, 0, 0.0) for key in change)
    ]
    culprits = [name for name, change in present if _feasible(inp, replace(c, **change))]
    if culprits:
        return [
            f"{name} cannot be met together with the other constraints (dropping it makes them feasible)"
            for name in culprits
        ]
    names = ", ".join(name for name, _ in present) or "the bounds and budget"
    return [f"no portfolio satisfies {names} together"]
