"""Benchmark: one max-Sharpe solve, ours vs PyPortfolioOpt, on 20 stocks and 500/1000 assets.

Ours: ``portfolios.optimization.optimize(objective="max_sharpe")`` (Cornuejols-Tutuncu
homogenisation, Clarabel). Peer: ``EfficientFrontier(mu, cov).max_sharpe(risk_free_rate)``
with its default solver. rf = 0.02, long-only. Medians over ``--repeats``; the Sharpe
ratios reached are printed so a fast wrong answer would show.

Run: ``.venv/bin/python bench/bench_max_sharpe.py [--sizes 20,500,1000] [--repeats 5]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_frontier import factor_universe, stocks20

from portfolios.optimization import optimize

RF = 0.02


def peer(mu, cov):
    from pypfopt import EfficientFrontier

    ef = EfficientFrontier(mu, cov)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ef.max_sharpe(risk_free_rate=RF)
    return ef.portfolio_performance(risk_free_rate=RF)[2]


def median_time(fn, repeats):
    times, value = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        try:
            value = fn()
        except Exception as exc:  # noqa: BLE001 - the peer may fail; report it instead of stopping
            value = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
        times.append(time.perf_counter() - started)
    return statistics.median(times), value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="20,500,1000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for size in [int(s) for s in args.sizes.split(",")]:
        mu, cov = stocks20() if size == 20 else factor_universe(size)
        ours_t, ours = median_time(
            lambda mu=mu, cov=cov: optimize(
                objective="max_sharpe", expected_returns=mu, cov=cov, risk_free_rate=RF
            ),
            args.repeats,
        )
        peer_t, peer_sharpe = median_time(lambda mu=mu, cov=cov: peer(mu, cov), args.repeats)
        print(
            f"{size:5d} assets: ours {ours_t:.3f} s (Sharpe {ours.sharpe_ratio:.6f}, {ours.solver}) | "
            f"pypfopt {peer_t:.3f} s (Sharpe {peer_sharpe}) | ratio {peer_t / ours_t:.1f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
