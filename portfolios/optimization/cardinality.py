"""The cardinality-limited frontier (at most ``K`` holdings) by a search over supports.

Once the *support* -- the set of names allowed to be held -- is fixed, the problem is continuous:
the frontier on a support ``S`` is the parametric path of :mod:`.rebalancing` (costs and a
turnover cap from current weights included) with every other weight pinned at zero, and with
``min_position`` the held ones bounded below by it. The cardinality-limited frontier is, target by
target, the lowest of the frontiers of all supports of at most ``K`` names -- a lower envelope.
Enumerating them is exponential (``C(20, 5) = 15,504``), and the MIQP per point costs SCIP about
half a second on 20 assets. We search supports instead:

1. *seeds*: at every corner of the relaxed frontier (no cardinality), the ``K`` largest weights;
2. *local search*: every support that is the best at some target tries each one-for-one swap;
   a support that improves any target joins, and the search repeats until no swap improves any
   target -- a 1-swap local optimum at every point of the frontier.

One evaluation is one parametric path (milliseconds), and it improves every target at once.
A swap that brings in name ``j`` can only improve target ``t`` if ``j``'s *reduced cost* (the
multiplier of its zero bound at the support's optimum for ``t``) is negative: otherwise that
optimum already solves the convex problem on ``S + j``, of which ``S + j - i`` is a restriction.
So only those ``j`` are tried -- a pruning that loses nothing. (With ``min_position`` the argument
does not hold, since a name enters at ``min_position`` rather than at zero; there every name is
tried, and dropping a name is a move too.)

The search is a heuristic -- the problem is NP-hard -- and says so: the relaxed frontier's
volatility at each target is a lower bound, so ``gap_bounds`` bounds each point's distance to the
exact optimum. The tests compare against exhaustive enumeration and SCIP on small universes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .constraints import LinearForm
from .exceptions import InfeasibleConstraints, PathError
from .path import RebalancingPath, place_targets
from .rebalancing import RebalancingQP

MAX_SEGMENTS = 60_000
"""Work after which the search stops with what it has (``gap_bounds`` still hold): the
segments traced over all supports, a few seconds. Twenty assets and five names take ~12,000."""
BEAM = 5
"""Supports expanded per target: the best and the runners-up (a beam search; width 1 is plain
local search, which a local optimum two swaps from the best stops)."""


def most_names(path: RebalancingPath) -> int:
    """The most names any point of ``path`` holds (a segment's support is constant inside it)."""
    most = 0
    for seg in path.segments:
        ends = [seg.start, seg.end] if np.isfinite(seg.end) else [seg.start]
        for lam in [*ends, sum(ends) / len(ends)]:
            most = max(most, int((np.abs(seg.a + lam * seg.b) > 1e-9).sum()))
    return most


@dataclass
class _Support:
    names: frozenset[int]
    qp: RebalancingQP
    path: RebalancingPath
    min_vol: float


@dataclass
class CardinalitySearch:
    """The outcome: weights at each target, the supports tried, the lower bound per target."""

    targets: np.ndarray
    weights: np.ndarray
    tangency: np.ndarray
    supports_evaluated: int
    lower_bounds: np.ndarray
    """The relaxed frontier's volatility at each target: no support can go below it."""
    unreachable: int


class CardinalityFrontier:
    """Support search for ``min w'Sigma w`` s.t. net return >= target and at most ``K`` names."""

    def __init__(
        self,
        sigma: np.ndarray,
        mu: np.ndarray,
        form: LinearForm,
        current: np.ndarray,
        *,
        max_holdings: int | None,
        min_position: float | None = None,
        cost: float = 0.0,
        max_turnover: float | None = None,
    ) -> None:
        self.sigma, self.mu, self.form, self.current = sigma, mu, form, current
        self.n = len(mu)
        self.k = self.n if max_holdings is None else min(int(max_holdings), self.n)
        self.min_position = float(min_position or 0.0)
        self.cost, self.max_turnover = cost, max_turnover
        self.required = frozenset(int(i) for i in np.flatnonzero(form.lower > 0))
        self.eligible = np.flatnonzero(form.upper > 0)
        self.pool: dict[frozenset[int], _Support | None] = {}
        self.failed = 0
        self.segments_traced = 0

    # -- one support ---------------------------------------------------------------------
    def _support_form(self, names: frozenset[int]) -> LinearForm:
        mask = np.zeros(self.n, dtype=bool)
        mask[list(names)] = True
        lower = np.where(mask, self.form.lower, 0.0)
        if self.min_position:
            lower = np.where(mask, np.maximum(lower, self.min_position), 0.0)
        upper = np.where(mask, self.form.upper, 0.0)
        return dataclasses.replace(self.form, lower=lower, upper=upper)

    def _refuted(self, form: LinearForm) -> bool:
        """Arithmetic that proves a support infeasible without tracing its path."""
        tol = 1e-9
        if form.upper.sum() < form.budget - tol or form.lower.sum() > form.budget + tol:
            return True
        if (form.lower > form.upper + tol).any():
            return True
        if len(form.h):
            low = np.minimum(form.G * form.lower, form.G * form.upper).sum(axis=1)
            if (low > form.h + tol).any():
                return True
        if self.max_turnover is not None:
            clipped = np.clip(self.current, form.lower, form.upper)
            needed = np.abs(clipped - self.current).sum() + abs(form.budget - clipped.sum())
            if needed > self.max_turnover + tol:
                return True
        return False

    def evaluate(self, names: frozenset[int]) -> _Support | None:
        if names in self.pool:
            return self.pool[names]
        support = None
        form = self._support_form(names)
        if not self._refuted(form):
            qp = RebalancingQP(
                self.sigma,
                self.mu,
                form,
                self.current,
                cost=self.cost,
                max_turnover=self.max_turnover,
            )
            try:
                path = RebalancingPath.trace(qp)
            except InfeasibleConstraints:
                path = None
            except PathError:
                path = None
                self.failed += 1
            if path is not None:
                self.segments_traced += len(path.segments)
                a = path.segments[0].a
                support = _Support(names, qp, path, float(np.sqrt(max(a @ self.sigma @ a, 0.0))))
        self.pool[names] = support
        return support

    def volatilities(self, support: _Support, targets: np.ndarray) -> np.ndarray:
        """The support's frontier volatility at each target (``inf`` above its reach)."""
        weights = support.path.weights_at(targets)
        vols = np.sqrt(np.clip(((weights @ self.sigma) * weights).sum(axis=1), 0.0, None))
        reach = support.path.max_net + 1e-10 * max(1.0, abs(support.path.max_net))
        return np.where(targets > reach, np.inf, vols)

    # -- the search ----------------------------------------------------------------------
    def _top(self, score: np.ndarray) -> frozenset[int]:
        """The ``K`` names of highest ``score`` (required names first) as a support."""
        order = [
            int(i)
            for i in np.argsort(-score, kind="stable")
            if int(i) not in self.required and self.form.upper[i] > 0
        ]
        return frozenset(sorted(self.required) + order[: self.k - len(self.required)])

    def _supports(self) -> list[_Support]:
        return [s for s in self.pool.values() if s is not None]

    def _grid(self, points: int) -> np.ndarray:
        """``points`` targets from the lowest-volatility support's return to the highest reach."""
        supports = self._supports()
        lowest = min(supports, key=lambda s: (s.min_vol, -s.path.min_net))
        high = max(s.path.max_net for s in supports)
        return np.linspace(lowest.path.min_net, max(high, lowest.path.min_net), points)

    def _table(self, targets: np.ndarray) -> tuple[list[_Support], np.ndarray]:
        """Every feasible support of the pool and its volatility at each target (cached)."""
        key = targets.tobytes()
        if key != self._grid_key:
            self._grid_key, self._vols = key, {}
        supports = self._supports()
        for support in supports:
            if support.names not in self._vols:
                self._vols[support.names] = self.volatilities(support, targets)
        return supports, np.stack([self._vols[s.names] for s in supports])

    def _envelope(self, targets: np.ndarray) -> tuple[np.ndarray, list[_Support | None]]:
        """The lowest volatility over the pool at each target, and which support gives it."""
        supports, vols = self._table(targets)
        best = vols.argmin(axis=0)
        lowest = vols[best, np.arange(len(targets))]
        owner = [supports[j] if np.isfinite(v) else None for j, v in zip(best, lowest, strict=True)]
        return lowest, owner

    def _beam(self, targets: np.ndarray) -> dict[frozenset[int], list[float]]:
        """The ``BEAM`` best supports at each target, each with the targets to probe it at.

        Two more columns rank the frontier's ends: the lowest minimum volatility (probed at
        the support's own min-volatility return) and the highest reach (probed at its end);
        both may lie outside ``targets``, which start and stop at the best ones found so far.
        """
        supports, vols = self._table(targets)
        min_vols = np.array([s.min_vol for s in supports])
        reach = np.array([-s.path.max_net for s in supports])
        width = min(BEAM, len(supports))
        out: dict[frozenset[int], list[float]] = {}
        for column, probe in (
            *((vols[:, p], lambda s, t=targets[p]: t) for p in range(len(targets))),
            (min_vols, lambda s: s.path.min_net),
            (reach, lambda s: s.path.max_net),
        ):
            for j in np.argsort(column, kind="stable")[:width]:
                if np.isfinite(column[j]):
                    out.setdefault(supports[j].names, []).append(probe(supports[j]))
        return out

    def _entering(self, support: _Support, targets: np.ndarray) -> list[int]:
        """Names outside the support worth bringing in at some of ``targets`` (see the module)."""
        outside = np.array([j for j in self.eligible if int(j) not in support.names], dtype=int)
        if not len(outside):
            return []
        _, seg_index, lam = support.path.at(targets)
        lowest = np.full(self.n, np.inf)
        for j in np.unique(seg_index):
            at = seg_index == j
            costs = support.qp.entry_costs(support.path.segments[int(j)], lam[at])
            lowest = np.minimum(lowest, costs.min(axis=0))
        scale = support.qp.scale
        helpful = [int(j) for j in outside if lowest[j] < -1e-10 * scale]
        if self.min_position:
            # entering at min_position, not at zero: the reduced cost only ranks the names
            ranked = [int(j) for j in outside[np.argsort(lowest[outside], kind="stable")]]
            helpful = sorted(set(helpful) | set(ranked[: max(self.k, 3)]))
        return helpful

    def _neighbours(self, support: _Support, targets: np.ndarray) -> list[frozenset[int]]:
        names = support.names
        entering = self._entering(support, targets)
        leaving = sorted(i for i in names if i not in self.required)
        out = []
        if len(names) < self.k:
            out += [names | {j} for j in entering]
        out += [(names - {i}) | {j} for i in leaving for j in entering]
        if self.min_position and len(names) > 1:
            out += [names - {i} for i in leaving]
        return out

    def search(
        self,
        relaxed: RebalancingPath,
        *,
        targets: np.ndarray | None,
        points: int,
        offset: float,
        risk_free_rate: float,
    ) -> CardinalitySearch:
        """Seed from ``relaxed`` (the frontier without cardinality), search, place the points.

        ``targets`` (net returns) fix where the points go; ``None``: ``points`` evenly spaced
        from the lowest-volatility portfolio found to the highest return any support reaches.
        """
        if len(self.required) > self.k:
            raise InfeasibleConstraints(
                [
                    f"{len(self.required)} assets have positive lower bounds, more than "
                    f"max_holdings {self.k}"
                ]
            )
        self._grid_key, self._vols = b"", {}
        for seg in relaxed.segments:
            self.evaluate(self._top(seg.a))
            if np.isfinite(seg.end):
                self.evaluate(self._top(seg.a + seg.end * seg.b))
        # the names held now (the cheapest support to trade into), the highest returns, the
        # lowest variances: seeds that still exist when no relaxed corner's top K is feasible
        for score in (self.current, self.mu, -np.diag(self.sigma)):
            self.evaluate(self._top(score))
        if not self._supports():
            raise InfeasibleConstraints(
                [f"no portfolio of at most {self.k} holdings was found that meets the constraints"]
            )
        self._improve(lambda: self._grid(max(points, 40)))
        if targets is None:
            grid, unreachable = self._grid(points), 0
        else:
            lowest = min(self._supports(), key=lambda s: (s.min_vol, -s.path.min_net))
            grid, unreachable = place_targets(targets, lowest.path.min_net, self._reach(), points)
            self._improve(lambda: grid)
        return self._place(relaxed, grid, unreachable, offset, risk_free_rate)

    def _reach(self) -> float:
        return max(s.path.max_net for s in self._supports())

    def _improve(self, grid_of) -> None:
        """Local search on the targets ``grid_of()`` gives (it may widen as supports join)."""
        while self.segments_traced < MAX_SEGMENTS:
            grid = grid_of()
            beam = self._beam(grid)
            before = len(self.pool)
            for names in sorted(beam, key=sorted):
                probes = np.array(beam[names])
                for neighbour in self._neighbours(self.pool[names], probes):
                    if self.segments_traced >= MAX_SEGMENTS:
                        return
                    self.evaluate(neighbour)
            if len(self.pool) == before:
                return  # every improving swap of the beam was tried: a 1-swap local optimum

    def _place(self, relaxed, grid, unreachable, offset, risk_free_rate) -> CardinalitySearch:
        _, owner = self._envelope(grid)
        weights = np.empty((len(grid), self.n))
        for p, support in enumerate(owner):
            weights[p] = support.path.weights_at(grid[p : p + 1])[0]
        relaxed_w = relaxed.weights_at(grid)
        lower = np.sqrt(np.clip(((relaxed_w @ self.sigma) * relaxed_w).sum(axis=1), 0.0, None))
        owners = {s.names for s in owner if s is not None}
        return CardinalitySearch(
            targets=grid,
            weights=weights,
            tangency=self._tangency(owners, offset, risk_free_rate),
            supports_evaluated=len(self.pool),
            lower_bounds=lower,
            unreachable=unreachable,
        )

    def _tangency(self, names_set, offset: float, rf: float) -> np.ndarray:
        """The best Sharpe ratio over these supports' exact tangency portfolios."""
        best, best_w = -np.inf, None
        for names in sorted(names_set, key=sorted):
            support = self.pool[names]
            w = support.path.tangency(self.sigma, offset, rf)
            vol = np.sqrt(max(w @ self.sigma @ w, 0.0))
            net = self.mu @ w - self.cost * np.abs(w - self.current).sum()
            sharpe = (net + offset - rf) / vol if vol > 0 else -np.inf
            if sharpe > best:
                best, best_w = sharpe, w
        return best_w
