"""The efficient frontier, traced exactly by a parametric active-set QP.

For ``min 1/2 w'Sigma w - lam mu'w`` under linear constraints (bounds, budget, asset-class
and sector limits) the optimal weights are piecewise linear in ``lam``: between two
*corner portfolios* the active set is fixed and ``w(lam) = a + lam b`` solves one KKT
system. Starting from the min-volatility portfolio (``lam = 0``) we move ``lam`` up to
the next event -- a free weight reaching a bound, a group limit becoming binding, or a
multiplier reaching zero -- update the active set, and stop at the max-return corner
(``b = 0``). This is Markowitz's critical line algorithm generalised to group limits
(cf. Best 1996, "An algorithm for the solution of the parametric quadratic programming
problem"). It costs one small KKT factorisation per corner (only the free weights enter),
after which any number of frontier points -- evenly spaced in expected return -- and the
exact tangency (max-Sharpe) portfolio follow in closed form.

:func:`.frontiers.efficient_frontier` picks the path. A turnover cap and proportional
transaction costs from current weights keep the path piecewise linear with one more state per
weight (held at its current weight): that path is :mod:`.rebalancing`. Cardinality
(``max_holdings``, ``min_position``) searches supports, each one such path
(:mod:`.cardinality`). Degenerate active sets fall back to
:func:`.frontier_cvxpy.frontier_cvxpy`: one cvxpy problem with the target return as a
parameter, re-solved per point.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.linalg

from .constraints import LinearForm
from .exceptions import InfeasibleConstraints, PathError
from .path import place_targets
from .problem import Inputs, linear_constraints
from .solvers import ProblemInfeasible, solve


@dataclass
class Segment:
    """``w(lam) = a + lam * b`` for ``lam`` in ``[start, end]``."""

    start: float
    end: float
    a: np.ndarray
    b: np.ndarray


class ParametricQP:
    """The piecewise-linear path of ``min 1/2 w'Sigma w - lam mu'w`` over ``LinearForm``."""

    def __init__(self, sigma: np.ndarray, mu: np.ndarray, form: LinearForm) -> None:
        self.sigma = sigma
        self.mu = mu
        self.form = form
        self.n = len(mu)
        self.scale = max(1.0, float(np.abs(mu).max()), float(np.abs(np.diag(sigma)).max()))
        self.tol = 1e-10 * self.scale

    # -- one active set --------------------------------------------------------------------
    def _segment(self, state: np.ndarray, active: list[int]) -> tuple:
        """Solve the KKT system of an active set: weights and multipliers, affine in lam."""
        form = self.form
        free = np.flatnonzero(state == 0)
        bound = np.flatnonzero(state != 0)
        fixed = np.where(state < 0, form.lower, form.upper)
        w_fixed = np.zeros(self.n)
        w_fixed[bound] = fixed[bound]
        E = np.vstack([np.ones((1, self.n)), form.G[active]]) if active else np.ones((1, self.n))
        e = np.concatenate([[form.budget], form.h[active]]) if active else np.array([form.budget])
        nf, m = len(free), len(E)
        K = np.zeros((nf + m, nf + m))
        K[:nf, :nf] = self.sigma[np.ix_(free, free)]
        K[:nf, nf:] = E[:, free].T
        K[nf:, :nf] = E[:, free]
        rhs = np.zeros((nf + m, 2))
        rhs[:nf, 0] = -(self.sigma @ w_fixed)[free]
        rhs[nf:, 0] = e - E[:, bound] @ w_fixed[bound]
        rhs[:nf, 1] = self.mu[free]
        try:
            x = scipy.linalg.solve(K, rhs, assume_a="sym", check_finite=False)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError, ValueError) as exc:
            raise PathError(f"singular KKT system ({exc})") from None
        if not np.isfinite(x).all() or np.abs(K @ x - rhs).max() > 1e-8 * (1 + np.abs(rhs).max()):
            raise PathError("ill-conditioned KKT system")
        a = w_fixed.copy()
        b = np.zeros(self.n)
        a[free], b[free] = x[:nf, 0], x[:nf, 1]
        nu0, nu1 = x[nf:, 0], x[nf:, 1]
        # gradient of the Lagrangian without the bound multipliers: g = g0 + lam g1
        g0 = self.sigma @ a + E.T @ nu0
        g1 = self.sigma @ b - self.mu + E.T @ nu1
        return a, b, nu0[1:], nu1[1:], g0, g1

    def _kkt_violations(self, state, active, lam, a, b, eta0, eta1, g0, g1) -> tuple[list, list]:
        """(to fix, to release) at ``lam``: free weights outside bounds, negative multipliers."""
        w = a + lam * b
        to_fix, to_release = [], []
        for i in np.flatnonzero(state == 0):
            if w[i] < self.form.lower[i] - 1e-9:
                to_fix.append(("lower", i, self.form.lower[i] - w[i]))
            elif w[i] > self.form.upper[i] + 1e-9:
                to_fix.append(("upper", i, w[i] - self.form.upper[i]))
        zeta = np.where(state < 0, g0 + lam * g1, -(g0 + lam * g1))
        for i in np.flatnonzero(state != 0):
            if self.form.lower[i] == self.form.upper[i]:
                continue  # a pinned weight (exclusion) never leaves its bound
            if zeta[i] < -1e-9 * self.scale:
                to_release.append(("bound", i, -zeta[i]))
        eta = eta0 + lam * eta1
        for k, row in enumerate(active):
            if eta[k] < -1e-9 * self.scale:
                to_release.append(("row", row, -eta[k]))
        if len(self.form.h):
            slack = self.form.G @ w - self.form.h
            for row in np.flatnonzero(slack > 1e-9):
                if row not in active:
                    to_fix.append(("row", row, slack[row]))
        return to_fix, to_release

    # -- the start: the min-volatility corner --------------------------------------------
    def _start(self) -> tuple[np.ndarray, list[int]]:
        """The active set of the min-volatility portfolio (``lam = 0``).

        First a primal-dual active-set iteration from "every weight free" (Hintermueller,
        Ito & Kunisch 2002: fix every weight outside its bounds and release every negative
        multiplier at once; it usually settles in a handful of KKT solves); if it cycles,
        an interior-point solve (Clarabel) whose active set is then repaired move by move.
        """
        found = self._start_primal_dual()
        if found is not None:
            return found
        return self._start_interior_point()

    def _start_primal_dual(self) -> tuple[np.ndarray, list[int]] | None:
        form = self.form
        state = np.where(form.lower == form.upper, -1, 0)
        active: list[int] = []
        seen = set()
        for _ in range(50):
            key = (state.tobytes(), tuple(sorted(active)))
            if key in seen:
                return None
            seen.add(key)
            try:
                parts = self._segment(state, active)
            except PathError:
                return None
            to_fix, to_release = self._kkt_violations(state, active, 0.0, *parts)
            if not to_fix and not to_release:
                return state, active
            for kind, i, _ in to_fix:
                if kind == "row":
                    active.append(int(i))
                else:
                    state[i] = -1 if kind == "lower" else 1
            for kind, i, _ in to_release:
                if kind == "row":
                    active.remove(int(i))
                else:
                    state[i] = 0
        return None

    def _start_interior_point(self) -> tuple[np.ndarray, list[int]]:
        form = self.form
        w = cp.Variable(self.n)
        cons = linear_constraints(w, form)
        problem = cp.Problem(cp.Minimize(0.5 * cp.quad_form(w, cp.psd_wrap(self.sigma))), cons)
        try:
            solve(problem)
        except ProblemInfeasible:
            raise InfeasibleConstraints(
                ["no portfolio satisfies the bounds, budget and group limits"]
            ) from None
        weights = np.asarray(w.value)
        state = np.zeros(self.n, dtype=int)
        pinned = form.lower == form.upper
        state[pinned] = -1
        state[~pinned & (weights - form.lower < 1e-7)] = -1
        state[~pinned & (form.upper - weights < 1e-7)] = 1
        active = []
        if len(form.h):
            active = [int(r) for r in np.flatnonzero(form.G @ weights - form.h > -1e-7)]
        # Repair a misread active set with a few active-set moves at lam = 0.
        for _ in range(4 * self.n + 10):
            parts = self._segment(state, active)
            to_fix, to_release = self._kkt_violations(state, active, 0.0, *parts)
            if not to_fix and not to_release:
                return state, active
            kind, i, _ = max(to_fix + to_release, key=lambda item: item[2])
            if (kind, i) in [(k, j) for k, j, _ in to_fix]:
                if kind == "row":
                    active.append(int(i))
                else:
                    state[i] = -1 if kind == "lower" else 1
            elif kind == "row":
                active.remove(int(i))
            else:
                state[i] = 0
        raise PathError("could not identify the min-volatility active set")

    # -- the path --------------------------------------------------------------------------
    def path(self) -> list[Segment]:
        return list(self.segments())

    def segments(self):
        """Yield the path's segments in order of ``lam``, lazily (max Sharpe stops early)."""
        state, active = self._start()
        lam = 0.0
        last_change: tuple | None = None
        for _ in range(20 * (self.n + len(self.form.h)) + 50):
            a, b, eta0, eta1, g0, g1 = self._segment(state, active)
            if np.abs(b).max() <= 1e-12 * max(1.0, np.abs(a).max()):
                b = np.zeros(self.n)
            events = self._events(state, active, lam, a, b, eta0, eta1, g0, g1, last_change)
            if not events:
                if b.any():
                    raise PathError("the path is unbounded, yet the feasible set is bounded")
                yield Segment(lam, np.inf, a, b)
                return
            lam_next, kind, index = min(events, key=lambda item: item[0])
            yield Segment(lam, lam_next, a, b)
            lam = lam_next
            last_change = (kind, index)
            if kind == "hit_lower":
                state[index] = -1
            elif kind == "hit_upper":
                state[index] = 1
            elif kind == "row_binds":
                active.append(index)
            elif kind == "row_slack":
                active.remove(index)
            else:  # "release"
                state[index] = 0
        raise PathError("too many corner portfolios (cycling)")

    def _events(self, state, active, lam, a, b, eta0, eta1, g0, g1, last_change) -> list:
        """The earliest event of each kind after ``lam`` as ``(lam_event, kind, index)``.

        An event at (numerically) the current ``lam`` counts unless it would undo the change
        just made -- that is how simultaneous events (ties) are processed one by one.
        """
        form = self.form
        floor = lam + 1e-13 * max(1.0, abs(lam))
        candidates = []

        def earliest(times: np.ndarray, indices: np.ndarray, kind: str) -> None:
            if not len(times):
                return
            ok = np.isfinite(times) & (times >= lam - 1e-9)
            if last_change is not None:
                undo = {
                    "hit_lower": "release",
                    "hit_upper": "release",
                    "release": "hit_",
                    "row_binds": "row_slack",
                    "row_slack": "row_binds",
                }[kind]
                if last_change[0].startswith(undo) or last_change[0] == kind:
                    ok &= ~((indices == last_change[1]) & (times < floor))
            if ok.any():
                j = int(np.argmin(np.where(ok, times, np.inf)))
                candidates.append((max(float(times[j]), lam), kind, int(indices[j])))

        with np.errstate(divide="ignore", invalid="ignore"):
            free = np.flatnonzero(state == 0)
            down = free[b[free] < -1e-14]
            up = free[b[free] > 1e-14]
            earliest((form.lower[down] - a[down]) / b[down], down, "hit_lower")
            earliest((form.upper[up] - a[up]) / b[up], up, "hit_upper")
            if len(form.h):
                rate = form.G @ b
                level = form.G @ a
                inactive = np.array(
                    [r for r in range(len(form.h)) if r not in active and rate[r] > 1e-14],
                    dtype=int,
                )
                earliest(
                    (form.h[inactive] - level[inactive]) / rate[inactive], inactive, "row_binds"
                )
            if active:
                rows = np.asarray(active, dtype=int)
                falling = eta1 < -1e-14
                earliest(-eta0[falling] / eta1[falling], rows[falling], "row_slack")
            bound = np.flatnonzero((state != 0) & (form.lower != form.upper))
            sign = np.where(state[bound] < 0, 1.0, -1.0)
            z0, z1 = sign * g0[bound], sign * g1[bound]
            falling = z1 < -1e-14
            earliest(-z0[falling] / z1[falling], bound[falling], "release")
        return candidates


def _tangency(
    segments,
    mu: np.ndarray,
    sigma: np.ndarray,
    offset: float,
    rf: float,
    *,
    early_stop: bool = False,
) -> np.ndarray:
    """The max-Sharpe weights on the path: per segment the optimum of a ratio of an affine
    function and the root of a quadratic in lam, whose stationary point solves a linear equation.

    With ``early_stop`` the (lazy) segments stop once the Sharpe ratio falls past its peak:
    along the frontier it is quasi-concave where the return exceeds ``rf`` (an affine
    numerator over the convex sigma(r)), so no later segment can do better.
    """
    best, best_weights, best_return = -np.inf, None, -np.inf
    for seg in segments:
        end = seg.end if np.isfinite(seg.end) else seg.start
        candidates = [seg.start, end]
        e, q = mu @ seg.a + offset - rf, mu @ seg.b
        sigma_a, sigma_b = sigma @ seg.a, sigma @ seg.b
        s0, s1, s2 = seg.a @ sigma_a, seg.a @ sigma_b, seg.b @ sigma_b
        denominator = q * s1 - e * s2
        if abs(denominator) > 1e-300:
            lam = (e * s1 - q * s0) / denominator
            if seg.start < lam < end:
                candidates.append(lam)
        end_sharpe = -np.inf
        for lam in candidates:
            vol = np.sqrt(max(s0 + 2 * lam * s1 + lam * lam * s2, 0.0))
            excess = e + lam * q
            sharpe = excess / vol if vol > 0 else -np.inf
            if lam == end:
                end_sharpe = sharpe
            if sharpe > best:
                best, best_weights, best_return = sharpe, seg.a + lam * seg.b, excess
        if early_stop and best_return > 0 and end_sharpe < best - 1e-12 * max(1.0, abs(best)):
            break
    return best_weights


def tangency_portfolio(inp: Inputs) -> np.ndarray:
    """Max-Sharpe weights under linear constraints, exactly, from the parametric path.

    Raises ``PathError`` on a degenerate path (the caller falls back to cvxpy).
    """
    qp = ParametricQP(inp.sigma, inp.mu, inp.form)
    offset = inp.risk_free_rate * (1 - inp.form.budget)
    return _tangency(qp.segments(), inp.mu, inp.sigma, offset, inp.risk_free_rate, early_stop=True)


def linear_frontier(
    inp: Inputs, points: int, targets: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """``(weights, tangency, corners, unreachable targets)`` along the linear path."""
    qp = ParametricQP(inp.sigma, inp.mu, inp.form)
    segments = qp.path()
    offset = inp.risk_free_rate * (1 - inp.form.budget)
    corner_returns = np.array([inp.mu @ (s.a + s.start * s.b) for s in segments])
    final = segments[-1]
    r_max = float(inp.mu @ final.a)
    targets, unreachable = place_targets(targets, float(corner_returns[0]), r_max, points)
    weights = np.empty((len(targets), inp.n))
    for p, target in enumerate(targets):
        k = int(
            np.clip(np.searchsorted(corner_returns, target, side="right") - 1, 0, len(segments) - 1)
        )
        seg = segments[k]
        slope = inp.mu @ seg.b
        lam = seg.start if slope <= 0 else seg.start + (target - corner_returns[k]) / slope
        if np.isfinite(seg.end):
            lam = min(lam, seg.end)
        weights[p] = seg.a + lam * seg.b
    tangency = _tangency(segments, inp.mu, inp.sigma, offset, inp.risk_free_rate)
    return weights, tangency, len(segments), unreachable
