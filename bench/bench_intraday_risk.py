"""Latency of the intraday risk monitor: a scripted price drop → alerts (goal < 5 s).

Builds a throw-away test database (test settings: SQLite in memory), 20 assets with 300
days of seeded daily bars, and ``--portfolios`` autopilot portfolios each holding 10 of
of the 12 equities (about 9.8 % each, under the 10 % position limit; the 8 bonds are
quoted but not held) with two daily value snapshots.
Then, in one process:

* **quiet tick** — quotes at the closes for every asset: every holder re-evaluated, no
  breach, nothing written but the quotes;
* **drop** — the 12 equities fall 30 %: from the ingest call until every holder's
  drawdown alert (about 29 %, limit 20 %) is open, its investor notified and its de-risk cycle requested (the
  request's ``.delay`` is counted, not run: the cycle is the autopilot's own, benchmarked
  in ``bench_autopilot_cycle.py``);
* **recovery** — prices back: every alert resolved.

Repeated ``--repeats`` times (drop and recovery alternate), medians reported. The peer is
the nightly path, ``risk.services.risk_snapshots_take`` (the full risk view: VaR 1/5 d,
metrics, attribution, 25 stress scenarios), on ``--peer`` of the same portfolios, per
portfolio, side by side.

Run: ``.venv/bin/python bench/bench_intraday_risk.py [--portfolios 1000] [--repeats 3] [--peer 40]``
"""

from __future__ import annotations

import argparse
import datetime as dt
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
EQUITIES = 12


def build_world(n_portfolios: int) -> list[int]:
    from marketdata.models import Asset, PriceBar
    from portfolios.models import AutonomySettings, Portfolio, PortfolioSnapshot, Position
    from users.models import User

    rng = np.random.default_rng(0)
    days = pd.bdate_range(end="2024-05-15", periods=300)
    classes = ["equity"] * EQUITIES + ["bond"] * (N_ASSETS - EQUITIES)
    vols = np.array([0.012 if c == "equity" else 0.004 for c in classes])
    prices = 100 * np.cumprod(1 + rng.normal(3e-4, vols, size=(len(days), N_ASSETS)), axis=0)
    assets = [Asset.objects.create(symbol=f"S{j:02d}", asset_class=c) for j, c in enumerate(classes)]
    bars = [PriceBar(asset=a, date=d.date(), open=p, high=p, low=p, close=p, adj_close=p, volume=1)
            for j, a in enumerate(assets) for d, p in zip(days, (Decimal(f"{x:.4f}") for x in prices[:, j]), strict=True)]
    PriceBar.objects.bulk_create(bars, batch_size=5000)
    owner = User.objects.create_user(email="bench@example.com", password="pw-123456789")
    portfolios = Portfolio.objects.bulk_create(
        [Portfolio(owner=owner, name=f"P{i}", cash=Decimal("2000")) for i in range(n_portfolios)])
    AutonomySettings.objects.bulk_create([AutonomySettings(portfolio=p, mode="autopilot") for p in portfolios])
    last = prices[-1]
    positions, snapshots = [], []
    for p in portfolios:
        held = [int(h) for h in rng.choice(EQUITIES, size=10, replace=False)]  # 10 of the 12 equities
        value = 0.0
        for j in held:
            qty = Decimal(f"{9800 / last[j]:.6f}")
            positions.append(Position(portfolio=p, asset=assets[j], quantity=qty))
            value += float(qty) * last[j]
        total = Decimal(f"{value + 2000:.2f}")
        for day in days[-2:]:
            snapshots.append(PortfolioSnapshot(portfolio=p, date=day.date(), value=total, cash=Decimal("2000"),
                                               invested=total - 2000))
    Position.objects.bulk_create(positions, batch_size=5000)
    PortfolioSnapshot.objects.bulk_create(snapshots, batch_size=5000)
    return [p.pk for p in portfolios]


def quotes(factor_equity: float, at: dt.datetime):
    from portfolios.prices import latest_closes
    from rebalancer.ops.services.intraday import Quote

    closes = latest_closes(symbols=[f"S{j:02d}" for j in range(N_ASSETS)])
    return [Quote(s, (c * Decimal(str(factor_equity if int(s[1:]) < EQUITIES else 1.0))).quantize(Decimal("0.0001")),
                  at) for s, (c, _) in closes.items()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--portfolios", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer", type=int, default=40)
    args = parser.parse_args()
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from django.utils import timezone

        from rebalancer.autopilot import tasks
        from rebalancer.autopilot.models import Notification
        from rebalancer.ops.services.intraday import intraday_quotes_ingest
        from risk.models import RiskAlert
        from risk.services import risk_snapshots_take

        requested: list[int] = []
        tasks.cycle_run_task.delay = lambda **kw: requested.append(kw["portfolio_id"])
        ids = build_world(args.portfolios)
        at = timezone.now()
        tick = dt.timedelta(seconds=1)
        quiet, drop, recovery = [], [], []
        t0 = time.perf_counter()
        intraday_quotes_ingest(quotes=quotes(1.0, at), provider="bench")
        first = time.perf_counter() - t0
        for _ in range(args.repeats):
            at += tick
            t0 = time.perf_counter()
            intraday_quotes_ingest(quotes=quotes(1.0, at), provider="bench")
            quiet.append(time.perf_counter() - t0)
            at += tick
            t0 = time.perf_counter()
            result = intraday_quotes_ingest(quotes=quotes(0.7, at), provider="bench")
            drop.append(time.perf_counter() - t0)
            opened = RiskAlert.objects.filter(status="open", rule="drawdown").count()
            assert opened == len(result.opened) == args.portfolios, (opened, len(result.opened))
            at += tick
            t0 = time.perf_counter()
            intraday_quotes_ingest(quotes=quotes(1.0, at), provider="bench")
            recovery.append(time.perf_counter() - t0)
            assert RiskAlert.objects.exclude(status="resolved").count() == 0
        notes = Notification.objects.filter(kind="risk").count()
        peer_ids = ids[: args.peer]
        t0 = time.perf_counter()
        risk_snapshots_take(portfolio_ids=peer_ids)
        peer = (time.perf_counter() - t0) / len(peer_ids)
        per_drop = statistics.median(drop) / args.portfolios
        print(f"intraday monitor, {args.portfolios} portfolios x 10 holdings, {N_ASSETS} assets, "
              f"{args.repeats} repeats (SQLite in memory; absolute figures are noisy on a shared machine)")
        print(f"  first tick (cold return windows)        {first:8.3f} s")
        print(f"  quiet tick, median                       {statistics.median(quiet):8.3f} s")
        print(f"  drop -> {args.portfolios} alerts + notifications + cycle requests, median "
              f"{statistics.median(drop):8.3f} s (goal < 5 s: {statistics.median(drop) / 5:.2f} of it)")
        print(f"  recovery -> every alert resolved, median {statistics.median(recovery):8.3f} s")
        print(f"  notifications {notes}, cycle requests {len(requested)}")
        print(f"  per portfolio: intraday drop {per_drop * 1000:.2f} ms vs nightly risk snapshot "
              f"{peer * 1000:.2f} ms (peer on {len(peer_ids)}): {peer / per_drop:.1f}x")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
