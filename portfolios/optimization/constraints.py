"""Constraint specification, its compiled linear form, and the feasibility pre-check.

:class:`Constraints` is what callers fill in (the API's ``constraints`` object, the
autopilot's risk settings). :func:`compile_constraints` turns it into
:class:`LinearForm` -- per-asset bounds, the budget ``sum(w) == 1 - cash_buffer`` and
labelled rows ``G w <= h`` for asset-class and sector limits -- after checking the
combinations that can be refuted by arithmetic alone; each refutation becomes one
sentence of :class:`~.exceptions.InfeasibleConstraints`.

The nonlinear constraints (minimum position when held, maximum number of holdings,
turnover cap) and proportional transaction costs are applied by the objectives
(:mod:`.objectives`, :mod:`.problem`); they are checked here only where a sum already
refutes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .exceptions import InfeasibleConstraints, OptimizationError

TOLERANCE = 1e-9


@dataclass(frozen=True)
class Constraints:
    """What a portfolio must satisfy. Weights are fractions of portfolio value.

    Defaults: long-only, fully invested, no other limit.
    """

    long_only: bool = True
    """Weights >= 0; when False the default bounds are [-1, 1]."""
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    """Per-symbol (lower, upper) bounds; they override the defaults."""
    max_position: float | None = None
    """Concentration limit: |w_i| <= max_position for every symbol."""
    min_position: float | None = None
    """A held position is at least this large (semi-continuous; needs a mixed-integer solve)."""
    max_holdings: int | None = None
    """Cardinality: at most this many non-zero positions (mixed-integer solve, SCIP)."""
    asset_classes: Mapping[str, str] = field(default_factory=dict)
    """symbol -> asset class (e.g. from ``marketdata.models.Asset.asset_class``)."""
    asset_class_min: Mapping[str, float] = field(default_factory=dict)
    asset_class_max: Mapping[str, float] = field(default_factory=dict)
    sectors: Mapping[str, str] = field(default_factory=dict)
    """symbol -> sector."""
    sector_min: Mapping[str, float] = field(default_factory=dict)
    sector_max: Mapping[str, float] = field(default_factory=dict)
    excluded: Sequence[str] = ()
    """Symbols that must have zero weight (ESG exclusions from asset attributes)."""
    max_turnover: float | None = None
    """sum |w - current_weights| <= max_turnover (current weights default to all cash)."""
    cash_buffer: float = 0.0
    """Weights sum to 1 - cash_buffer; the rest stays in cash."""
    transaction_cost: float = 0.0
    """Proportional cost ``k`` per unit of weight traded from the current weights.

    Return-seeking objectives charge ``k ||w - current||_1`` against expected return (a target
    return is met net of it); risk-minimising ones (``min_volatility``, ``min_cvar``,
    ``efficient_return``) add it to the risk they minimise, as PyPortfolioOpt's
    ``objective_functions.transaction_cost`` does. ``risk_parity`` and ``hrp`` refuse it."""

    @property
    def needs_mixed_integer(self) -> bool:
        return self.max_holdings is not None or bool(self.min_position)

    @property
    def is_linear(self) -> bool:
        """Only bounds, budget and group limits: the frontier's fast path applies."""
        return (
            not self.needs_mixed_integer and self.max_turnover is None and not self.transaction_cost
        )


@dataclass(frozen=True)
class LinearForm:
    """``lower <= w <= upper``, ``sum(w) == budget`` and ``G w <= h`` (rows labelled)."""

    symbols: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    budget: float
    G: np.ndarray
    h: np.ndarray
    row_labels: tuple[str, ...]

    def violations(self, weights: np.ndarray, tol: float = 1e-6) -> list[str]:
        """Sentences naming each linear constraint ``weights`` break by more than ``tol``."""
        found = []
        for i, symbol in enumerate(self.symbols):
            if weights[i] < self.lower[i] - tol:
                found.append(
                    f"{symbol} weight {weights[i]:.4g} below its lower bound {self.lower[i]:.4g}"
                )
            if weights[i] > self.upper[i] + tol:
                found.append(
                    f"{symbol} weight {weights[i]:.4g} above its upper bound {self.upper[i]:.4g}"
                )
        if abs(weights.sum() - self.budget) > tol:
            found.append(f"weights sum to {weights.sum():.6g}, not {self.budget:.6g}")
        if len(self.h):
            excess = self.G @ weights - self.h
            for row in np.flatnonzero(excess > tol):
                found.append(f"{self.row_labels[row]} violated by {excess[row]:.4g}")
        return found


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _group_rows(
    symbols: tuple[str, ...],
    membership: Mapping[str, str],
    minimums: Mapping[str, float],
    maximums: Mapping[str, float],
    kind: str,
) -> tuple[list[np.ndarray], list[float], list[str]]:
    rows, rhs, labels = [], [], []
    for group, minimum in minimums.items():
        row = np.array([1.0 if membership.get(s) == group else 0.0 for s in symbols])
        rows.append(-row)
        rhs.append(-float(minimum))
        labels.append(f"{kind} {group!r} minimum {_fmt(minimum)}")
    for group, maximum in maximums.items():
        row = np.array([1.0 if membership.get(s) == group else 0.0 for s in symbols])
        rows.append(row)
        rhs.append(float(maximum))
        labels.append(f"{kind} {group!r} maximum {_fmt(maximum)}")
    return rows, rhs, labels


def _check_groups(
    symbols: tuple[str, ...],
    lower: np.ndarray,
    upper: np.ndarray,
    budget: float,
    membership: Mapping[str, str],
    minimums: Mapping[str, float],
    maximums: Mapping[str, float],
    kind: str,
    plural: str,
) -> list[str]:
    conflicts = []
    total_min = float(sum(minimums.values()))
    if total_min > budget + TOLERANCE:
        conflicts.append(
            f"{plural} minimums sum to {_fmt(total_min)}, more than the {_fmt(budget)} to invest"
        )
    member_index: dict[str, list[int]] = {}
    for i, s in enumerate(symbols):
        if s in membership:
            member_index.setdefault(membership[s], []).append(i)
    for group in sorted(set(minimums) | set(maximums)):
        members = member_index.get(group, [])
        lo = minimums.get(group)
        hi = maximums.get(group)
        capacity = float(upper[members].sum()) if members else 0.0
        floor = float(lower[members].sum()) if members else 0.0
        if lo is not None and hi is not None and lo > hi + TOLERANCE:
            conflicts.append(f"{kind} {group!r} minimum {_fmt(lo)} is above its maximum {_fmt(hi)}")
        if lo is not None and lo > capacity + TOLERANCE:
            if not members:
                conflicts.append(
                    f"{kind} {group!r} has minimum {_fmt(lo)} but no eligible assets in the universe"
                )
            else:
                conflicts.append(
                    f"{kind} {group!r} minimum {_fmt(lo)} exceeds {_fmt(capacity)}, the most its "
                    f"{len(members)} assets may hold under their bounds, position limit and exclusions"
                )
        if hi is not None and hi < floor - TOLERANCE:
            conflicts.append(
                f"{kind} {group!r} maximum {_fmt(hi)} is below {_fmt(floor)}, the sum of its assets' lower bounds"
            )
    # Capacity: every group capped, plus what ungrouped assets may hold, must reach the budget.
    capacity = 0.0
    grouped = set()
    for group, members in member_index.items():
        grouped.update(members)
        cap = float(upper[members].sum())
        if group in maximums:
            cap = min(cap, float(maximums[group]))
        capacity += cap
    capacity += float(sum(upper[i] for i in range(len(symbols)) if i not in grouped))
    if maximums and capacity < budget - TOLERANCE:
        conflicts.append(
            f"{plural} maximums (with position limits) allow at most {_fmt(capacity)}, less than the {_fmt(budget)} to invest"
        )
    return conflicts


def compile_constraints(
    constraints: Constraints | None,
    symbols: Sequence[str],
    *,
    current_weights: np.ndarray | None = None,
) -> LinearForm:
    """Compile ``constraints`` over ``symbols``; raise :class:`InfeasibleConstraints` on a refutation.

    Unknown symbols in ``bounds`` / ``excluded`` / group maps are ignored (they are not in
    the universe); a group minimum with no eligible member is a conflict. The conflicts are
    reported in the order of :data:`_REFUTATIONS`, after those of the exclusions.
    """
    c = constraints or Constraints()
    symbols = tuple(symbols)
    _check_settings(c)
    index = {s: i for i, s in enumerate(symbols)}
    lower, upper = _position_bounds(c, symbols, index)
    excluded = [s for s in c.excluded if s in index]
    conflicts = _exclude(excluded, index, lower, upper)
    draft = _Draft(c, symbols, lower, upper, 1.0 - float(c.cash_buffer), excluded, current_weights)
    for refute in _REFUTATIONS:
        conflicts += refute(draft)
    if conflicts:
        raise InfeasibleConstraints(conflicts)
    return _linear_form(draft)


@dataclass(frozen=True)
class _Draft:
    """The bounds and budget being compiled, as the refutations read them."""

    constraints: Constraints
    symbols: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    budget: float
    excluded: list[str]
    """Excluded symbols of the universe, in the order given (repeats kept)."""
    current_weights: np.ndarray | None

    @property
    def eligible(self) -> int:
        return len(self.symbols) - len(self.excluded)


def _check_settings(c: Constraints) -> None:
    if not 0 <= c.cash_buffer < 1:
        raise OptimizationError("cash_buffer must be in [0, 1)", field="constraints.cash_buffer")
    if c.transaction_cost < 0:
        raise OptimizationError(
            "transaction_cost must be >= 0", field="constraints.transaction_cost"
        )


def _position_bounds(
    c: Constraints, symbols: tuple[str, ...], index: Mapping[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-asset bounds: the defaults, the overrides, then long-only and the position limit."""
    lower = np.full(len(symbols), 0.0 if c.long_only else -1.0)
    upper = np.full(len(symbols), 1.0)
    for symbol, (lo, hi) in c.bounds.items():
        if symbol in index:
            lower[index[symbol]] = lo
            upper[index[symbol]] = hi
    if c.long_only:
        lower = np.maximum(lower, 0.0)
    if c.max_position is not None:
        upper = np.minimum(upper, c.max_position)
        lower = np.maximum(lower, -c.max_position)
    return lower, upper


def _exclude(
    excluded: list[str], index: Mapping[str, int], lower: np.ndarray, upper: np.ndarray
) -> list[str]:
    """Pin each excluded symbol's bounds to zero (in place); a positive lower bound conflicts."""
    conflicts = []
    for symbol in excluded:
        i = index[symbol]
        if lower[i] > TOLERANCE:
            conflicts.append(f"{symbol} is excluded (ESG) but its lower bound is {_fmt(lower[i])}")
        lower[i] = min(lower[i], 0.0)
        lower[i] = max(lower[i], 0.0)
        upper[i] = 0.0
    return conflicts


def _crossed_bounds(d: _Draft) -> list[str]:
    return [
        f"{symbol} lower bound {_fmt(d.lower[i])} is above its upper bound {_fmt(d.upper[i])}"
        for i, symbol in enumerate(d.symbols)
        if d.lower[i] > d.upper[i] + TOLERANCE and symbol not in d.excluded
    ]


def _empty_universe(d: _Draft) -> list[str]:
    return ["every symbol in the universe is excluded"] if d.eligible == 0 else []


def _bound_sums(d: _Draft) -> list[str]:
    conflicts = []
    c, budget = d.constraints, d.budget
    if d.upper.sum() < budget - TOLERANCE:
        if c.max_position is not None:
            conflicts.append(
                f"max_position {_fmt(c.max_position)} across {d.eligible} eligible assets allows at most "
                f"{_fmt(d.upper.sum())}, less than the {_fmt(budget)} to invest"
            )
        else:
            conflicts.append(
                f"upper bounds sum to {_fmt(d.upper.sum())}, less than the {_fmt(budget)} to invest"
            )
    if d.lower.sum() > budget + TOLERANCE:
        conflicts.append(
            f"lower bounds sum to {_fmt(d.lower.sum())}, more than the {_fmt(budget)} to invest"
        )
    return conflicts


def _group_limits(d: _Draft) -> list[str]:
    """Asset-class limits, then sector limits (see :func:`_check_groups`)."""
    c = d.constraints
    bounds = (d.symbols, d.lower, d.upper, d.budget)
    asset_class = (c.asset_classes, c.asset_class_min, c.asset_class_max)
    sector = (c.sectors, c.sector_min, c.sector_max)
    return _check_groups(*bounds, *asset_class, "asset class", "asset-class") + _check_groups(
        *bounds, *sector, "sector", "sector"
    )


def _holdings_reach(d: _Draft) -> list[str]:
    """The ``max_holdings`` largest positions the bounds allow must reach the budget."""
    c = d.constraints
    if c.max_holdings is None:
        return []
    if c.max_holdings < 1:
        raise OptimizationError("max_holdings must be at least 1", field="constraints.max_holdings")
    reach = float(np.sort(np.maximum(d.upper, np.abs(d.lower)))[::-1][: c.max_holdings].sum())
    if reach < d.budget - TOLERANCE:
        return [
            f"max_holdings {c.max_holdings} with position limits allows at most {_fmt(reach)}, "
            f"less than the {_fmt(d.budget)} to invest"
        ]
    return []


def _min_position_fits(d: _Draft) -> list[str]:
    c = d.constraints
    conflicts: list[str] = []
    if not c.min_position:
        return conflicts
    if c.min_position > d.budget + TOLERANCE:
        conflicts.append(
            f"min_position {_fmt(c.min_position)} is more than the {_fmt(d.budget)} to invest"
        )
    if c.max_position is not None and c.min_position > c.max_position + TOLERANCE:
        conflicts.append(
            f"min_position {_fmt(c.min_position)} is above max_position {_fmt(c.max_position)}"
        )
    return conflicts


def _turnover_reach(d: _Draft) -> list[str]:
    """The turnover cap must allow the trades that the budget, bounds and cardinality force."""
    c = d.constraints
    if c.max_turnover is None:
        return []
    n = len(d.symbols)
    w0 = np.zeros(n) if d.current_weights is None else np.asarray(d.current_weights, dtype=float)
    # Moving each weight into its bounds costs |clip(w0) - w0|, and the clipped weights must
    # still trade their gap to the budget: ||w - w0||_1 = to_bounds + ||w - clip(w0)||_1.
    clipped = np.clip(w0, d.lower, d.upper)
    to_bounds = float(np.abs(clipped - w0).sum())
    needed = to_bounds + abs(d.budget - float(clipped.sum()))
    if c.max_turnover < needed - 1e-7:
        return [
            f"turnover cap {_fmt(c.max_turnover)} is below {_fmt(needed)}, the turnover needed just to "
            "meet the budget, bounds and exclusions from the current weights"
        ]
    if c.max_holdings is not None and c.max_holdings < n:
        # Holding at most K names sells the others outright; keeping the K largest (clipped)
        # weights sells least: sum of the rest, plus the kept ones' gap to the budget.
        kept = np.sort(np.abs(clipped))[::-1][: c.max_holdings].sum()
        held_needed = to_bounds + (np.abs(clipped).sum() - kept) + abs(d.budget - kept)
        if c.max_turnover < held_needed - 1e-7:
            return [
                f"turnover cap {_fmt(c.max_turnover)} is below {_fmt(held_needed)}, the turnover "
                f"needed to hold at most {c.max_holdings} names from the current weights"
            ]
    return []


_REFUTATIONS: tuple[Callable[[_Draft], list[str]], ...] = (
    _crossed_bounds,
    _empty_universe,
    _bound_sums,
    _group_limits,
    _holdings_reach,
    _min_position_fits,
    _turnover_reach,
)
"""One check per kind of constraint that arithmetic alone can refute, in reporting order."""


def _linear_form(d: _Draft) -> LinearForm:
    """The feasible draft as ``LinearForm``: group minimums then maximums, asset classes first."""
    c = d.constraints
    rows, rhs, labels = [], [], []
    for part in (
        _group_rows(
            d.symbols, c.asset_classes, c.asset_class_min, c.asset_class_max, "asset class"
        ),
        _group_rows(d.symbols, c.sectors, c.sector_min, c.sector_max, "sector"),
    ):
        rows += part[0]
        rhs += part[1]
        labels += part[2]
    G = np.vstack(rows) if rows else np.zeros((0, len(d.symbols)))
    return LinearForm(
        d.symbols, d.lower, d.upper, d.budget, G, np.asarray(rhs, dtype=float), tuple(labels)
    )


def weights_vector(
    weights: Mapping[str, float] | pd.Series | None, symbols: Sequence[str]
) -> np.ndarray:
    """Align a symbol -> weight map to ``symbols`` (missing symbols weigh 0)."""
    if weights is None:
        return np.zeros(len(symbols))
    mapping = dict(weights.items()) if isinstance(weights, pd.Series) else dict(weights)
    return np.array([float(mapping.get(s, 0.0)) for s in symbols])
