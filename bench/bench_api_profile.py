"""Where one request of each investor read spends its time: SQL queries, milliseconds, and
(``--profile``) the top functions of cProfile, through Django's test client.

Builds a throw-away test database (test settings: SQLite, local-memory cache) with the
investor world of ``bench/_investor_world.py`` (synthetic market, 3 years; 2 investors),
then, per path of the investor mix, the median time of ``--repeats`` requests without
and with ``If-None-Match`` (the app's conditional re-read), and the SQL query count.

Run: ``.venv/bin/python bench/bench_api_profile.py [--repeats 30] [--profile]``
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rebalancer.settings.test")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402


def _time(client, path: str, repeats: int, headers: dict) -> tuple[float, int, int]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, headers=headers)
    return statistics.median(times) * 1000, len(queries), response.status_code


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions per path")
    args = parser.parse_args()
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0)
    import _investor_world as world
    from rest_framework.test import APIClient

    world.market_load()
    investor = world.investors_create(2, run="profile")[0]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {investor.token}")
    print(f"{'path':48} {'status':>6} {'queries':>7} {'ms':>8} | {'304?':>5} {'queries':>7} {'ms':>8}")
    for path in world.investor_paths(investor.portfolio_id):
        client.get(path)  # warm: caches, imports
        ms, queries, status = _time(client, path, args.repeats, {})
        etag = client.get(path).headers.get("ETag")
        cond = _time(client, path, args.repeats, {"If-None-Match": etag}) if etag else (float("nan"), 0, 0)
        print(f"{path:48} {status:>6} {queries:>7} {ms:>8.2f} | {cond[2]:>5} {cond[1]:>7} {cond[0]:>8.2f}")
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.repeats):
                client.get(path)
            profiler.disable()
            pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(int(os.environ.get("PROFILE_TOP", "25")))


if __name__ == "__main__":
    main()
