"""Solving cvxpy problems with a fallback chain and explicit status checks.

Continuous problems try Clarabel (interior point, tight tolerances), then SCS, then
OSQP for QPs; mixed-integer ones use SCIP (then HiGHS for mixed-integer LPs). A
status other than ``optimal`` from one solver moves on to the next; an infeasibility
certificate stops the chain (the caller diagnoses which constraints conflict).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

import cvxpy as cp

from .exceptions import OptimizationError

CONTINUOUS_CHAIN: tuple[tuple[str, dict], ...] = (
    ("CLARABEL", {"tol_gap_abs": 1e-9, "tol_gap_rel": 1e-9, "tol_feas": 1e-9, "max_iter": 400}),
    ("SCS", {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 200_000}),
    ("OSQP", {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iter": 200_000, "polishing": True}),
)
MIXED_INTEGER_CHAIN: tuple[tuple[str, dict], ...] = (
    ("SCIP", {"scip_params": {"limits/gap": 1e-9, "limits/time": 60}}),
    ("HIGHS", {}),
)

INFEASIBLE = {cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE}


class ProblemInfeasible(Exception):
    """The solver proved the problem infeasible (the caller turns it into conflicts)."""


@functools.cache
def _installed_solvers() -> frozenset[str]:
    # cvxpy probes every solver package on each call (~1-20 ms); installs don't change
    # while a process runs, and a backtest solves hundreds of problems.
    return frozenset(cp.installed_solvers())


def solve(
    problem: cp.Problem,
    *,
    chain: tuple[tuple[str, dict], ...] | None = None,
    verify: Callable[[], list[str]] | None = None,
) -> str:
    """Solve ``problem`` in place; return the name of the solver that succeeded.

    ``verify`` (optional) inspects the solution and returns the constraints it breaks; a
    non-empty answer counts as that solver's failure, so wrong weights are never returned.

    Raises :class:`ProblemInfeasible` on an infeasibility certificate and
    :class:`OptimizationError` when every solver in the chain failed.
    """
    if chain is None:
        chain = MIXED_INTEGER_CHAIN if problem.is_mixed_integer() else CONTINUOUS_CHAIN
    installed = _installed_solvers()
    failures = []
    for name, options in chain:
        if name not in installed:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                problem.solve(solver=name, **options)
        except (cp.error.SolverError, cp.error.DCPError, ValueError, ArithmeticError) as exc:
            failures.append(f"{name}: {exc}".split("\n")[0])
            continue
        if problem.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            broken = verify() if verify is not None else []
            if not broken:
                return name
            failures.append(f"{name}: {problem.status} but " + ", ".join(broken[:3]))
            continue
        if problem.status in INFEASIBLE:
            raise ProblemInfeasible(name)
        failures.append(f"{name}: {problem.status}")
    raise OptimizationError(
        "the solvers could not reach a reliable optimum (" + "; ".join(failures) + "); "
        "try fewer or looser constraints, or another risk model"
    )


def value_of(expression: cp.Expression) -> float:
    """The value of a scalar ``expression`` at the last solve (``solve`` succeeded)."""
    value = expression.value
    if value is None:
        raise OptimizationError("the solver returned no value for the expression")
    return float(value)
