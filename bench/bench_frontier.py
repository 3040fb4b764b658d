"""Benchmark: a 100-point efficient frontier, ours vs PyPortfolioOpt, side by side in one process.

Universes: the 20 stocks of ``../shared/data/stock_prices.csv`` (geometric mean returns,
sample covariance) and a synthetic 500-asset factor-model universe (``factor_universe``).
Long-only, fully invested. Every method gets the same 100 target returns, evenly spaced
from the min-volatility portfolio's return to the maximum return.

- ``pypfopt fresh``: a new ``EfficientFrontier`` per target (``efficient_return``);
- ``pypfopt reused``: one object, ``efficient_return`` per target (as its plotting code does);
- ``ours``: ``portfolios.optimization.efficient_frontier`` (parametric active-set QP).

Accuracy: each point's volatility against a tight-tolerance Clarabel solve of the same
target (tolerances 1e-12); failed points (solver errors) are counted.

Run: ``.venv/bin/python bench/bench_frontier.py [--sizes 20,500] [--repeats 3]``.
BLAS is pinned to one thread (set before numpy loads) so both libraries run alike on a
shared machine; medians over ``--repeats``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import cvxpy as cp  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "stock_prices.csv"
if not DATA.exists():  # a worktree under /work/wt/<name>: the shared data stays in /work/shared
    DATA = Path("/work/shared/data/stock_prices.csv")

from portfolios.optimization import (  # noqa: E402
    efficient_frontier,
    mean_historical_return,
    returns_from_prices,
    sample_cov,
)


def factor_universe(n: int, *, factors: int = 5, seed: int = 0) -> tuple[pd.Series, pd.DataFrame]:
    """Covariance ``B B' + D`` (a market factor plus ``factors - 1`` style factors, specific
    volatility 15-40%); expected returns tied to the loadings plus noise."""
    rng = np.random.default_rng(seed)
    loadings = rng.normal(0, 1, (n, factors)) * np.array([0.16] + [0.07] * (factors - 1))
    loadings[:, 0] = np.abs(loadings[:, 0]) + 0.05
    specific = rng.uniform(0.15, 0.4, n)
    cov = loadings @ loadings.T + np.diag(specific**2)
    mu = 0.02 + loadings @ np.array([0.08] + [0.02] * (factors - 1)) + rng.normal(0, 0.03, n)
    symbols = [f"A{i:03d}" for i in range(n)]
    return pd.Series(mu, index=symbols), pd.DataFrame(cov, index=symbols, columns=symbols)


def stocks20() -> tuple[pd.Series, pd.DataFrame]:
    returns = returns_from_prices(pd.read_csv(DATA, parse_dates=["date"], index_col="date"))
    return mean_historical_return(returns), sample_cov(returns)


def reference_volatility(mu: np.ndarray, cov: np.ndarray, target: float) -> float:
    w = cp.Variable(len(mu))
    problem = cp.Problem(
        cp.Minimize(cp.quad_form(w, cp.psd_wrap(cov))), [cp.sum(w) == 1, w >= 0, mu @ w >= target]
    )
    problem.solve(
        solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12, max_iter=500
    )
    return float(np.sqrt(max(w.value @ cov @ w.value, 0.0)))


def pypfopt_frontier(mu: pd.Series, cov: pd.DataFrame, targets: np.ndarray, *, reuse: bool):
    from pypfopt import EfficientFrontier
    from pypfopt.exceptions import OptimizationError

    vols, failed = np.full(len(targets), np.nan), 0
    ef = EfficientFrontier(mu, cov) if reuse else None
    for i, target in enumerate(targets):
        try:
            if not reuse:
                ef = EfficientFrontier(mu, cov)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ef.efficient_return(float(target))
            vols[i] = ef.portfolio_performance()[1]
        except (OptimizationError, ValueError, cp.error.SolverError):
            failed += 1
    return vols, failed


def timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def run(
    name: str,
    mu: pd.Series,
    cov: pd.DataFrame,
    points: int,
    repeats: int,
    peer_repeats: int,
    fresh: bool,
) -> dict:
    print(f"\n== {name}: {len(mu)} assets, {points} points ==", flush=True)
    ours_time, frontier = timed(
        lambda: efficient_frontier(expected_returns=mu, cov=cov, points=points), repeats
    )
    targets = frontier.expected_returns.copy()
    targets[-1] -= 1e-9 * max(
        1.0, abs(targets[-1])
    )  # the max-return end, reachable for every method
    print(
        f"ours ({frontier.method}, {frontier.corners} corners): median {ours_time:.4f} s",
        flush=True,
    )
    references = np.array([reference_volatility(mu.to_numpy(), cov.to_numpy(), t) for t in targets])
    ours_err = float(np.abs(frontier.volatilities - references).max())
    print(f"  ours: 0 failed, max |vol - reference| = {ours_err:.2e}", flush=True)
    row = {"universe": name, "assets": len(mu), "ours_s": ours_time, "ours_err": ours_err}
    runs = [("reused", True)] + ([("fresh", False)] if fresh else [])
    for label, reuse in runs:
        peer_time, (vols, failed) = timed(
            lambda reuse=reuse: pypfopt_frontier(mu, cov, targets, reuse=reuse), peer_repeats
        )
        ok = ~np.isnan(vols)
        err = float(np.abs(vols[ok] - references[ok]).max()) if ok.any() else float("nan")
        print(
            f"pypfopt {label}: median {peer_time:.3f} s, {failed} failed points, max |vol - reference| = {err:.2e}; "
            f"ours is {peer_time / ours_time:.1f}x faster",
            flush=True,
        )
        row.update(
            {
                f"pypfopt_{label}_s": peer_time,
                f"pypfopt_{label}_failed": failed,
                f"pypfopt_{label}_err": err,
                f"speedup_vs_{label}": peer_time / ours_time,
            }
        )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", default="20,500", help="20 (the stocks) and/or factor-universe sizes"
    )
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5, help="repeats of ours (median)")
    parser.add_argument(
        "--peer-repeats", type=int, default=3, help="repeats of PyPortfolioOpt on 20 stocks"
    )
    parser.add_argument(
        "--big-peer-repeats", type=int, default=1, help="repeats of PyPortfolioOpt on big universes"
    )
    parser.add_argument(
        "--no-fresh-big",
        action="store_true",
        help="skip PyPortfolioOpt fresh-per-target on big sizes",
    )
    args = parser.parse_args()
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        if size == 20:
            rows.append(
                run(
                    "stock_prices.csv (20 stocks)",
                    *stocks20(),
                    args.points,
                    args.repeats,
                    args.peer_repeats,
                    True,
                )
            )
        else:
            rows.append(
                run(
                    f"factor model ({size} assets)",
                    *factor_universe(size),
                    args.points,
                    args.repeats,
                    args.big_peer_repeats,
                    not args.no_fresh_big,
                )
            )
    print("\nsummary")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
