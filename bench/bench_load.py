"""Bounded load test of the API on loopback: throughput, p50/p95/p99 latency, error rate.

    .venv/bin/python bench/bench_load.py                    # starts its own stack
    .venv/bin/python bench/bench_load.py --seconds 10 --clients 8
    .venv/bin/python bench/bench_load.py --url http://127.0.0.1:8000   # a running server

With no ``--url`` it starts a throwaway PostgreSQL cluster and Redis (the integration
tests' helpers), migrates, and runs gunicorn with ``deploy/gunicorn.conf.py`` (2 workers),
all on 127.0.0.1; everything stops at the end. Only loopback addresses are accepted.

Two phases of ``--seconds`` each, side by side in one process:

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
        length, close = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
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
def _stack_start():
    from tests.integration import processes as procs
    from tests.integration.pg import free_port, postgres_start, redis_start

    pg, redis = postgres_start(durable=True), redis_start()
    env = procs.django_env(
        DJANGO_SETTINGS_MODULE="rebalancer.settings.dev", DJANGO_DEBUG="0", DATABASE_URL=pg.url, REDIS_URL=redis.url,
        CELERY_BROKER_URL=redis.url, CELERY_RESULT_BACKEND=redis.url, LOG_LEVEL="WARNING",
        # generous per-user and registration rates (one IP registers every investor); the
        # login throttles keep their production defaults: they are what phase 2 measures
        THROTTLE_USER="100000/minute", THROTTLE_REGISTER="1000/hour", THROTTLE_REGISTER_ACCOUNT="1000/hour",
    )
    import subprocess

    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    log = ROOT / "var" / "bench-load-gunicorn.log"
    log.parent.mkdir(exist_ok=True)
    web = procs.gunicorn_start(env, port, log, workers=2)
    return f"http://127.0.0.1:{port}", [lambda: procs.stop(web), redis.stop, pg.stop]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server on loopback (default: start one)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    parser.add_argument("--clients", type=int, default=8, help="concurrent investors")
    parser.add_argument("--flooders", type=int, default=10, help="login-flood clients in phase 2")
    parser.add_argument("--max-requests", type=int, default=20_000, help="cap of investor requests per phase")
    args = parser.parse_args()
    stops = []
    url = args.url
    if url is None:
        url, stops = _stack_start()
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK:
        raise SystemExit("bench_load only targets loopback addresses")
    host, port = parts.hostname, parts.port or 80
    try:
        sessions = asyncio.run(_sessions(host, port, args.clients))
        reads, _ = asyncio.run(_phase(host, port, sessions, args.seconds, args.max_requests, 0))
        flooded, flood = asyncio.run(_phase(host, port, sessions, args.seconds, args.max_requests, args.flooders))
    finally:
        for stop in stops:
            stop()
    print(f"target {url}: {args.clients} investors, {args.seconds:.0f} s per phase, gunicorn 2 workers")
    print("phase 1, reads (+1 deposit in 10):", json.dumps(reads))
    print(f"phase 2, the same under a {args.flooders}-client login flood with forged X-Forwarded-For:", json.dumps(flooded))
    print("          the flood itself:", json.dumps(flood))
    ratio = flooded["throughput_rps"] / max(reads["throughput_rps"], 1e-9)
    print(f"investor throughput under the flood: {ratio:.2f}x of the quiet phase")


if __name__ == "__main__":
    main()
