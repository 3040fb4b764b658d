"""Monte Carlo VaR with 100,000 scenarios x 500 assets, against the hardware's own limit.

Times, in one process (medians over repeats; the machine is shared, so compare ratios):

1. ``ours``: :func:`risk.measures.var_monte_carlo` end to end — sample covariance and its
   Cholesky factor, seeded normals (torch float32), the projection ``z . (L' w)``, and
   the empirical VaR/ES of the 100,000 portfolio returns; by default antithetic (50,000
   draws of 500 normals and their mirror images), and also with ``antithetic=False``
   (all 5e7 normals drawn).
2. ``bare matmul``: ``Z @ L'`` of the textbook simulation, (100,000 x 500) by (500 x 500)
   float32 in torch, with Z already drawn — the "same shape" multiply, no RNG.
3. ``rng only``: drawing the 5e7 float32 normals with torch (the floor of any method
   that simulates every asset).
4. ``textbook full``: draw Z, form all asset scenarios Z @ L', then the portfolio P&L and
   VaR (what ours avoids; also what component attribution uses).
5. ``numpy rng``: numpy's default_rng standard_normal for 5e7 float32, for reference.

Run: ``.venv/bin/python bench/bench_risk_var.py [--repeats 5] [--sims 100000] [--assets 500]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd
import torch

from risk.measures import var_monte_carlo, var_parametric
from risk.measures.var import covariance_factor, empirical_var_es


def median_times(fns: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each function, timed round-robin so that all see the same load."""
    for fn in fns.values():
        fn()  # warm up (allocations, thread pools)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sims", type=int, default=100_000)
    parser.add_argument("--assets", type=int, default=500)
    args = parser.parse_args()
    n, k = args.sims, args.assets

    rng = np.random.default_rng(0)
    factors = rng.normal(0, 0.01, size=(750, 5))
    loadings = rng.normal(1, 0.3, size=(5, k))
    panel = pd.DataFrame(factors @ loadings / 5 + rng.normal(0, 0.01, size=(750, k)),
                         columns=[f"A{i:03d}" for i in range(k)])
    weights = {c: 1.0 / k for c in panel.columns}
    w = np.full(k, 1.0 / k)
    factor = covariance_factor(np.cov(panel.to_numpy(), rowvar=False))
    lt = torch.from_numpy(np.ascontiguousarray(factor.T, dtype=np.float32))
    gen = torch.Generator().manual_seed(0)
    z = torch.randn((n, k), generator=gen, dtype=torch.float32)
    w32 = torch.from_numpy(w.astype(np.float32))

    def ours():
        return var_monte_carlo(panel, weights, confidence_level=0.99, n_simulations=n, seed=1)

    def ours_plain():
        return var_monte_carlo(panel, weights, confidence_level=0.99, n_simulations=n, seed=1,
                               antithetic=False)

    def bare_matmul():
        return z @ lt

    def rng_only():
        return torch.randn((n, k), generator=gen, dtype=torch.float32)

    def textbook():
        zz = torch.randn((n, k), generator=gen, dtype=torch.float32)
        scenarios = torch.mv(zz @ lt, w32).numpy().astype(np.float64)
        return empirical_var_es(-scenarios, 0.99)

    def numpy_rng():
        return rng.standard_normal((n, k), dtype=np.float32)

    results = median_times({
        "ours": ours,
        "ours_plain": ours_plain,
        "bare": bare_matmul,
        "rng": rng_only,
        "textbook": textbook,
        "numpy_rng": numpy_rng,
    }, args.repeats)
    labels = {
        "ours": "ours: var_monte_carlo (antithetic, default)",
        "ours_plain": "ours: var_monte_carlo(antithetic=False)",
        "bare": "bare matmul Z @ L' (same shape, no RNG)",
        "rng": "rng only: torch.randn 5e7 float32",
        "textbook": "textbook: randn + Z @ L' + P&L + VaR",
        "numpy_rng": "numpy default_rng 5e7 float32",
    }
    exact = var_parametric(panel, weights, confidence_level=0.99).var
    mc = ours().var
    print(f"Monte Carlo VaR, {n:,} scenarios x {k} assets, torch threads={torch.get_num_threads()}, "
          f"median of {args.repeats}")
    for key, seconds in results.items():
        print(f"  {labels[key]:<42s} {seconds * 1000:8.1f} ms")
    print(f"  ratio ours / bare matmul                   {results['ours'] / results['bare']:8.2f}x")
    print(f"  ratio ours(antithetic=False) / bare matmul {results['ours_plain'] / results['bare']:8.2f}x")
    print(f"  ratio textbook / bare matmul               {results['textbook'] / results['bare']:8.2f}x")
    print(f"  ratio ours / rng only                      {results['ours'] / results['rng']:8.2f}x")
    print(f"  99% VaR: Monte Carlo {mc:.5f} vs closed form {exact:.5f} (rel. diff {abs(mc / exact - 1):.2%})")


if __name__ == "__main__":
    main()
