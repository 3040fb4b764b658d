"""Benchmark: a 500-asset × 10-year daily return panel read from PostgreSQL.

Ours (``marketdata.selectors.return_panel_get``: one statement, packed binary rows viewed by numpy,
pivoted, cached per data revision) against the naive per-asset ORM loop, in one
process on one throwaway PostgreSQL cluster. Prints medians and ratios.

    .venv/bin/python bench/bench_marketdata_panel.py [--assets 500] [--years 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _marketdata_pg import django_on, postgres_start


def timed(fn, repeats: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def load(n_assets: int, years: int) -> tuple[list[str], dt.date, dt.date]:
    from django.db import connection

    from marketdata.models import Asset, PriceDataRevision

    dates = pd.bdate_range("2014-01-01", periods=252 * years)
    symbols = [f"A{k:04d}" for k in range(n_assets)]
    Asset.objects.bulk_create([Asset(symbol=s, name=f"Asset {s}") for s in symbols])
    ids = dict(Asset.objects.values_list("symbol", "id"))
    rng = np.random.default_rng(0)
    prices = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, (len(dates), n_assets)), axis=0))
    day_strings = dates.strftime("%Y-%m-%d").to_numpy()
    with connection.cursor() as cursor, cursor.cursor.copy(
        "COPY marketdata_pricebar (asset_id, date, open, high, low, close, adj_close, volume) FROM STDIN"
    ) as copy:
        for j, symbol in enumerate(symbols):
            column = np.char.mod("%.6f", prices[:, j])
            block = io.StringIO()
            for day, price in zip(day_strings, column, strict=True):
                block.write(f"{ids[symbol]}\t{day}\t{price}\t{price}\t{price}\t{price}\t{price}\t1000\n")
            copy.write(block.getvalue())
    PriceDataRevision.objects.filter(pk=1).update(revision=1)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE marketdata_pricebar")
    return symbols, dates[0].date(), dates[-1].date()


def naive_returns(symbols: list[str], start: dt.date, end: dt.date) -> pd.DataFrame:
    """The loop we replace: one ORM query per asset, a Series each, then concat."""
    from marketdata.models import PriceBar

    columns = {}
    for symbol in symbols:
        rows = PriceBar.objects.filter(asset__symbol=symbol, date__gte=start, date__lte=end).order_by("date").values_list("date", "adj_close")
        columns[symbol] = pd.Series({pd.Timestamp(d): float(p) for d, p in rows})
    prices = pd.concat(columns, axis=1).dropna()
    return prices.pct_change().iloc[1:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    cluster = postgres_start()
    try:
        django_on(cluster.url)
        from django.core.cache import cache

        from marketdata.selectors import return_panel_get

        t0 = time.perf_counter()
        symbols, start, end = load(args.assets, args.years)
        print(f"loaded {args.assets} assets x {252 * args.years} days in {time.perf_counter() - t0:.1f} s")

        def ours_uncached():
            cache.clear()
            return return_panel_get(symbols=symbols, start=start, end=end)

        def ours_cached():
            return return_panel_get(symbols=symbols, start=start, end=end)

        ours_uncached()  # warm the database buffers and the connection
        sql_s, ours = timed(ours_uncached, args.repeats)
        ours_cached()
        cached_s, _ = timed(ours_cached, args.repeats * 3)
        naive_s, naive = timed(lambda: naive_returns(symbols, start, end), max(1, args.repeats // 3))

        np.testing.assert_allclose(ours.to_numpy(), naive[symbols].to_numpy(), rtol=1e-12)
        assert ours.shape == (252 * args.years - 1, args.assets)
        print(f"panel {ours.shape[0]} dates x {ours.shape[1]} assets (same numbers from both paths)")
        print(f"ours, result cache cleared (one query + pivot): median {sql_s * 1000:8.1f} ms")
        print(f"ours, cached (revision check + cache get):    median {cached_s * 1000:8.1f} ms")
        print(f"naive per-asset ORM loop:                      median {naive_s * 1000:8.1f} ms")
        print(f"speed-up: {naive_s / sql_s:.1f}x uncached, {naive_s / cached_s:.1f}x cached")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
