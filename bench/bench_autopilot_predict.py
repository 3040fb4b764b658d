"""Benchmark: ``POST /api/v1/rebalance/predict`` latency for a 20-asset portfolio.

Loads the last two years of the 20 real stocks (``../shared/data/stock_prices.csv``)
into an in-memory SQLite database, then times full API requests (JWT-free
``force_authenticate``, serializer, service, response) with random current weights for
each strategy: p50 and p95 of warm requests (market view and targets cached in the
process, as in production between two price pulls) and the first, cold request.

Peer: what a naive endpoint would compute per request with PyPortfolioOpt 1.6 —
expected returns, sample covariance, ``EfficientFrontier.max_sharpe`` (or
``min_volatility``) and a greedy ``DiscreteAllocation`` — on the same data, in process
and without HTTP. The ratio is peer p50 / ours p50.

    .venv/bin/python bench/bench_autopilot_predict.py --requests 200
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rebalancer.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import numpy as np
    from bench_autopilot_cycle import prices_load
    from django.conf import settings
    from rest_framework.test import APIClient

    from users.models import User

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    symbols, as_of, closes = prices_load()
    client = APIClient()
    client.force_authenticate(User.objects.create_user(email="bench@example.com", password="x" * 12))
    rng = np.random.default_rng(0)

    def body(strategy: str) -> dict:
        raw = rng.random(len(symbols))
        weights = raw / raw.sum() * 0.95
        return {"weights": {s: round(float(w), 6) for s, w in zip(symbols, weights, strict=True)},
                "portfolio_value": 100_000, "strategy": strategy, "universe": symbols,
                "as_of": as_of.isoformat()}

    print(f"{len(symbols)} assets, as of {as_of}, {args.requests} requests per strategy")
    rows = {}
    for strategy in ("optimizer:max_sharpe", "optimizer:min_volatility", "optimizer:risk_parity", "equal_weight"):
        started = time.perf_counter()
        response = client.post("/api/v1/rebalance/predict", body(strategy), format="json")
        cold = time.perf_counter() - started
        assert response.status_code == 200, response.content
        times = []
        for _ in range(args.requests):
            payload = body(strategy)
            started = time.perf_counter()
            response = client.post("/api/v1/rebalance/predict", payload, format="json")
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, response.content
        rows[strategy] = (cold, statistics.median(times), percentile(times, 0.95), len(response.json()["trades"]))
        print(f"ours {strategy:26} cold {cold * 1000:7.1f} ms  p50 {rows[strategy][1] * 1000:6.1f} ms  "
              f"p95 {rows[strategy][2] * 1000:6.1f} ms  ({rows[strategy][3]} trades)")

    # the peer: PyPortfolioOpt from prices to whole-share orders, per request
    import pandas as pd
    from pypfopt import DiscreteAllocation, EfficientFrontier, expected_returns, risk_models

    from marketdata.selectors import price_panel_get

    prices = price_panel_get(symbols=symbols, end=as_of)
    latest = pd.Series(closes)
    peer = {}
    for objective in ("max_sharpe", "min_volatility"):
        times = []
        for _ in range(max(20, args.requests // 5)):
            started = time.perf_counter()
            mu = expected_returns.mean_historical_return(prices)
            cov = risk_models.sample_cov(prices)
            frontier = EfficientFrontier(mu, cov)
            getattr(frontier, objective)()
            weights = frontier.clean_weights()
            DiscreteAllocation(weights, latest, total_portfolio_value=100_000).greedy_portfolio()
            times.append(time.perf_counter() - started)
        peer[objective] = statistics.median(times)
        ours = rows[f"optimizer:{objective}"][1]
        print(f"peer PyPortfolioOpt {objective:14} p50 {peer[objective] * 1000:6.1f} ms  "
              f"ratio peer/ours {peer[objective] / ours:.1f}x")
    for strategy, (cold, p50, p95, _) in rows.items():
        print(f"RESULT {strategy} cold_ms={cold * 1000:.1f} p50_ms={p50 * 1000:.1f} p95_ms={p95 * 1000:.1f}")


if __name__ == "__main__":
    main()
