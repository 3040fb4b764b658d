"""Domain exceptions of the optimization engine.

Services translate them into application errors: :class:`InfeasibleConstraints`
becomes a 422 naming the conflicting constraints, :class:`OptimizationError` a 422
(solver failed after its fallback) or a 400 (:class:`UnsupportedOptions`, bad inputs).
"""

from __future__ import annotations


class OptimizationError(Exception):
    """The optimizer could not produce a trustworthy answer (solver failure, bad inputs)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InfeasibleConstraints(OptimizationError):
    """No portfolio satisfies the constraints; ``conflicts`` says which ones and why.

    Each conflict is a sentence with the numbers behind it, e.g.
    ``"sector minimums sum to 1.2, more than the 1.0 to invest"``.
    """

    def __init__(self, conflicts: list[str], *, field: str | None = "constraints") -> None:
        self.conflicts = list(conflicts)
        super().__init__("infeasible constraints: " + "; ".join(self.conflicts), field=field)


class UnsupportedOptions(OptimizationError):
    """A valid option that this objective cannot honour (e.g. cardinality with HRP)."""


class PathError(Exception):
    """An exact frontier path met a degenerate active set it does not resolve.

    Internal: the frontier falls back to cvxpy; it never reaches a caller of the engine.
    """
