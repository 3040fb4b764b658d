"""Benchmark: importing ../shared/data/stock_prices.csv (106,931 bars, 20 symbols).

For each database (the embedded SQLite and a throwaway PostgreSQL), in a fresh
process: parse + validate, the first import, and the idempotent re-import, through
``marketdata.services.prices_import_csv``; and, as the peer, the naive per-row
``PriceBar.objects.update_or_create`` loop on the first 2,000 bars, extrapolated to
the file. Prints medians over repeats (fresh database each repeat for the first import).

    .venv/bin/python bench/bench_marketdata_import.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[1]
STOCKS = ROOT / ".." / "shared" / "data" / "stock_prices.csv"
NAIVE_ROWS = 2_000


def run_once(database: str) -> dict[str, float]:
    """One measurement in this process (called in a child process)."""
    from _marketdata_pg import django_on, postgres_start

    cluster = None
    if database == "postgresql":
        cluster = postgres_start()
        django_on(cluster.url)
    else:
        os.environ["DJANGO_VAR_DIR"] = tempfile.mkdtemp(prefix="md-bench-")
        django_on(None)
    try:
        from django.db import transaction

        from marketdata.models import Asset, PriceBar
        from marketdata.providers.csvfile import prices_csv_parse
        from marketdata.services import prices_import_csv

        t = time.perf_counter()
        frame = prices_csv_parse(STOCKS, fmt="wide")
        parse_s = time.perf_counter() - t
        t = time.perf_counter()
        first = prices_import_csv(path=STOCKS, fmt="wide")
        first_s = time.perf_counter() - t
        t = time.perf_counter()
        again = prices_import_csv(path=STOCKS, fmt="wide")
        again_s = time.perf_counter() - t
        assert (first.inserted, again.inserted, again.updated) == (len(frame), 0, 0)

        # the peer: one update_or_create per row, in a transaction, into an empty table
        PriceBar.objects.all().delete()
        assets = {a.symbol: a for a in Asset.objects.all()}
        sample = frame.iloc[:NAIVE_ROWS]
        t = time.perf_counter()
        with transaction.atomic():
            for row in sample.itertuples(index=False):
                PriceBar.objects.update_or_create(
                    asset=assets[row.symbol],
                    date=row.date.date(),
                    defaults={"open": row.open, "high": row.high, "low": row.low, "close": row.close,
                              "adj_close": row.adj_close, "volume": row.volume},
                )
        naive_s = (time.perf_counter() - t) * len(frame) / NAIVE_ROWS
        return {"rows": len(frame), "parse": parse_s, "first": first_s, "again": again_s, "naive": naive_s}
    finally:
        if cluster is not None:
            cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=["sqlite", "postgresql"])
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_once(args.child)))
        return
    for database in [args.only] if args.only else ["sqlite", "postgresql"]:
        samples = []
        for _ in range(args.repeats):
            out = subprocess.run(
                [sys.executable, __file__, "--child", database], capture_output=True, text=True, check=True
            ).stdout
            samples.append(json.loads(out.strip().splitlines()[-1]))
        med = {k: statistics.median(s[k] for s in samples) for k in ("parse", "first", "again", "naive")}
        print(
            f"{database:10s} {samples[0]['rows']} bars | parse+validate {med['parse']:.2f} s | "
            f"first import {med['first']:.2f} s | re-import (no change) {med['again']:.2f} s | "
            f"naive per-row update_or_create (extrapolated) {med['naive']:.1f} s | "
            f"speed-up {med['naive'] / med['first']:.1f}x"
        )


if __name__ == "__main__":
    main()
