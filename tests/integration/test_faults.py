"""The fault suite: real processes on loopback, real faults, the promises of docs/RELIABILITY.md.

* a Celery worker SIGKILLed mid-cycle: every portfolio's cycle completes within the
  configured redelivery time (visibility timeout), with no duplicate;
* Redis restarted under a running worker: the worker reconnects and queued work runs;
* PostgreSQL stopped while deposits stream in through gunicorn: 503 with Retry-After in
  the one error shape (never a 500), and no lost or duplicated ledger row;
* through gunicorn: the forged X-Forwarded-For throttle bypass is refused, deep JSON and
  large bodies are answered 400/413, no ``Server`` header.

Timeouts are shrunk through settings (``CELERY_CYCLE_VISIBILITY_TIMEOUT`` and friends) so
the suite runs in about a minute and a half.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration import conftest as integration
from tests.integration import processes as procs
from tests.integration.pg import _pg_bin, free_port, postgres_start, redis_start

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "var" / "fault-suite"
AS_OF = "2024-05-15"
VISIBILITY_S = 15
"""The cycle queue's visibility timeout in these tests (production: the time limit + 5 min)."""
PORTFOLIOS, CHUNK = 6, 2


def _log(name: str) -> Path:
    LOGS.mkdir(parents=True, exist_ok=True)
    path = LOGS / f"{name}.log"
    path.write_text("")
    return path


def _redis_db(n: int) -> str:
    return os.environ["REDIS_URL"].rsplit("/", 1)[0] + f"/{n}"


# --- 1. a worker SIGKILLed mid-cycle -------------------------------------------------
@pytest.fixture
def autopilot_world(transactional_db, investor):
    """PORTFOLIOS funded autopilot portfolios over a committed four-asset market."""
    from datetime import date

    import numpy as np
    import pandas as pd

    from marketdata.models import Asset, PriceBar
    from portfolios.services import autonomy_update, cash_deposit, portfolio_create

    rng = np.random.default_rng(19)
    days = pd.bdate_range(end=pd.Timestamp(date.fromisoformat(AS_OF)), periods=300)
    bars = []
    for symbol, asset_class in {"AAA": "equity", "BBB": "equity", "BND": "bond", "TIP": "bond"}.items():
        asset = Asset.objects.create(symbol=symbol, asset_class=asset_class)
        path = 100 * np.cumprod(1 + rng.normal(0.0003, 0.01, len(days)))
        for day, close in zip(days, path, strict=True):
            price = Decimal(f"{close:.4f}")
            bars.append(PriceBar(asset=asset, date=day.date(), open=price, high=price, low=price,
                                 close=price, adj_close=price, volume=1_000_000))
    PriceBar.objects.bulk_create(bars)
    ids = []
    for i in range(PORTFOLIOS):
        portfolio = portfolio_create(owner=investor, name=f"Auto {i}", mode="autopilot", strategy="equal_weight")
        autonomy_update(portfolio=portfolio, data={"calendar": "none"})
        cash_deposit(portfolio=portfolio, amount=Decimal("100000"))
        ids.append(portfolio.pk)
    return ids


def _send(broker: str, task: str, **kwargs) -> None:
    """Publish as the web process does (the project app's routes), to the broker at ``broker``.

    An explicit connection: ``CELERY_BROKER_URL`` in the environment would win over any
    app's configured broker. (No second ``Celery()`` here: a new app becomes the current
    one, and the session's ``task.delay()`` calls would follow it to this broker.)
    """
    from rebalancer.celery import app

    with app.connection_for_write(broker) as connection:
        app.send_task(task, kwargs=kwargs, connection=connection, ignore_result=True)


def _cycle_env(broker: str, **extra: str) -> dict[str, str]:
    return procs.django_env(
        DATABASE_URL=integration.worker_database_url(),
        CELERY_BROKER_URL=broker,
        CELERY_RESULT_BACKEND=broker,
        CELERY_CYCLE_TIME_LIMIT=str(VISIBILITY_S - 5),
        CELERY_CYCLE_VISIBILITY_TIMEOUT=str(VISIBILITY_S),
        CELERY_UNACKED_RESTORE_INTERVAL="1",
        **extra,
    )


def _cycle_state(ids: list[int]) -> dict[str, object]:
    from portfolios.models import Decision, Trade
    from rebalancer.autopilot.models import CycleRun

    runs = CycleRun.objects.filter(portfolio_id__in=ids)
    return {
        "done": runs.filter(status=CycleRun.Status.DONE).count(),
        "runs": runs.count(),
        "decisions": sorted(Decision.objects.filter(portfolio_id=p).count() for p in ids),
        "trades": sorted(Trade.objects.filter(portfolio_id=p).count() for p in ids),
    }


def test_a_worker_killed_mid_cycle_is_redelivered_within_the_visibility_timeout_once(autopilot_world):
    # given a cycle worker whose chunks each hold their transaction for two seconds
    ids = autopilot_world
    broker = _redis_db(3)
    import redis as redis_client

    redis_client.Redis.from_url(broker).flushdb()
    first_log, second_log = _log("cycle-worker-killed"), _log("cycle-worker-survivor")
    first = procs.worker_start(_cycle_env(broker, AUTOPILOT_FAULT="slow_after_decide"), "cycle", first_log, "cycle1")
    try:
        procs.log_wait(first_log, "ready.", first)
        for start in range(0, len(ids), CHUNK):
            _send(broker, "autopilot.cycle_run_chunk_task", portfolio_ids=ids[start:start + CHUNK], as_of=AS_OF)
        # when it is SIGKILLed inside its first chunk
        procs.log_wait(first_log, "cycle_run_chunk_task", first)
        time.sleep(1.0)
        procs.kill(first)
        killed_at = time.monotonic()
        assert _cycle_state(ids)["done"] == 0
        # and another worker takes over
        second = procs.worker_start(_cycle_env(broker), "cycle", second_log, "cycle2")
        deadline = killed_at + VISIBILITY_S + 45
        while time.monotonic() < deadline and _cycle_state(ids)["done"] < len(ids):
            time.sleep(0.5)
        elapsed = time.monotonic() - killed_at
    finally:
        procs.stop(first)
        if "second" in locals():
            procs.stop(second)
    # then every portfolio's cycle completed, the killed chunk only after the visibility timeout,
    state = _cycle_state(ids)
    assert state["done"] == len(ids), (state, second_log.read_text()[-3000:])
    assert VISIBILITY_S - 2 <= elapsed <= VISIBILITY_S + 45, elapsed
    # and exactly once: one run, one decision and one set of trades per portfolio, a clean ledger
    assert state["runs"] == len(ids)
    assert state["decisions"] == [1] * len(ids)
    assert state["trades"] == [4] * len(ids)
    from portfolios.services import ledger_audit

    assert ledger_audit() == []


# --- 2. Redis restarted under a running worker ---------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_worker_survives_a_redis_restart_and_runs_the_work_queued_meanwhile(investor):
    from django.utils import timezone
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    def expired_token() -> int:
        now = timezone.now()
        return OutstandingToken.objects.create(
            user=investor, jti=uuid.uuid4().hex, token="x", created_at=now - timedelta(days=30),
            expires_at=now - timedelta(days=1),
        ).pk

    directory = tempfile.mkdtemp(prefix="rebalancer-redis-")
    redis = redis_start(directory=directory)
    broker = redis.url
    log = _log("worker-redis-restart")
    env = procs.django_env(DATABASE_URL=integration.worker_database_url(), CELERY_BROKER_URL=broker, CELERY_RESULT_BACKEND=broker)
    # given a production-like worker (prefork pool, the Procfile's flags) on the default queue
    worker = procs.worker_start(env, "default", log, "default1", pool="prefork")
    try:
        procs.log_wait(log, "ready.", worker)
        before = expired_token()
        _send(broker, "users.tokens_flush_expired_task")
        _until(lambda: not OutstandingToken.objects.filter(pk=before).exists(), 30)
        # when Redis restarts (its data kept, as a broker's must be)
        redis.stop()
        time.sleep(3)
        redis = redis_start(port=redis.port, directory=directory)
        # and work is queued at once, while the worker is still reconnecting
        after = expired_token()
        _send(broker, "users.tokens_flush_expired_task")
        # then the worker is alive, reconnected, and has run it
        _until(lambda: not OutstandingToken.objects.filter(pk=after).exists(), 60)
        assert worker.poll() is None, log.read_text()[-3000:]
        text = log.read_text()
        assert text.count("Connected to redis") >= 2
        assert "Unrecoverable error" not in text
    finally:
        procs.stop(worker)
        redis.stop()


def _until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout} s")


# --- 3. gunicorn over its own PostgreSQL cluster ---------------------------------------
@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker):
    """A PostgreSQL cluster of its own (a copy of the migrated test database), gunicorn
    with two workers on it, Redis db 4 as its cache; tight login rates."""
    from django.db import connection

    with django_db_blocker.unblock():
        db = connection.settings_dict
        assert db["NAME"].startswith("test_"), db["NAME"]
        source = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    cluster = postgres_start(durable=True)  # a crash must not lose answered commits
    target = cluster.url_of("rebalancer")
    dump = subprocess.run([_pg_bin("pg_dump"), "-Fc", "--no-owner", source], capture_output=True, check=True).stdout
    subprocess.run([_pg_bin("pg_restore"), "--no-owner", "-d", target], input=dump, capture_output=True, check=True)
    cache = _redis_db(4)
    env = procs.django_env(
        DATABASE_URL=target, REDIS_URL=cache, CELERY_BROKER_URL=cache, CELERY_RESULT_BACKEND=cache,
        THROTTLE_LOGIN="3/minute", DJANGO_CONN_MAX_AGE="60", DEPENDENCY_RETRY_AFTER_S="3",
        PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(prefix="metrics-"),
        METRICS_TOKEN="scrape-me",
    )
    port = free_port()
    web = procs.gunicorn_start(env, port, _log("gunicorn"))
    yield {"url": f"http://127.0.0.1:{port}", "cluster": cluster, "database": target, "cache": cache, "env": env}
    procs.stop(web)
    cluster.stop()


def _flush(cache_url: str) -> None:
    import redis

    redis.Redis.from_url(cache_url).flushdb()


def _investor(stack, email: str) -> str:
    from tests.conftest import DEFAULT_PROFILE, PASSWORD

    status, _, body = procs.request("POST", f"{stack['url']}/api/v1/auth/register",
                                    {"email": email, "password": PASSWORD, "profile": DEFAULT_PROFILE})
    assert status == 202, body  # registration answers alike for new and taken addresses; login works unverified
    status, _, body = procs.request("POST", f"{stack['url']}/api/v1/auth/token", {"email": email, "password": PASSWORD})
    assert status == 200, body
    return body["access"]


@pytest.mark.django_db  # the test database must exist: the stack copies it
def test_postgres_stopped_mid_request_is_503_and_loses_or_duplicates_no_ledger_row(stack):
    # given an investor with a portfolio, depositing one unit at a time with a unique note
    _flush(stack["cache"])
    url = stack["url"]
    auth = {"Authorization": f"Bearer {_investor(stack, 'pg-fault@example.com')}"}
    status, _, portfolio = procs.request("POST", f"{url}/api/v1/portfolios", {"name": "Faulty"}, auth)
    assert status == 201, portfolio
    outcomes: list[tuple[str, int, object, object]] = []
    stop = threading.Event()

    def deposits() -> None:
        i = 0
        while not stop.is_set():
            note = f"d{i}"
            status, headers, body = procs.request(
                "POST", f"{url}/api/v1/portfolios/{portfolio['id']}/cash",
                {"operation": "deposit", "amount": "1.00", "note": note}, auth, timeout=30,
            )
            outcomes.append((note, status, headers.get("Retry-After"), body))
            i += 1

    thread = threading.Thread(target=deposits)
    thread.start()
    try:
        _until(lambda: len(outcomes) >= 15, 60)
        # when PostgreSQL dies (immediate stop: no clean shutdown) with deposits in flight
        stack["cluster"].halt("immediate")
        down_from = len(outcomes)
        _until(lambda: len(outcomes) >= down_from + 10, 60)
        # and comes back
        stack["cluster"].start()
        _until(lambda: sum(1 for o in outcomes[down_from:] if o[1] == 201) >= 10, 60)
    finally:
        stop.set()
        thread.join(timeout=60)
    # then every answer is a 201 or a 503 in the one error shape with Retry-After, never a 500
    statuses = {status for _, status, _, _ in outcomes}
    assert statuses <= {201, 503}, sorted(statuses)
    refused = [o for o in outcomes if o[1] == 503]
    assert refused, "PostgreSQL was down but no request was refused"
    for _, _, retry_after, body in refused:
        assert int(retry_after) == 3
        assert body["type"] == "server_error" and body["errors"][0]["code"] == "service_unavailable"
    # and the ledger holds each answered deposit exactly once; at most the one deposit in
    # flight when the server died may have committed without its answer getting out
    import psycopg

    with psycopg.connect(stack["database"].replace("postgres://", "postgresql://")) as conn:
        notes = [r[0] for r in conn.execute(
            "SELECT note FROM portfolios_cashmovement WHERE portfolio_id = %s", [portfolio["id"]]
        )]
    accepted = {note for note, status, _, _ in outcomes if status == 201}
    assert len(notes) == len(set(notes)), "a deposit was written twice"
    assert accepted <= set(notes), f"lost: {sorted(accepted - set(notes))}"
    assert len(set(notes) - accepted) <= 1
    audit = subprocess.run([sys.executable, "manage.py", "audit_ledger"], cwd=ROOT, env=stack["env"],
                           capture_output=True, text=True, timeout=120)
    assert audit.returncode == 0, audit.stderr


@pytest.mark.django_db  # the test database must exist: the stack copies it
def test_forged_forwarded_for_does_not_bypass_the_login_throttle(stack):
    _flush(stack["cache"])
    url = f"{stack['url']}/api/v1/auth/token"
    statuses = [
        procs.request("POST", url, {"email": "nobody@example.com", "password": "wrong-password-1"},
                      {"X-Forwarded-For": f"10.{i}.{i}.{i}"})[0]
        for i in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]


@pytest.mark.django_db  # the test database must exist: the stack copies it
@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/auth/register", "/api/v1/auth/token/refresh"])
def test_deep_json_and_large_bodies_are_400_and_413_through_gunicorn(stack, path):
    _flush(stack["cache"])
    deep = procs.request("POST", stack["url"] + path, b"[" * 5000 + b"]" * 5000)
    large = procs.request("POST", stack["url"] + path, b'{"email": "' + b"x" * 3_000_000 + b'"}')
    assert (deep[0], deep[2]["errors"][0]["code"]) == (400, "json_too_deep")
    assert (large[0], large[2]["errors"][0]["code"]) == (413, "request_too_large")


@pytest.mark.django_db  # the test database must exist: the stack copies it
def test_gunicorn_sends_no_server_header_and_the_security_headers(stack):
    status, headers, _ = procs.request("GET", f"{stack['url']}/api/v1/health/")
    assert status == 200
    assert headers.get("Server") is None
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    long_url = procs.request("GET", f"{stack['url']}/api/v1/portfolios?q=" + "a" * 6000)
    assert (long_url[0], long_url[2]["errors"][0]["code"]) == (414, "uri_too_long")


def test_metrics_count_the_requests_of_every_gunicorn_worker(stack):
    from concurrent.futures import ThreadPoolExecutor

    from prometheus_client.parser import text_string_to_metric_families

    def health_requests_counted() -> float:
        status, _, body = procs.request("GET", f"{stack['url']}/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert status == 200
        text = body.decode() if isinstance(body, bytes) else str(body)
        return sum(sample.value for family in text_string_to_metric_families(text)
                   for sample in family.samples
                   if sample.name == "django_http_requests_total_by_view_transport_method_total"
                   and "health" in sample.labels.get("view", ""))

    # given what the two workers have counted so far
    before = health_requests_counted()
    # when 40 health checks arrive 8 at a time (both workers answer some)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: procs.request("GET", f"{stack['url']}/api/v1/health/")[0], range(40)))
    assert set(statuses) <= {200, 503}
    # then every scrape, whichever worker answers it, counts all 40
    assert [health_requests_counted() - before for _ in range(4)] == [40.0] * 4
