"""Bounded load test of the API on loopback: throughput, p50/p95/p99 latency, error rate.

    .venv/bin/python bench/bench_load.py --mix investor --users 10 50 300   # the investor mix
    .venv/bin/python bench/bench_load.py                    # the basic mix, starts its own stack
    .venv/bin/python bench/bench_load.py --seconds 10 --clients 8
    .venv/bin/python bench/bench_load.py --url http://127.0.0.1:8000   # a running server (basic)

With no ``--url`` it starts a throwaway PostgreSQL cluster and Redis (the integration
tests' helpers), migrates, and runs gunicorn with ``deploy/gunicorn.conf.py`` (2 workers),
all on 127.0.0.1; everything stops at the end. Only loopback addresses are accepted.

``--mix investor`` (issue 21): the reads of logged-in investors — portfolio list, holdings,
transactions, risk, notifications, market data — each investor in a loop over the six,
sending back the last ``ETag`` of each URL as ``If-None-Match`` as the app's HTTP cache
does (``--write-every N``: one deposit every N requests, default none). The investors (one
filled portfolio each, the synthetic market) are built in this process through the
services (``bench/_investor_world.py``). Two gunicorn servers share the database and Redis:
the baseline with ``API_READ_CACHE=0`` (every read computed, no ETag: main before issue 21)
and the cached one; each ``--users`` level runs on both, one after the other, after one
unmeasured warm-up pass, and the ratio is printed. Then the flood phase below runs on the
cached server with ``--flood-users`` investors.

``--mix basic``, two phases of ``--seconds`` each, side by side in one process:

1. **reads** — ``--clients`` investors, each in a loop: list portfolios, holdings,
   transactions, ``users/me``; one deposit in ten requests;
2. **reads under a login flood** — the same, while ``--flooders`` clients post wrong
   passwords to ``auth/token`` with a new forged ``X-Forwarded-For`` each time (the outside
   test's attack: it cut other users' reads by 93 %). The throttles refuse the flood
   before any password hashing, so the reads should keep most of their throughput.

The client is a small asyncio HTTP/1.1 keep-alive client (no dependency). Request loops
stop at the deadline or after ``--max-requests`` per phase, whichever comes first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSWORD = "a-Strong-passphrase-42"
PROFILE = {"age_band": "30_44", "investment_horizon": 8, "income_stability": "stable",
           "loss_reaction": "hold", "experience": "basic", "emergency_fund": "3_to_6_months"}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


# --- a minimal HTTP/1.1 client ---------------------------------------------------------
class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.etag: str | None = None

    async def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        payload = json.dumps(body).encode() if body is not None else b""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(payload)}",
                "Content-Type: application/json", "Connection: keep-alive"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            await self.close()
            raise ConnectionError("closed by server")
        status = int(status_line.split()[1])
        length, close, self.etag = 0, False, None
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
            elif name.lower() == "etag":
                self.etag = value.strip()
        data = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


# --- measuring ---------------------------------------------------------------------------
@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    def add(self, status: int, seconds: float) -> None:
        self.latencies.append(seconds)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def summary(self, seconds: float) -> dict:
        n = len(self.latencies)
        cuts = statistics.quantiles(self.latencies, n=100) if n >= 2 else [0.0] * 99
        failed = self.errors + sum(c for s, c in self.statuses.items() if s >= 500)
        return {
            "requests": n, "throughput_rps": round(n / seconds, 1),
            "p50_ms": round(cuts[49] * 1000, 1), "p95_ms": round(cuts[94] * 1000, 1), "p99_ms": round(cuts[98] * 1000, 1),
            "error_rate": round(failed / max(1, n + self.errors), 4),
            "statuses": dict(sorted(self.statuses.items())),
        }


async def _investor_loop(host, port, token, portfolio, deadline, budget, stats: Stats) -> None:
    conn = Connection(host, port)
    auth = {"Authorization": f"Bearer {token}"}
    paths = ["/api/v1/portfolios", f"/api/v1/portfolios/{portfolio}/holdings",
             f"/api/v1/portfolios/{portfolio}/transactions", "/api/v1/users/me"]
    i = 0
    while time.monotonic() < deadline and budget["left"] > 0:
        budget["left"] -= 1
        started = time.perf_counter()
        try:
            if i % 10 == 9:
                status, _ = await conn.request("POST", f"/api/v1/portfolios/{portfolio}/cash",
                                               {"operation": "deposit", "amount": "1.00"}, auth)
            else:
                status, _ = await conn.request("GET", paths[i % len(paths)], None, auth)
            stats.add(status, time.perf_counter() - started)
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            stats.errors += 1
            await conn.close()
        i += 1
    await conn.close()


async def _flood_loop(host, port, deadline, stats: Stats, n: int) -> None:
    conn = Connection(host, port)
    i = 0
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            status, _ = await conn.request("POST", "/api/v1/auth/token",
                                           {"email": f"victim{n}@example.com", "password": f"guess-{i}-xxxx"},
                                           {"X-Forwarded-For": f"10.{n}.{i % 250}.{i // 250 % 250}"})
            stats.add(status, time.perf_counter() - started)
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            stats.errors += 1
            await conn.close()
        i += 1
    await conn.close()


async def _investor_mix_loop(host, port, investor, deadline, budget, stats: Stats, write_every: int,
                             etags: dict) -> None:
    """One investor of ``--mix investor``: the six reads in turn, with ``If-None-Match``
    (``etags``: the app's HTTP cache, path -> last ETag, kept up to date here)."""
    from _investor_world import investor_paths

    conn = Connection(host, port)
    auth = {"Authorization": f"Bearer {investor.token}"}
    paths = investor_paths(investor.portfolio_id)
    i = 0
    while time.monotonic() < deadline and budget["left"] > 0:
        budget["left"] -= 1
        started = time.perf_counter()
        try:
            if write_every and i % write_every == write_every - 1:
                status, _ = await conn.request("POST", f"/api/v1/portfolios/{investor.portfolio_id}/cash",
                                               {"operation": "deposit", "amount": "1.00"}, auth)
            else:
                path = paths[i % len(paths)]
                headers = {**auth, "If-None-Match": etags[path]} if path in etags else auth
                status, _ = await conn.request("GET", path, None, headers)
                if conn.etag:
                    etags[path] = conn.etag
            stats.add(status, time.perf_counter() - started)
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            stats.errors += 1
            await conn.close()
        i += 1
    await conn.close()


async def _investor_phase(host, port, investors, seconds, max_requests, write_every, caches) -> dict:
    stats, budget = Stats(), {"left": max_requests}
    deadline, started = time.monotonic() + seconds, time.monotonic()
    await asyncio.gather(*[_investor_mix_loop(host, port, inv, deadline, budget, stats, write_every, etags)
                           for inv, etags in zip(investors, caches, strict=True)])
    return stats.summary(time.monotonic() - started)


async def _warm(host, port, investors) -> list[dict]:
    """One unmeasured pass of every investor over the six reads (risk views computed once);
    returns each investor's HTTP cache (path -> ETag), as an app that ran before has it."""
    from _investor_world import investor_paths

    conn, caches = Connection(host, port), []
    for inv in investors:
        etags = {}
        for path in investor_paths(inv.portfolio_id):
            status, body = await conn.request("GET", path, None, {"Authorization": f"Bearer {inv.token}"})
            assert status == 200, (path, status, body[:300])
            if conn.etag:
                etags[path] = conn.etag
        caches.append(etags)
    await conn.close()
    return caches


async def _phase(host, port, sessions, seconds, max_requests, flooders) -> tuple[dict, dict | None]:
    reads, flood = Stats(), Stats()
    deadline = time.monotonic() + seconds
    budget = {"left": max_requests}
    started = time.monotonic()
    tasks = [_investor_loop(host, port, t, p, deadline, budget, reads) for t, p in sessions]
    tasks += [_flood_loop(host, port, deadline, flood, n) for n in range(flooders)]
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - started
    return reads.summary(elapsed), (flood.summary(elapsed) if flooders else None)


async def _sessions(host, port, clients) -> list[tuple[str, int]]:
    conn = Connection(host, port)
    run = os.urandom(3).hex()
    sessions = []
    for i in range(clients):
        email = f"load{run}-{i}@example.com"
        status, body = await conn.request("POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD, "profile": PROFILE})
        assert status == 202, body  # registration answers 202 alike for new and taken addresses
        status, body = await conn.request("POST", "/api/v1/auth/token", {"email": email, "password": PASSWORD})
        assert status == 200, body
        token = json.loads(body)["access"]
        status, body = await conn.request("POST", "/api/v1/portfolios", {"name": "Load"}, {"Authorization": f"Bearer {token}"})
        assert status == 201, body
        sessions.append((token, json.loads(body)["id"]))
    await conn.close()
    return sessions


# --- the stack -------------------------------------------------------------------------
BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "rebalancer.settings.dev", "DJANGO_DEBUG": "0", "LOG_LEVEL": "WARNING",
    # generous per-user, compute and registration rates (one IP registers every investor);
    # the login throttles keep their production defaults: they are what the flood measures
    "THROTTLE_USER": "100000/minute", "THROTTLE_COMPUTE": "100000/minute",
    "THROTTLE_REGISTER": "1000/hour", "THROTTLE_REGISTER_ACCOUNT": "1000/hour",
    "JWT_ACCESS_MINUTES": "240",  # the investors' tokens outlive the run
}


def _stack_start(servers: dict[str, dict[str, str]], workers: int):
    """PostgreSQL, Redis, migrations and one gunicorn per entry of ``servers`` (name ->
    extra environment). Returns (the Django environment, {name: url}, stops)."""
    import subprocess

    from tests.integration import processes as procs
    from tests.integration.pg import free_port, postgres_start, redis_start

    pg, redis = postgres_start(durable=True), redis_start()
    stops = [redis.stop, pg.stop]
    env = procs.django_env(**BENCH_ENV, DATABASE_URL=pg.url, REDIS_URL=redis.url,
                           CELERY_BROKER_URL=redis.url, CELERY_RESULT_BACKEND=redis.url)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    urls = {}
    for name, extra in servers.items():
        port = free_port()
        log = ROOT / "var" / f"bench-load-gunicorn-{name}.log"
        log.parent.mkdir(exist_ok=True)
        web = procs.gunicorn_start({**env, **extra}, port, log, workers=workers)
        stops.insert(0, lambda web=web: procs.stop(web))
        urls[name] = f"http://127.0.0.1:{port}"
    return env, urls, stops


def _django_in_process(env: dict[str, str]) -> None:
    """This process talks to the bench's database too, to build the investors."""
    os.environ.update({k: v for k, v in env.items() if k not in ("PYTHONPATH",)})
    sys.path.insert(0, str(ROOT / "bench"))
    import django

    django.setup()


def _hostport(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK:
        raise SystemExit("bench_load only targets loopback addresses")
    return parts.hostname, parts.port or 80


def _report(name: str, row: dict) -> None:
    print(f"  {name:9} {row['throughput_rps']:8.1f} rps  p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms"
          f"  p99 {row['p99_ms']:7.1f} ms  errors {row['error_rate']:.2%}  {json.dumps(row['statuses'])}")


def _investor_levels(args, urls, investors) -> dict:
    """Each ``--users`` level on the baseline then the cached server; the ratios."""
    results = {}
    for users in args.users:
        group = investors[:users]
        print(f"{users} investors, {args.seconds:.0f} s per server:")
        for name in ("baseline", "cached"):
            host, port = _hostport(urls[name])
            caches = asyncio.run(_warm(host, port, group))
            row = asyncio.run(_investor_phase(host, port, group, args.seconds, args.max_requests, args.write_every,
                                              caches))
            results[(users, name)] = row
            _report(name, row)
        ratio = results[(users, "cached")]["throughput_rps"] / max(results[(users, "baseline")]["throughput_rps"], 1e-9)
        print(f"  cached / baseline throughput: {ratio:.2f}x", flush=True)
    return results


def _investor_main(args) -> None:
    servers = {"baseline": {"API_READ_CACHE": "0"}, "cached": {"API_READ_CACHE": "1"}}
    env, urls, stops = _stack_start(servers, args.workers)
    try:
        _django_in_process(env)
        import _investor_world as world

        started = time.monotonic()
        world.market_load()
        investors = world.investors_create(max([*args.users, args.flood_users]), run=os.urandom(3).hex())
        print(f"built {len(investors)} investors in {time.monotonic() - started:.0f} s; gunicorn {args.workers} "
              f"workers ({os.environ.get('GUNICORN_WORKER_CLASS', 'sync')}), write every {args.write_every or '-'}")
        results = _investor_levels(args, urls, investors)
        if args.flooders:
            host, port = _hostport(urls["cached"])
            quiet = results.get((args.flood_users, "cached"))
            flooded, flood = asyncio.run(_flood_phase(host, port, investors[:args.flood_users], args))
            print(f"{args.flood_users} investors on the cached server under a {args.flooders}-client login flood:")
            _report("flooded", flooded)
            _report("the flood", flood)
            if quiet:
                print(f"  throughput under the flood: {flooded['throughput_rps'] / max(quiet['throughput_rps'], 1e-9):.2f}x")
    finally:
        for stop in stops:
            stop()


async def _flood_phase(host, port, investors, args) -> tuple[dict, dict]:
    caches = await _warm(host, port, investors)
    reads, flood = Stats(), Stats()
    budget = {"left": args.max_requests}
    deadline, started = time.monotonic() + args.seconds, time.monotonic()
    tasks = [_investor_mix_loop(host, port, inv, deadline, budget, reads, args.write_every, etags)
             for inv, etags in zip(investors, caches, strict=True)]
    tasks += [_flood_loop(host, port, deadline, flood, n) for n in range(args.flooders)]
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - started
    return reads.summary(elapsed), flood.summary(elapsed)


def _basic_main(args) -> None:
    stops = []
    url = args.url
    if url is None:
        _, urls, stops = _stack_start({"web": {}}, args.workers)
        url = urls["web"]
    host, port = _hostport(url)
    try:
        sessions = asyncio.run(_sessions(host, port, args.clients))
        reads, _ = asyncio.run(_phase(host, port, sessions, args.seconds, args.max_requests, 0))
        flooded, flood = asyncio.run(_phase(host, port, sessions, args.seconds, args.max_requests, args.flooders))
    finally:
        for stop in stops:
            stop()
    print(f"target {url}: {args.clients} investors, {args.seconds:.0f} s per phase, gunicorn {args.workers} workers")
    print("phase 1, reads (+1 deposit in 10):", json.dumps(reads))
    print(f"phase 2, the same under a {args.flooders}-client login flood with forged X-Forwarded-For:", json.dumps(flooded))
    print("          the flood itself:", json.dumps(flood))
    ratio = flooded["throughput_rps"] / max(reads["throughput_rps"], 1e-9)
    print(f"investor throughput under the flood: {ratio:.2f}x of the quiet phase")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mix", choices=["basic", "investor"], default="basic")
    parser.add_argument("--url", help="a running server on loopback (basic mix only; default: start one)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    parser.add_argument("--clients", type=int, default=8, help="concurrent investors (basic mix)")
    parser.add_argument("--users", type=int, nargs="+", default=[10, 50, 300],
                        help="levels of concurrent investors (investor mix)")
    parser.add_argument("--write-every", type=int, default=0, help="investor mix: one deposit every N requests")
    parser.add_argument("--flood-users", type=int, default=50, help="investors during the flood (investor mix)")
    parser.add_argument("--flooders", type=int, default=10, help="login-flood clients (0: no flood phase)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("GUNICORN_WORKERS", "2")),
                        help="gunicorn workers per server")
    parser.add_argument("--max-requests", type=int, default=20_000, help="cap of investor requests per phase")
    args = parser.parse_args()
    if args.mix == "investor":
        if args.url:
            raise SystemExit("--mix investor builds its investors in the bench's own database: no --url")
        _investor_main(args)
    else:
        _basic_main(args)


if __name__ == "__main__":
    main()
