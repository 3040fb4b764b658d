"""Benchmark: the rebalancing frontier (costs and a turnover cap from current holdings) and the
cardinality-limited frontier, ours vs cvxpy, side by side in one process.

**Rebalancing** (issue 21, goal 3a). From seeded uneven holdings ``w0`` (some names not held),
a proportional cost ``k`` per unit traded and a turnover cap ``T``: 100 points of
``min w'Sigma w`` s.t. ``mu'w - k||w - w0||_1 >= target``, ``||w - w0||_1 <= T``, long-only,
fully invested, a position cap. Every method gets the same 100 net-return targets (ours':
min-volatility to the highest return the cap allows, the last 1e-9 inside the end).

- ``ours``: ``portfolios.optimization.efficient_frontier`` (the exact rebalancing path);
- ``cvxpy re-solve``: one DPP ``cp.Problem`` with the target a ``cp.Parameter``, canonicalised
  once and re-solved per point by the project's solver chain (``solvers.solve``: Clarabel at
  1e-9, the project's default settings) -- what ``method="cvxpy_parametric"`` does, without
  its checks.

Accuracy: each point's volatility against Clarabel at tolerance 1e-12 (the "tight reference"),
ours evaluated at the very same targets. Failed points: solver errors or infeasibility. A
second run asks for targets up to the *uncapped* frontier's maximum: those beyond the cap end
our frontier (``unreachable_targets``), while the re-solve reports them as infeasible points.

**Cardinality** (goal 3b): at most ``K`` names, 100 points on the 20 stocks. Ours (support
search) against the exact answer by exhaustive enumeration of all ``C(20, K)`` supports (each
one the same exact path, itself checked against cvxpy above and in the tests) and against SCIP
(the MIQP, one solve per point) on a sample of the points; SCIP's time per point is extrapolated
to 100 points (the old cvxpy path refused more than 50).

Run: ``.venv/bin/python bench/bench_rebalancing_frontier.py [--sizes 20,100,500] [--repeats 5]``.
BLAS pinned to one thread; medians over ``--repeats``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import itertools
import statistics
import sys
import time
import warnings
from pathlib import Path

import cvxpy as cp
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_frontier import factor_universe, stocks20, timed  # noqa: E402

from portfolios.optimization import (  # noqa: E402
    Constraints,
    OptimizationError,
    compile_constraints,
    efficient_frontier,
)
from portfolios.optimization.cardinality import CardinalityFrontier  # noqa: E402
from portfolios.optimization.solvers import ProblemInfeasible, solve  # noqa: E402

COST = 0.002
CAP = 0.5


def holdings(symbols, seed: int = 7) -> pd.Series:
    """Uneven current weights, a quarter of the names not held (the tests' generator)."""
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.full(len(symbols), 0.6))
    w[rng.random(len(symbols)) < 0.25] = 0.0
    return pd.Series(w / w.sum(), index=symbols)


def _constraints_cvxpy(w, form, w0, cap):
    cons = [w >= form.lower, w <= form.upper, cp.sum(w) == form.budget]
    if len(form.h):
        cons.append(form.G @ w <= form.h)
    cons.append(cp.norm1(w - w0) <= cap)
    return cons


class CvxpyResolve:
    """One DPP problem, the net-return target a parameter, re-solved per point."""

    def __init__(self, mu, cov, form, w0, cost, cap):
        self.w = cp.Variable(len(mu))
        self.target = cp.Parameter()
        net = mu @ self.w - cost * cp.norm1(self.w - w0)
        self.problem = cp.Problem(
            cp.Minimize(cp.quad_form(self.w, cp.psd_wrap(cov))),
            [*_constraints_cvxpy(self.w, form, w0, cap), net >= self.target],
        )

    def __call__(self, targets):
        weights, failed = np.full((len(targets), self.w.shape[0]), np.nan), 0
        for i, value in enumerate(targets):
            self.target.value = float(value)
            try:
                solve(self.problem)
                weights[i] = self.w.value
            except (ProblemInfeasible, OptimizationError):
                failed += 1
        return weights, failed


def tight_volatility(mu, cov, form, w0, cost, cap, target) -> float:
    w = cp.Variable(len(mu))
    net = mu @ w - cost * cp.norm1(w - w0)
    problem = cp.Problem(
        cp.Minimize(cp.quad_form(w, cp.psd_wrap(cov))),
        [*_constraints_cvxpy(w, form, w0, cap), net >= target],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        problem.solve(
            solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12, max_iter=500
        )
    return float(np.sqrt(max(w.value @ cov @ w.value, 0.0)))


def vols_of(weights, cov):
    return np.sqrt(np.clip(((weights @ cov) * weights).sum(axis=1), 0.0, None))


def rebalancing(name, mu, cov, points, repeats, peer_repeats) -> dict:
    n = len(mu)
    w0 = holdings(mu.index)
    constraints = Constraints(
        max_position=max(0.25, 2.0 / n), transaction_cost=COST, max_turnover=CAP
    )
    print(
        f"\n== rebalancing, {name}: {n} assets, {points} points, k={COST}, T={CAP} ==", flush=True
    )

    def ours_run(targets=None):
        return efficient_frontier(
            expected_returns=mu,
            cov=cov,
            constraints=constraints,
            points=points,
            current_weights=w0,
            target_returns=targets,
        )

    ours_s, frontier = timed(ours_run, repeats)
    targets = frontier.expected_returns.copy()
    targets[-1] -= 1e-9 * max(1.0, abs(targets[-1]))
    ours_at = ours_run(targets)  # ours at exactly the targets the others get
    m, sigma, w0v = mu.to_numpy(), cov.to_numpy(), w0.to_numpy()
    form = compile_constraints(constraints, list(mu.index), current_weights=w0v)
    peer = CvxpyResolve(m, sigma, form, w0v, COST, CAP)
    peer(targets[:1])  # canonicalise once, as a re-used DPP problem is
    peer_s, (peer_w, peer_failed) = timed(lambda: peer(targets), peer_repeats)
    reference = np.array([tight_volatility(m, sigma, form, w0v, COST, CAP, t) for t in targets])
    ours_err = float(np.abs(ours_at.volatilities - reference).max())
    ok = ~np.isnan(peer_w).any(axis=1)
    peer_err = float(np.abs(vols_of(peer_w[ok], sigma) - reference[ok]).max())
    print(
        f"ours ({frontier.method}, {frontier.corners} corners): median {ours_s * 1e3:.1f} ms, "
        f"0 failed, max |vol - reference| = {ours_err:.1e}, max turnover {frontier.turnovers.max():.4f}",
        flush=True,
    )
    print(
        f"cvxpy re-solve: median {peer_s * 1e3:.0f} ms, {peer_failed} failed, "
        f"max |vol - reference| = {peer_err:.1e}; ours is {peer_s / ours_s:.1f}x faster",
        flush=True,
    )
    # targets up to the uncapped maximum: beyond the cap they end ours, they fail the re-solve
    uncapped = Constraints(max_position=constraints.max_position, transaction_cost=COST)
    free = efficient_frontier(
        expected_returns=mu, cov=cov, constraints=uncapped, current_weights=w0, points=points
    )
    wide = free.expected_returns.copy()
    wide[-1] -= 1e-9 * max(1.0, abs(wide[-1]))
    capped = ours_run(wide)
    _, wide_failed = peer(wide)
    print(
        f"targets up to the uncapped maximum: ours {len(capped.points)} points, "
        f"{capped.unreachable_targets} beyond the cap reported as the frontier's end, 0 failed; "
        f"cvxpy re-solve {wide_failed} infeasible points",
        flush=True,
    )
    return {
        "benchmark": f"rebalancing {name}",
        "ours_s": ours_s,
        "peer_s": peer_s,
        "ratio": peer_s / ours_s,
        "ours_failed": 0,
        "peer_failed": peer_failed,
        "ours_err": ours_err,
        "peer_err": peer_err,
        "beyond_cap": capped.unreachable_targets,
        "peer_infeasible_beyond_cap": wide_failed,
    }


def scip_volatility(mu, cov, k, target) -> tuple[float, float]:
    n = len(mu)
    w = cp.Variable(n)
    held = cp.Variable(n, boolean=True)
    cons = [cp.sum(w) == 1, w >= 0, w <= held, cp.sum(held) <= k, mu @ w >= target]
    problem = cp.Problem(cp.Minimize(cp.quad_form(w, cp.psd_wrap(cov))), cons)
    started = time.perf_counter()
    problem.solve(solver="SCIP", scip_params={"limits/gap": 1e-9, "numerics/feastol": 1e-9})
    return float(np.sqrt(w.value @ cov @ w.value)), time.perf_counter() - started


def cardinality(mu, cov, k, points, repeats, scip_points) -> dict:
    n = len(mu)
    print(f"\n== cardinality, 20 stocks: at most {k} names, {points} points ==", flush=True)
    constraints = Constraints(max_holdings=k)
    ours_s, frontier = timed(
        lambda: efficient_frontier(
            expected_returns=mu, cov=cov, constraints=constraints, points=points
        ),
        repeats,
    )
    held = int((frontier.weights.to_numpy() > 1e-7).sum(axis=1).max())
    print(
        f"ours ({frontier.method}): median {ours_s:.2f} s, {frontier.supports_evaluated} supports "
        f"searched, at most {held} names, gap bound (vs the relaxed frontier) <= "
        f"{frontier.gap_bounds.max():.1e}",
        flush=True,
    )
    form = compile_constraints(constraints, list(mu.index))
    search = CardinalityFrontier(cov.to_numpy(), mu.to_numpy(), form, np.zeros(n), max_holdings=k)
    started = time.perf_counter()
    best = np.full(len(frontier.expected_returns), np.inf)
    supports = 0
    for names in itertools.combinations(range(n), k):
        support = search.evaluate(frozenset(names))
        supports += 1
        if support is not None:
            best = np.minimum(best, search.volatilities(support, frontier.expected_returns))
    exhaustive_s = time.perf_counter() - started
    gap = frontier.volatilities - best
    low = min(s.min_vol for s in search.pool.values() if s is not None)
    reach = max(s.path.max_net for s in search.pool.values() if s is not None)
    print(
        f"exhaustive ({supports} supports, {exhaustive_s:.1f} s): max gap {gap.max():.1e}, "
        f"{int((gap > 1e-9).sum())} points above it by > 1e-9; min-volatility end "
        f"{frontier.volatilities[0] - low:+.1e}, max-return end "
        f"{frontier.expected_returns[-1] - reach:+.1e}",
        flush=True,
    )
    sample = np.linspace(1, points - 2, scip_points).round().astype(int)
    scip_gaps, scip_times = [], []
    for i in sample:
        vol, seconds = scip_volatility(
            mu.to_numpy(), cov.to_numpy(), k, frontier.expected_returns[i] - 1e-9
        )
        scip_gaps.append(frontier.volatilities[i] - vol)
        scip_times.append(seconds)
    scip_100 = statistics.mean(scip_times) * points
    print(
        f"SCIP MIQP at {scip_points} of the points: {statistics.mean(scip_times):.2f} s a point "
        f"(~{scip_100:.0f} s for {points}); ours - SCIP volatility in "
        f"[{min(scip_gaps):+.1e}, {max(scip_gaps):+.1e}]; ours is ~{scip_100 / ours_s:.0f}x faster",
        flush=True,
    )
    return {
        "benchmark": f"cardinality K={k}",
        "ours_s": ours_s,
        "peer_s": scip_100,
        "ratio": scip_100 / ours_s,
        "ours_failed": 0,
        "peer_failed": 0,
        "ours_err": float(gap.max()),
        "peer_err": float(np.abs(scip_gaps).max()),
        "supports": frontier.supports_evaluated,
        "exhaustive_s": exhaustive_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="20,100,500", help="20 (the stocks) and/or factor sizes")
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5, help="repeats of ours (median)")
    parser.add_argument("--peer-repeats", type=int, default=3, help="repeats of the re-solve")
    parser.add_argument("--holdings", default="5,3", help="cardinality limits K on the 20 stocks")
    parser.add_argument("--scip-points", type=int, default=8, help="points SCIP solves")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    rows = []
    for size in [int(s) for s in args.sizes.split(",") if s]:
        mu, cov = stocks20() if size == 20 else factor_universe(size)
        name = "stock_prices.csv (20 stocks)" if size == 20 else f"factor model ({size} assets)"
        rows.append(
            rebalancing(
                name, mu, cov, args.points, args.repeats, args.peer_repeats if size <= 100 else 1
            )
        )
    mu, cov = stocks20()
    for k in [int(s) for s in args.holdings.split(",") if s]:
        rows.append(
            cardinality(mu, cov, k, args.points, max(1, args.repeats // 2), args.scip_points)
        )
    load = os.getloadavg()
    print(f"\nload average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("summary")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
