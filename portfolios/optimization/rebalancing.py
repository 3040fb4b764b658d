"""The rebalancing frontier: from current weights, with proportional costs and a turnover cap.

For current weights ``w0``, a proportional cost ``k`` per unit traded and a turnover cap ``T``,
the frontier is ``min w'Sigma w`` s.t. ``net(w) = mu'w - k ||w - w0||_1 >= r``,
``||w - w0||_1 <= T`` and the linear constraints (bounds, budget, group limits). It is convex,
so each point solves the scalarised ``min 1/2 w'Sigma w - lam net(w)`` for some ``lam >= 0``,
and the solution is again piecewise linear in ``lam``: the objective is a QP plus the
piecewise-linear term ``lam k |w_i - w0_i|``, whose only new breakpoints are the *kinks*
``w_i = w0_i``. So the critical line algorithm of :mod:`.frontier` extends with one more state
per weight -- "held at its current weight" -- and the turnover cap becomes one more linear row,
``sum_i s_i (w_i - w0_i) <= T``, whose coefficients ``s_i = sign(w_i - w0_i)`` are fixed while the
active set is (Best & Hlouskova 2005, "An algorithm for portfolio optimization with transaction
costs", Management Science 51(11); the same kink states, traced parametrically here).

Per weight the states are: at its lower bound, at its upper bound, at its kink ``w0`` (only when
``w0`` lies strictly inside its bounds), or free in the *piece* to the left (``s = -1``, selling) or
the right (``s = +1``, buying) of the kink. With ``c = lam k + tau`` (``tau`` the turnover row's
multiplier) and ``g_i`` the gradient of the Lagrangian without the weight's own terms, a free
weight has ``g_i + c s_i = 0``; one held at its kink needs ``-c <= g_i <= c``; one at a bound
needs the bound's multiplier ``+-(g_i + c s_i) >= 0``, ``s_i`` the sign of its adjacent piece.
Every quantity is affine in ``lam`` between events, so each segment costs one KKT solve on the
free weights, exactly as in :class:`.frontier.ParametricQP` (of which this is the
generalisation; without costs and turnover it traces the same path).

The frontier's returns are **net** of the one-off cost of trading there from ``w0`` (the target
the points meet). Targets above the highest net return the turnover cap allows are not
failures: the frontier ends at that highest return (``unreachable`` counts them).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import scipy.linalg

from .constraints import LinearForm
from .exceptions import InfeasibleConstraints, PathError
from .path import RebalancingPath, RebalancingSegment, SegmentParts, place_targets

__all__ = ["PathError", "RebalancingPath", "RebalancingQP", "RebalancingSegment", "place_targets"]
from .solvers import ProblemInfeasible, solve

LOWER, FREE, UPPER, KINK = -1, 0, 1, 2

_gesv = scipy.linalg.get_lapack_funcs("gesv", dtype=np.float64)


def _nonzero(mask: np.ndarray) -> np.ndarray:
    return mask.nonzero()[0]


# The change each event makes, and the event that would undo it at the same lam (ties).
_UNDO = {
    "hit_lower": "release_lower",
    "hit_upper": "release_upper",
    "kink_from_right": "release_right",
    "kink_from_left": "release_left",
    "release_lower": "hit_lower",
    "release_upper": "hit_upper",
    "release_right": "kink_from_right",
    "release_left": "kink_from_left",
    "row_binds": "row_slack",
    "row_slack": "row_binds",
    "turnover_binds": "turnover_slack",
    "turnover_slack": "turnover_binds",
}


EVENTS = (
    "hit_lower",
    "hit_upper",
    "kink_from_right",
    "kink_from_left",
    "release_lower",
    "release_upper",
    "release_right",
    "release_left",
    "row_binds",
    "row_slack",
    "turnover_binds",
    "turnover_slack",
)
(
    HIT_LOWER,
    HIT_UPPER,
    KINK_FROM_RIGHT,
    KINK_FROM_LEFT,
    RELEASE_LOWER,
    RELEASE_UPPER,
    RELEASE_RIGHT,
    RELEASE_LEFT,
    ROW_BINDS,
    ROW_SLACK,
    TURNOVER_BINDS,
    TURNOVER_SLACK,
) = range(len(EVENTS))


class RebalancingQP:
    """The path of ``min 1/2 w'Sigma w - lam (mu'w - k||w - w0||_1)`` s.t. ``||w - w0||_1 <= T``.

    ``cost`` is ``k``; ``max_turnover`` is ``T`` (``None``: no cap). With neither, it is the
    plain linear path (no kinks).
    """

    def __init__(
        self,
        sigma: np.ndarray,
        mu: np.ndarray,
        form: LinearForm,
        current: np.ndarray,
        *,
        cost: float = 0.0,
        max_turnover: float | None = None,
    ) -> None:
        self.sigma = sigma
        self.mu = mu
        self.form = form
        self.n = len(mu)
        self.cost = float(cost)
        self.max_turnover = None if max_turnover is None else float(max_turnover)
        self.w0 = np.asarray(current, dtype=float)
        self.scale = max(1.0, float(np.abs(mu).max()), float(np.abs(np.diag(sigma)).max()))
        self.kinked = self.cost > 0 or self.max_turnover is not None
        lower, upper, w0 = form.lower, form.upper, self.w0
        self.pinned = lower == upper
        self.movable = ~self.pinned
        if self.kinked:
            eps = 1e-12
            self.inside = (lower + eps < w0) & (w0 < upper - eps) & ~self.pinned
            # the sign of the piece next to each bound (the sign of w - w0 there)
            self.side_lower = np.where(lower >= w0 - eps, 1, -1)
            self.side_upper = np.where(upper <= w0 + eps, -1, 1)
        else:
            self.inside = np.zeros(self.n, dtype=bool)
            self.side_lower = np.zeros(self.n, dtype=int)
            self.side_upper = np.zeros(self.n, dtype=int)
        # the ends of each piece: buying runs from max(lower, w0), selling up to min(upper, w0)
        self.lo_buy = np.where(self.inside, w0, lower)
        self.hi_sell = np.where(self.inside, w0, upper)

    # -- one active set --------------------------------------------------------------------
    def _fixed_values(self, state: np.ndarray) -> np.ndarray:
        form = self.form
        return np.where(state == LOWER, form.lower, np.where(state == UPPER, form.upper, self.w0))

    def _sides(self, state: np.ndarray, side: np.ndarray) -> np.ndarray:
        """``s_i``: the free weights' pieces, the bounds' adjacent pieces, 0 at a kink."""
        return np.where(
            state == FREE,
            side,
            np.where(state == LOWER, self.side_lower, np.where(state == UPPER, self.side_upper, 0)),
        )

    def _segment(self, state, side, active, turnover_on) -> SegmentParts:
        form = self.form
        free = _nonzero(state == FREE)
        fixed = _nonzero(state != FREE)
        values = self._fixed_values(state)
        w_fixed = np.zeros(self.n)
        w_fixed[fixed] = values[fixed]
        s = self._sides(state, side)
        rows = [np.ones(self.n)]
        rhs_rows = [form.budget]
        for r in active:
            rows.append(form.G[r])
            rhs_rows.append(form.h[r])
        E = np.vstack(rows)
        e = np.asarray(rhs_rows) - E[:, fixed] @ values[fixed]
        if turnover_on:
            assert self.max_turnover is not None, "the turnover row is active only under a cap"
            turnover_fixed = float(np.abs(values[fixed] - self.w0[fixed]).sum())
            t_row = np.zeros(self.n)
            t_row[free] = s[free]
            E = np.vstack([E, t_row])
            e = np.append(e, self.max_turnover - turnover_fixed + s[free] @ self.w0[free])
        nf, m = len(free), len(E)
        K = np.zeros((nf + m, nf + m))
        K[:nf, :nf] = self.sigma[free][:, free]
        EF = E[:, free]
        K[:nf, nf:] = EF.T
        K[nf:, :nf] = EF
        rhs = np.zeros((nf + m, 2))
        rhs[:nf, 0] = -(self.sigma[free] @ w_fixed)
        rhs[nf:, 0] = e
        rhs[:nf, 1] = self.mu[free] - self.cost * s[free]
        # LAPACK's gesv directly: numpy's solve costs more in its wrapper than in the
        # factorisation at these sizes, and the support search solves thousands
        _, _, x, info = _gesv(K, rhs)
        if info != 0:
            raise PathError(f"singular KKT system (gesv info {info})")
        if not np.isfinite(x).all() or np.abs(K @ x - rhs).max() > 1e-8 * (1 + np.abs(rhs).max()):
            raise PathError("ill-conditioned KKT system")
        a = w_fixed
        b = np.zeros(self.n)
        a[free], b[free] = x[:nf, 0], x[:nf, 1]
        nu0, nu1 = x[nf:, 0], x[nf:, 1]
        # the gradient without any weight's own kink/turnover terms: budget and group rows only
        k_rows = 1 + len(active)
        base = E[:k_rows]
        g0 = self.sigma @ a + base.T @ nu0[:k_rows]
        g1 = self.sigma @ b - self.mu + base.T @ nu1[:k_rows]
        tau0, tau1 = (float(nu0[-1]), float(nu1[-1])) if turnover_on else (0.0, 0.0)
        return SegmentParts(
            a, b, nu0[1:k_rows], nu1[1:k_rows], g0, g1, tau0, self.cost + tau1, s, state == FREE
        )

    def _slacks(self, state, parts: SegmentParts):
        """The multipliers that must stay >= 0 at fixed weights, with the move each triggers.

        Returns ``(index, z0, z1, event)`` arrays: ``z0 + lam z1 >= 0`` must hold, and when
        it stops holding the weight makes ``event`` (a release, a code of :data:`EVENTS`).
        """
        g0, g1, c0, c1 = parts.g0, parts.g1, parts.c0, parts.c1
        low = _nonzero((state == LOWER) & self.movable)
        up = _nonzero((state == UPPER) & self.movable)
        kink = _nonzero(state == KINK)
        sl, su = self.side_lower[low], self.side_upper[up]
        idx = np.concatenate([low, up, kink, kink])
        z0 = np.concatenate([g0[low] + c0 * sl, -(g0[up] + c0 * su), g0[kink] + c0, c0 - g0[kink]])
        z1 = np.concatenate([g1[low] + c1 * sl, -(g1[up] + c1 * su), g1[kink] + c1, c1 - g1[kink]])
        codes = np.repeat(
            [RELEASE_LOWER, RELEASE_UPPER, RELEASE_RIGHT, RELEASE_LEFT],
            [len(low), len(up), len(kink), len(kink)],
        )
        return idx, z0, z1, codes

    def _turnover_affine(self, parts: SegmentParts) -> tuple[float, float]:
        free, s = parts.free, parts.s
        moved = np.abs(parts.a - self.w0)
        t0 = float(s[free] @ (parts.a[free] - self.w0[free]) + moved[~free].sum())
        return t0, float(s[free] @ parts.b[free])

    def _net_affine(self, parts: SegmentParts) -> tuple[float, float]:
        net0, net1 = float(self.mu @ parts.a), float(self.mu @ parts.b)
        if not self.cost:
            return net0, net1
        t0, t1 = self._turnover_affine(parts)
        return net0 - self.cost * t0, net1 - self.cost * t1

    def entry_costs(self, seg: RebalancingSegment, lam: np.ndarray) -> np.ndarray:
        """``(len(lam), n)``: the rate at which the objective changes as each weight rises
        from its lower bound, at the points ``lam`` of ``seg`` (the bound's multiplier; for a
        weight the caller pinned there, its reduced cost). Negative: raising it would help.
        """
        parts = seg.parts
        lam = np.asarray(lam, dtype=float)[:, None]
        g = parts.g0 + lam * parts.g1
        c = parts.c0 + lam * parts.c1
        return g + c * self.side_lower

    # -- applying a change -----------------------------------------------------------------
    def _apply(self, kind, i, state, side, active, turnover_on) -> bool:
        """Apply one change in place; returns the new ``turnover_on``."""
        if kind == "hit_lower":
            state[i] = LOWER
        elif kind == "hit_upper":
            state[i] = UPPER
        elif kind in ("kink_from_right", "kink_from_left"):
            state[i] = KINK
        elif kind == "release_lower":
            state[i], side[i] = FREE, self.side_lower[i]
        elif kind == "release_upper":
            state[i], side[i] = FREE, self.side_upper[i]
        elif kind == "release_right":
            state[i], side[i] = FREE, 1
        elif kind == "release_left":
            state[i], side[i] = FREE, -1
        elif kind == "row_binds":
            active.append(i)
        elif kind == "row_slack":
            active.remove(i)
        elif kind == "turnover_binds":
            return True
        elif kind == "turnover_slack":
            return False
        return turnover_on

    def _end_kind(self, i: int, side_i: int, upward: bool) -> str:
        """What a free weight becomes at the end of its piece it runs into."""
        if upward:
            return "kink_from_left" if side_i < 0 and self.inside[i] else "hit_upper"
        return "kink_from_right" if side_i > 0 and self.inside[i] else "hit_lower"

    # -- KKT violations at one lam (the start) ---------------------------------------------
    def _violations(self, state, side, active, turnover_on, lam, parts: SegmentParts) -> list:
        """``(magnitude, kind, index)`` for every KKT condition broken at ``lam``."""
        form = self.form
        tol = 1e-9
        w = parts.a + lam * parts.b
        found = []
        free = _nonzero(state == FREE)
        lo = np.where(side[free] > 0, self.lo_buy[free], form.lower[free])
        hi = np.where(side[free] < 0, self.hi_sell[free], form.upper[free])
        for j, i in enumerate(free):
            if w[i] < lo[j] - tol:
                found.append((lo[j] - w[i], self._end_kind(int(i), int(side[i]), False), int(i)))
            elif w[i] > hi[j] + tol:
                found.append((w[i] - hi[j], self._end_kind(int(i), int(side[i]), True), int(i)))
        idx, z0, z1, kinds = self._slacks(state, parts)
        z = z0 + lam * z1
        for i, value, kind in zip(idx, z, kinds, strict=True):
            if value < -tol * self.scale:
                found.append((-value, EVENTS[kind], int(i)))
        eta = parts.eta0 + lam * parts.eta1
        for k, row in enumerate(active):
            if eta[k] < -tol * self.scale:
                found.append((-eta[k], "row_slack", row))
        if len(form.h):
            slack = form.G @ w - form.h
            for row in _nonzero(slack > tol):
                if row not in active:
                    found.append((slack[row], "row_binds", int(row)))
        if self.max_turnover is not None:
            if turnover_on:
                tau = parts.c0 + lam * (parts.c1 - self.cost)
                if tau < -tol * self.scale:
                    found.append((-tau, "turnover_slack", -1))
            else:
                turnover = float(np.abs(w - self.w0).sum())
                if turnover > self.max_turnover + tol:
                    found.append((turnover - self.max_turnover, "turnover_binds", -1))
        return found

    # -- the start: the min-volatility corner ----------------------------------------------
    def _initial_state(self) -> tuple[np.ndarray, np.ndarray]:
        state = np.where(self.pinned, LOWER, FREE)
        # a free weight's first piece: toward where its bounds allow, buying where w0 is inside
        side = np.where(self.form.upper <= self.w0, -1, 1) if self.kinked else np.zeros(self.n)
        return state, side.astype(int)

    def _start(self):
        found = self._start_primal_dual()
        if found is not None:
            return found
        return self._start_interior_point()

    def _start_primal_dual(self):
        """Primal-dual active-set iteration at lam = 0 (Hintermueller, Ito & Kunisch 2002)."""
        state, side = self._initial_state()
        active: list[int] = []
        turnover_on = False
        seen = set()
        for _ in range(60):
            key = (state.tobytes(), side.tobytes(), tuple(sorted(active)), turnover_on)
            if key in seen:
                return None
            seen.add(key)
            try:
                parts = self._segment(state, side, active, turnover_on)
            except PathError:
                return None
            if self.kinked and not turnover_on:
                # c = 0 at lam = 0 without the cap binding: the kinks cost nothing, so a free
                # weight is simply on the side of w0 where it lies
                free = state == FREE
                where = np.where(parts.a >= self.w0, 1, -1)
                side[free] = np.where(self.inside, where, self.side_lower)[free]
            found = self._violations(state, side, active, turnover_on, 0.0, parts)
            if not found:
                return state, side, active, turnover_on
            for _, kind, i in found:
                turnover_on = self._apply(kind, i, state, side, active, turnover_on)
        return None

    def _start_interior_point(self):
        form = self.form
        w = cp.Variable(self.n)
        cons = [w >= form.lower, w <= form.upper, cp.sum(w) == form.budget]
        if len(form.h):
            cons.append(form.G @ w <= form.h)
        if self.max_turnover is not None:
            cons.append(cp.norm1(w - self.w0) <= self.max_turnover)
        problem = cp.Problem(cp.Minimize(0.5 * cp.quad_form(w, cp.psd_wrap(self.sigma))), cons)
        try:
            solve(problem)
        except ProblemInfeasible:
            raise InfeasibleConstraints(
                ["no portfolio satisfies the bounds, budget, group limits and turnover cap"]
            ) from None
        weights = np.asarray(w.value)
        state = np.full(self.n, FREE)
        state[self.inside & (np.abs(weights - self.w0) < 1e-7)] = KINK
        state[(state == FREE) & (weights - form.lower < 1e-7)] = LOWER
        state[(state == FREE) & (form.upper - weights < 1e-7)] = UPPER
        state[self.pinned] = LOWER
        side = np.where(weights >= self.w0, 1, -1) if self.kinked else np.zeros(self.n, dtype=int)
        side = side.astype(int)
        active = []
        if len(form.h):
            active = [int(r) for r in _nonzero(form.G @ weights - form.h > -1e-7)]
        turnover_on = self.max_turnover is not None and bool(
            np.abs(weights - self.w0).sum() > self.max_turnover - 1e-7
        )
        for _ in range(4 * self.n + 10):
            parts = self._segment(state, side, active, turnover_on)
            found = self._violations(state, side, active, turnover_on, 0.0, parts)
            if not found:
                return state, side, active, turnover_on
            _, kind, i = max(found)
            turnover_on = self._apply(kind, i, state, side, active, turnover_on)
        raise PathError("could not identify the min-volatility active set")

    # -- the path --------------------------------------------------------------------------
    def path(self) -> list[RebalancingSegment]:
        return list(self.segments())

    def segments(self):
        """The path's segments in order of ``lam`` (lazily)."""
        state, side, active, turnover_on = self._start()
        lam = 0.0
        recent: set = set()  # changes made at this lam: their undoing is not an event (ties)
        for _ in range(30 * (self.n + len(self.form.h)) + 60):
            parts = self._segment(state, side, active, turnover_on)
            if np.abs(parts.b).max() <= 1e-12 * max(1.0, np.abs(parts.a).max()):
                parts.b = np.zeros(self.n)
            net0, net1 = self._net_affine(parts)
            event = self._next_event(state, side, active, turnover_on, lam, parts, recent)
            if event is None:
                if parts.b.any():
                    raise PathError("the path is unbounded, yet the feasible set is bounded")
                yield RebalancingSegment(lam, np.inf, parts.a, parts.b, net0, net1, parts)
                return
            lam_next, kind, index = event
            yield RebalancingSegment(lam, lam_next, parts.a, parts.b, net0, net1, parts)
            if lam_next > lam + 1e-13 * max(1.0, abs(lam)):
                recent = set()
            lam = lam_next
            recent.add((_UNDO[kind], index))
            turnover_on = self._apply(kind, index, state, side, active, turnover_on)
        raise PathError("too many corner portfolios (cycling)")

    def _next_event(self, state, side, active, turnover_on, lam, parts: SegmentParts, recent):
        """The earliest event after ``lam`` as ``(lam_event, kind, index)``, or ``None``.

        Every candidate's time is a ratio whose denominator was tested away from zero.
        """
        times, codes, indices = [], [], []
        for t, k, i in (
            *self._weight_events(side, parts),
            self._slack_events(state, parts),
            *self._row_events(active, parts),
            *self._turnover_events(turnover_on, parts),
        ):
            times.append(t)
            codes.append(k)
            indices.append(i)
        t = np.concatenate(times)
        if not len(t):
            return None
        return _earliest(t, np.concatenate(codes).astype(int), np.concatenate(indices).astype(int), lam, recent)

    def _weight_events(self, side, parts: SegmentParts) -> list[tuple]:
        """Free weights reaching a bound or their kink: two ``(times, codes, indices)``
        groups (falling weights, then rising ones), none when no weight is free."""
        form, a, b = self.form, parts.a, parts.b
        free = _nonzero(parts.free)
        if not len(free):
            return []
        bf, sf = b[free], side[free]
        down, up = bf < -1e-14, bf > 1e-14
        i_down, i_up = free[down], free[up]
        lo = np.where(sf[down] > 0, self.lo_buy[i_down], form.lower[i_down])
        hi = np.where(sf[up] < 0, self.hi_sell[i_up], form.upper[i_up])
        return [
            ((lo - a[i_down]) / bf[down],
             np.where((sf[down] > 0) & self.inside[i_down], KINK_FROM_RIGHT, HIT_LOWER), i_down),
            ((hi - a[i_up]) / bf[up],
             np.where((sf[up] < 0) & self.inside[i_up], KINK_FROM_LEFT, HIT_UPPER), i_up),
        ]

    def _slack_events(self, state, parts: SegmentParts) -> tuple:
        """Weights held at a bound or kink whose multiplier's slack reaches zero (release)."""
        idx, z0, z1, release = self._slacks(state, parts)
        falling = z1 < -1e-14
        return -z0[falling] / z1[falling], release[falling], idx[falling]

    def _row_events(self, active, parts: SegmentParts) -> list[tuple]:
        """Inactive linear rows that start to bind, then active rows whose multiplier falls to 0."""
        form, events = self.form, []
        if len(form.h):
            rate = form.G @ parts.b
            inactive = np.ones(len(form.h), dtype=bool)
            inactive[active] = False
            rising = _nonzero(inactive & (rate > 1e-14))
            events.append(((form.h[rising] - form.G[rising] @ parts.a) / rate[rising],
                           np.full(len(rising), ROW_BINDS), rising))
        if active:
            rows = np.asarray(active, dtype=int)
            falling = parts.eta1 < -1e-14
            events.append((-parts.eta0[falling] / parts.eta1[falling],
                           np.full(int(falling.sum()), ROW_SLACK), rows[falling]))
        return events

    def _turnover_events(self, turnover_on, parts: SegmentParts) -> list[tuple]:
        """The turnover cap's row binding (when off) or its multiplier reaching zero (when on)."""
        if self.max_turnover is None:
            return []
        if turnover_on:
            tau0, tau1 = parts.c0, parts.c1 - self.cost
            if tau1 < -1e-14:
                return [(np.array([-tau0 / tau1]), np.array([TURNOVER_SLACK]), np.array([-1]))]
            return []
        t0, t1 = self._turnover_affine(parts)
        if t1 > 1e-14:
            return [(np.array([(self.max_turnover - t0) / t1]), np.array([TURNOVER_BINDS]), np.array([-1]))]
        return []


def _earliest(t: np.ndarray, k: np.ndarray, i: np.ndarray, lam: float, recent: set):
    """The first candidate at or after ``lam``, skipping the undoing of a change made at this
    very ``lam`` (ties), as ``(lam_event, kind, index)``; ``None`` when there is none."""
    ok = np.isfinite(t) & (t >= lam - 1e-9)
    if recent:
        floor = lam + 1e-13 * max(1.0, abs(lam))
        for j in _nonzero(ok & (t < floor)):
            if (EVENTS[k[j]], int(i[j])) in recent:
                ok[j] = False
    if not ok.any():
        return None
    j = int(np.argmin(np.where(ok, t, np.inf)))
    return max(float(t[j]), lam), EVENTS[k[j]], int(i[j])
