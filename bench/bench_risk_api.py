"""GET /api/v1/portfolios/{id}/risk end to end for a 20-asset portfolio.

Builds a throw-away test database (test settings: SQLite, local-memory cache), 20 assets
plus SPY with three years of seeded daily bars, one investor with a 20-position
portfolio and a stored risk snapshot, then times the request through Django's test
client (URL routing, JWT auth, ORM reads, return panels, historical VaR 1 and 5 days,
metrics vs SPY, correlation, parametric attribution, 25 stress scenarios with replay,
alerts, serialization). Reports the first (cold cache) request and the median of the
following ones (return panels cached by the market-data selectors, as in production).

Run: ``.venv/bin/python bench/bench_risk_api.py [--repeats 30]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rebalancer.settings.test")

import django

django.setup()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

N_ASSETS = 20
CLASSES = ["equity"] * 12 + ["bond"] * 4 + ["commodity"] * 2 + ["real_estate", "crypto"]


def build_world():
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    from marketdata.models import Asset, PriceBar
    from portfolios.models import Portfolio, Position
    from portfolios.services import portfolio_create
    from risk.services import risk_snapshot_take
    from users.models import User

    rng = np.random.default_rng(0)
    days = pd.bdate_range("2021-01-04", periods=780)
    symbols = [f"S{i:02d}" for i in range(N_ASSETS)] + ["SPY"]
    classes = [*CLASSES, "equity"]
    rets = rng.multivariate_normal(np.full(len(symbols), 3e-4),
                                   (np.full((21, 21), 0.3) + 0.7 * np.eye(21)) * 1e-4, size=len(days))
    prices = 100 * np.cumprod(1 + rets, axis=0)
    bars = []
    for j, (symbol, cls) in enumerate(zip(symbols, classes, strict=True)):
        asset = Asset.objects.create(symbol=symbol, name=symbol, asset_class=cls)
        for i, day in enumerate(days):
            p = Decimal(f"{prices[i, j]:.6f}")
            bars.append(PriceBar(asset=asset, date=day.date(), open=p, high=p, low=p, close=p,
                                 adj_close=p, volume=1_000_000))
    PriceBar.objects.bulk_create(bars, batch_size=5000)
    user = User.objects.create_user(email="bench@example.com", password="pw-123456789")
    portfolio = portfolio_create(owner=user, name="Bench")
    Portfolio.objects.filter(pk=portfolio.pk).update(cash=Decimal("5000"))
    for symbol in symbols[:N_ASSETS]:
        Position.objects.create(portfolio=portfolio, asset=Asset.objects.get(symbol=symbol), quantity=Decimal("10"))
    risk_snapshot_take(portfolio=portfolio)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client, portfolio


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from django.core.cache import cache

        client, portfolio = build_world()
        url = f"/api/v1/portfolios/{portfolio.pk}/risk"
        cache.clear()
        t0 = time.perf_counter()
        response = client.get(url)
        cold = time.perf_counter() - t0
        assert response.status_code == 200, response.content
        body = response.json()
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - t0)
            assert response.status_code == 200
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        print(f"GET {url}: {len(queries)} SQL queries, {N_ASSETS} positions, {body['var_metrics']['n_observations']} return days, "
              f"{body['stress_test_results']['scenarios_tested']} scenarios")
        print(f"  first request (cold cache)       {cold * 1000:8.1f} ms")
        print(f"  median of {args.repeats:<3d} warm requests     {statistics.median(times) * 1000:8.1f} ms")
        print(f"  fastest / slowest warm           {min(times) * 1000:8.1f} / {max(times) * 1000:.1f} ms")
        print(f"  goal 100 ms: warm median / goal  {statistics.median(times) / 0.1:8.2f}x")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
