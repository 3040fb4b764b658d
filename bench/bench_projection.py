"""The projection onto a portfolio's limits: ours (exact, piecewise-linear) against cvxpy.

Every strategy's targets are projected onto the tier's limits in every review of every
portfolio (and an RL agent's targets in every decision), so the projection sits on the
cycle's hot path. Ours solves the relative-distance projection onto the tree of sleeve
and class ranges exactly by bisection-free inversion of piecewise-linear functions
(``portfolios.policy.projection``); the peer solves the same quadratic program with
cvxpy (Clarabel, the problem built once as a ``cp.Parameter`` problem and re-solved, the
fastest way to use it). Both on the same 200 random universes of 26 assets (the demo
world's size) and the balanced tier; medians of 3 repeats, with the largest difference.

    .venv/bin/python bench/bench_projection.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cvxpy as cp  # noqa: E402
import numpy as np  # noqa: E402

from portfolios.policy import policy_limits, project  # noqa: E402
from portfolios.policy.tiers import sleeve_of  # noqa: E402

CLASSES = ["equity"] * 14 + ["bond"] * 4 + ["commodity"] * 3 + ["real_estate"] * 2 + ["crypto"] * 2 + ["cash"]
SYMBOLS = [f"S{i:02d}" for i in range(len(CLASSES))]
CLASS_OF = dict(zip(SYMBOLS, CLASSES, strict=True))
CASES, REPEATS = 200, 3


def peer():
    limits = policy_limits(tier="balanced")
    n = len(SYMBOLS)
    scale = cp.Parameter(n, nonneg=True)  # 1 / sqrt(d): the problem stays DPP (re-solves are fast)
    target = cp.Parameter(n)  # v / sqrt(d)
    x = cp.Variable(n)
    caps = np.array([limits.position_cap(c) for c in CLASSES])
    cons = [x >= 0, x <= caps, cp.sum(x) <= 1 - limits.cash_buffer]
    noncash = [i for i, c in enumerate(CLASSES) if sleeve_of(c) != "cash"]
    lo, hi = limits.sleeve_ranges["cash"]
    cons += [cp.sum(x[noncash]) >= 1 - hi, cp.sum(x[noncash]) <= 1 - lo]
    for sleeve in ("equity", "bonds", "alternatives"):
        idx = [i for i, c in enumerate(CLASSES) if sleeve_of(c) == sleeve]
        lo, hi = limits.sleeve_ranges[sleeve]
        cons += [cp.sum(x[idx]) >= lo, cp.sum(x[idx]) <= hi]
    for cls, (lo, hi) in limits.class_ranges.items():
        idx = [i for i, c in enumerate(CLASSES) if c == cls]
        cons += [cp.sum(x[idx]) >= lo, cp.sum(x[idx]) <= hi]
    problem = cp.Problem(cp.Minimize(cp.sum_squares(cp.multiply(scale, x) - target)), cons)
    return limits, problem, scale, target, x


def main() -> None:
    rng = np.random.default_rng(0)
    raws = [rng.dirichlet(np.ones(len(SYMBOLS))) for _ in range(CASES)]
    limits, problem, scale, target, x = peer()
    ours_t, peer_t, worst = [], [], 0.0
    for _ in range(REPEATS):
        started = time.perf_counter()
        ours = [project(dict(zip(SYMBOLS, raw, strict=True)), limits=limits, asset_classes=CLASS_OF,
                        universe=SYMBOLS) for raw in raws]
        ours_t.append((time.perf_counter() - started) / CASES)
        started = time.perf_counter()
        theirs = []
        for raw in raws:
            root = 1.0 / np.sqrt(raw + 1e-6)
            scale.value, target.value = root, raw * root
            problem.solve(solver="CLARABEL")
            theirs.append(np.asarray(x.value))
        peer_t.append((time.perf_counter() - started) / CASES)
        for o, t in zip(ours, theirs, strict=True):
            worst = max(worst, float(np.max(np.abs(np.array([o.weights.get(s, 0.0) for s in SYMBOLS]) - t))))
    a, b = statistics.median(ours_t), statistics.median(peer_t)
    print(f"projection of 26 assets, balanced tier, {CASES} cases x {REPEATS} repeats")
    print(f"  ours   {a * 1e6:8.0f} us per projection (median)")
    print(f"  cvxpy  {b * 1e6:8.0f} us per projection (Clarabel, parameter re-solve)")
    print(f"  ratio  {b / a:8.1f}x   largest weight difference {worst:.1e}")


if __name__ == "__main__":
    main()
