"""Benchmark: one autopilot cycle over N portfolios of 20 assets on PostgreSQL.

Starts a throwaway PostgreSQL cluster (``tests/integration/pg.py``), migrates, loads
the last two years of the 20 real stocks of ``../shared/data/stock_prices.csv``, seeds N
autopilot portfolios (20 drifted positions with tax lots and some new cash, four
strategies x five risk tiers), then times ``cycle_run_all`` (the code beat runs, inline)
and counts its SQL queries. Every portfolio is triggered (drift and cash), so this is the
worst case: every one writes a decision and executes trades.

The peer is the naive path: the same cycle run portfolio by portfolio with
``cycle_run`` (inputs loaded one at a time, a fresh context and no shared targets), on
a subset; the ratio is per-portfolio time naive / ours.

    .venv/bin/python bench/bench_autopilot_cycle.py --portfolios 1000 10000 --peer 200
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "stock_prices.csv"
if not DATA.exists():
    DATA = Path("/work/shared/data/stock_prices.csv")
STRATEGIES = ("optimizer:min_volatility", "optimizer:max_sharpe", "optimizer:risk_parity", "equal_weight")
TIERS = ("conservative", "moderate", "balanced", "growth", "aggressive")


def django_on_postgres():
    """Start a cluster, point Django at it, migrate; returns the cluster (stop it at the end)."""
    from tests.integration.pg import postgres_start

    cluster = postgres_start()
    os.environ["DATABASE_URL"] = cluster.url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rebalancer.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return cluster


def prices_load(years: int = 2):
    """The last ``years`` of the 20 stocks as assets and bars; returns (symbols, as_of)."""
    import pandas as pd

    from marketdata.models import Asset, PriceBar

    frame = pd.read_csv(DATA, parse_dates=["date"]).set_index("date").sort_index()
    frame = frame.loc[frame.index >= frame.index[-1] - pd.DateOffset(years=years)].dropna(axis=1)
    bars = []
    for symbol in frame.columns:
        asset = Asset.objects.create(symbol=symbol, name=symbol, asset_class="equity")
        for day, close in frame[symbol].items():
            price = Decimal(f"{close:.6f}")
            bars.append(PriceBar(asset=asset, date=day.date(), open=price, high=price, low=price,
                                 close=price, adj_close=price, volume=1_000_000))
    PriceBar.objects.bulk_create(bars, batch_size=5000)
    return list(frame.columns), frame.index[-1].date(), frame.iloc[-1].to_dict()


def _defaults(model, now) -> dict:
    """Every concrete column of ``model`` but the key, at its default (``auto_now`` ones at ``now``)."""
    row = {}
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        row[f.attname] = now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
    return row


def _copy_rows(model, rows: list[dict], *, returning_ids: bool = False):
    """``rows`` (dicts of attnames) through :func:`common.bulk_write.rows_insert` (COPY on PostgreSQL)."""
    from common.bulk_write import rows_insert

    if not rows:
        return []
    columns = tuple(rows[0])
    return rows_insert(model, columns, [tuple(r.values()) for r in rows], returning_ids=returning_ids)


def portfolios_seed(n: int, symbols: list[str], closes: dict, *, seed: int = 0) -> list[int]:
    """N autopilot portfolios, each ~100k in 20 randomly weighted positions plus 5-15 % cash.

    Written with COPY (``rows_insert``), the rows ``bulk_create`` would write: 100,000
    portfolios (2 million positions and as many lots) in a few minutes instead of ~15."""
    from django.db import connection, transaction
    from django.utils import timezone

    from marketdata.models import Asset
    from portfolios.models import AutonomySettings, CashMovement, Portfolio, Position, TaxLot
    from users.models import User

    rng = random.Random(seed)
    owner, _ = User.objects.get_or_create(email="bench@example.com")
    assets = {a.symbol: a.pk for a in Asset.objects.filter(symbol__in=symbols)}
    start = Portfolio.objects.count()
    now = timezone.now()
    acquired = timezone.now().date().replace(year=2017)
    base = {m: _defaults(m, now) for m in (Portfolio, AutonomySettings, CashMovement, Position, TaxLot)}
    prices = {s: Decimal(f"{closes[s]:.6f}") for s in symbols}
    portfolios, settings, cashes, holdings = [], [], [], []
    for i in range(n):
        settings.append({**base[AutonomySettings], "mode": "autopilot", "strategy": rng.choice(STRATEGIES),
                         "risk_tolerance": rng.choice(TIERS), "calendar": "none"})
        raw = [rng.random() for _ in symbols]
        invested = 100_000 * rng.uniform(0.85, 0.95)
        cash = Decimal("100000")
        held = []
        for symbol, r in zip(symbols, raw, strict=True):
            qty = Decimal(f"{invested * r / sum(raw) / closes[symbol]:.4f}")
            if qty <= 0:
                continue
            cost = (qty * prices[symbol]).quantize(Decimal("0.0001"))
            cash -= cost
            held.append((assets[symbol], qty, cost))
        holdings.append(held)
        cashes.append(cash)
        # the ledger's invariant: cash = movements + trade flows; seed it as one deposit
        portfolios.append({**base[Portfolio], "owner_id": owner.pk, "name": f"bench {start + i}", "cash": cash})
    with transaction.atomic():
        ids = _copy_rows(Portfolio, portfolios, returning_ids=True)
        for pid, row in zip(ids, settings, strict=True):
            row["portfolio_id"] = pid
        _copy_rows(AutonomySettings, settings)
        _copy_rows(CashMovement, [{**base[CashMovement], "portfolio_id": pid, "kind": "deposit", "amount": cash,
                                   "at": now} for pid, cash in zip(ids, cashes, strict=True)])
        positions, lots = base[Position], base[TaxLot]
        _copy_rows(Position, [{**positions, "portfolio_id": pid, "asset_id": a, "quantity": q}
                              for pid, held in zip(ids, holdings, strict=True) for a, q, _ in held])
        _copy_rows(TaxLot, [{**lots, "portfolio_id": pid, "asset_id": a, "acquired_on": acquired,
                             "quantity_original": q, "quantity_open": q, "cost_basis": c, "cost_basis_open": c}
                            for pid, held in zip(ids, holdings, strict=True) for a, q, c in held])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would give tables this size
    return ids


def postgres_cpu(cluster) -> float:
    """CPU seconds the cluster's processes have used so far (Linux ``/proc``).

    The postmaster's own time plus what it reaped from exited backends (``cutime``,
    ``cstime``) plus its live children; the difference over a section is PostgreSQL's
    share of the two cores, which the Python CPU figure leaves out.
    """
    try:
        postmaster = int(Path(cluster.directory, "data", "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")
    hz = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid, ppid = int(entry.name), int(fields[1])
        if pid == postmaster:
            total += sum(int(f) for f in fields[11:15]) / hz
        elif ppid == postmaster:
            total += (int(fields[11]) + int(fields[12])) / hz
    return total


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def timed(fn):
    """(result, wall s, statements): every SQL statement, the chunk path's COPYs included.

    ``COPY ... FROM STDIN`` does not pass through Django's execute wrappers, so the
    writer's ``_copy`` is wrapped here to count those too (``timed.copies``).
    """
    from django.db import connection

    from common import bulk_write

    counter = QueryCounter()
    copy, copies = bulk_write._copy, []

    def counting_copy(*args, **kwargs):
        copies.append(1)
        return copy(*args, **kwargs)

    bulk_write._copy = counting_copy
    started, cpu = time.perf_counter(), time.process_time()
    try:
        with connection.execute_wrapper(counter):
            result = fn()
    finally:
        bulk_write._copy = copy
    timed.cpu = time.process_time() - cpu  # this process's CPU seconds (the machine is shared)
    timed.copies = len(copies)
    return result, time.perf_counter() - started, counter.count + len(copies)


def _worker_start() -> None:
    """A worker process as Celery starts one: Django set up, the cycle's modules and the
    optimizer (cvxpy) imported, then a fresh peak-RSS window. Spawned, not forked, so its
    RSS is its own and not the benchmark's (which holds the seeding's leftovers)."""
    import django

    django.setup()
    import portfolios.optimization  # noqa: F401 (cvxpy: a worker has it loaded after its first chunk)
    import rebalancer.autopilot.services  # noqa: F401

    rss_peak_reset()


def _worker_ready(_: int) -> None:
    time.sleep(0.5)  # long enough for every worker of the pool to take one


def _chunk_worker(job: tuple[list[int], object]) -> tuple[int, float, float]:
    """One Celery-like chunk task in a worker process (context reused across its chunks);
    (portfolios done, CPU s, the worker's peak RSS in MiB so far)."""
    from rebalancer.autopilot.services import cycle_context_get, cycle_run_many

    chunk, as_of = job
    cpu = time.process_time()
    results = cycle_run_many(portfolio_ids=chunk, as_of=as_of, context=cycle_context_get(as_of=as_of))
    return sum(r.status == "done" for r in results), time.process_time() - cpu, rss_mb()


def run_workers(ids: list[int], as_of, chunk_size: int, workers: int) -> tuple[float, float, float]:
    """The fan-out as ``workers`` processes consuming chunk tasks; (wall s, CPU s summed,
    the largest peak RSS of a worker in MiB)."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # children open their own connections
    chunks = [(ids[i : i + chunk_size], as_of) for i in range(0, len(ids), chunk_size)]
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_worker_start) as pool:
        pool.map(_worker_ready, range(workers), chunksize=1)  # started and imported: not timed
        started = time.perf_counter()
        outcomes = pool.map(_chunk_worker, chunks, chunksize=1)
    return time.perf_counter() - started, sum(cpu for _, cpu, _ in outcomes), max(rss for *_, rss in outcomes)


def deposits_make(ids: list[int], share: float, *, seed: int) -> int:
    """A deposit of 10,000 (10 % of a seeded portfolio) into ``share`` of ``ids``, as the
    ledger books one: a cash movement and the portfolio's cash and ledger version."""
    from django.db.models import F
    from django.utils import timezone

    from portfolios.models import CashMovement, Portfolio

    chosen = random.Random(seed).sample(ids, round(len(ids) * share))
    amount, now = Decimal("10000"), timezone.now()
    CashMovement.objects.bulk_create(
        [CashMovement(portfolio_id=pid, kind="deposit", amount=amount, at=now) for pid in chosen], batch_size=2000
    )
    Portfolio.objects.filter(pk__in=chosen).update(cash=F("cash") + amount, ledger_version=F("ledger_version") + 1)
    return len(chosen)


def rss_peak_reset() -> None:
    """Start a new peak-RSS window (Linux: writing 5 to ``clear_refs`` resets ``VmHWM``)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def rss_mb(key: str = "VmHWM") -> float:
    """This process's peak (``VmHWM``, since the last reset) or current (``VmRSS``) RSS in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


PHASES = (
    ("lock runs", "bulk", "_runs_lock"),
    ("inputs", "selectors", "cycle_inputs_load"),
    ("decide", "bulk", "_decide_all"),
    ("ledgers in memory", "bulk", "_ledgers_apply"),
    ("write", "bulk", "_outcomes_write"),
    ("  of it ledger flush", "bulk", "ledgers_flush"),
    ("chunks", "bulk", "_chunk_run"),
)
"""Where an inline cycle's wall time goes: (label, module, function) wrapped by :func:`phases_timed`."""


@contextlib.contextmanager
def phases_timed():
    """Wrap the chunk path's steps with wall-clock accumulators; yields {label: seconds}."""
    from rebalancer.autopilot import bulk, selectors

    modules = {"bulk": bulk, "selectors": selectors}
    spent: dict[str, float] = dict.fromkeys([label for label, _, _ in PHASES], 0.0)
    originals = []

    def wrap(label, fn):
        def timed_step(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - started
        return timed_step

    for label, module, name in PHASES:
        fn = getattr(modules[module], name)
        originals.append((modules[module], name, fn))
        setattr(modules[module], name, wrap(label, fn))
    try:
        yield spent
    finally:
        for module, name, fn in originals:
            setattr(module, name, fn)


def phases_print(spent: dict[str, float], seconds: float) -> None:
    chunks = spent["chunks"]
    parts = [f"{label.strip()} {spent[label]:.1f}s" for label, _, _ in PHASES if label != "chunks"]
    inside = sum(spent[label] for label, _, _ in PHASES if label not in ("chunks", "  of it ledger flush"))
    print(f"  phases: {', '.join(parts)}, rest of the chunks (portfolio lock, outcomes) {chunks - inside:.1f}s, "
          f"outside the chunks (eligibility, run rows, context) {seconds - chunks:.1f}s")


@contextlib.contextmanager
def profiled(path: str | None, label: str):
    """cProfile around the block when ``path`` is given: stats saved there, the top 30 printed."""
    if not path:
        yield
        return
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        out = f"{path}.{label.split()[0]}"
        profile.dump_stats(out)
        print(f"{label}: profile saved to {out}")
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)


def day_measure(label: str, ids: list[int], day, args, cluster, workers: int):
    """Time one cycle day over ``ids``: wall, CPU, PostgreSQL CPU, phases, peak RSS; print and return a row."""
    from portfolios.models import Trade
    from rebalancer.autopilot.models import CycleRun
    from rebalancer.autopilot.services import cycle_run_all

    n = len(ids)
    trades_before = Trade.objects.count()
    pg_cpu = postgres_cpu(cluster)
    load = os.getloadavg()
    rss_peak_reset()
    rss_before = rss_mb("VmRSS")
    worker_rss = None
    if workers > 1 or args.pool:
        seconds, timed.cpu, worker_rss = run_workers(ids, day, args.chunk_size, workers)
        queries, spent = float("nan"), None  # counted in the inline mode only
        by_action = f"{workers} worker process(es)"
    else:
        with phases_timed() as spent, profiled(args.profile, label):
            summary, seconds, queries = timed(
                lambda: cycle_run_all(as_of=day, chunk_size=args.chunk_size, portfolio_ids=ids)
            )
        by_action = summary.by_action
        del summary
    rss_peak = rss_mb()
    pg_cpu = postgres_cpu(cluster) - pg_cpu
    trades = Trade.objects.count() - trades_before
    done = CycleRun.objects.filter(portfolio_id__in=ids, as_of=day, status="done").count()
    if spent is not None:
        print(f"{label}: statements: {queries} ({timed.copies} of them COPY) for "
              f"{-(-n // args.chunk_size)} chunks of {args.chunk_size}")
    print(f"{label}: {n} portfolios on {day} in {seconds:.1f}s wall, {timed.cpu:.1f}s Python CPU, "
          f"{pg_cpu:.1f}s PostgreSQL CPU (load average {load[0]:.1f} before, {os.getloadavg()[0]:.1f} after, "
          f"on {os.cpu_count()} cores) = {n / seconds:.0f} portfolios/s, "
          f"{queries / n:.2f} queries/portfolio, {trades} trades, {done} done, {by_action}; "
          f"peak RSS of this process {rss_peak:.0f} MiB ({rss_before:.0f} MiB before)"
          + (f", of the largest worker {worker_rss:.0f} MiB" if worker_rss is not None else ""))
    if spent is not None:
        phases_print(spent, seconds)
    return (label, n, seconds, queries, trades, done, timed.cpu, pg_cpu, rss_peak, worker_rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--portfolios", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--peer", type=int, default=200, help="portfolios for the naive per-portfolio path (0: none)")
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--quiet-day", action="store_true",
                        help="rebalance everyone the day before (untimed), then time the next day's cycle")
    parser.add_argument("--time-prep", action="store_true",
                        help="with --quiet-day: time the day before too, with the same workers (it is the worst "
                             "case: all trade)")
    parser.add_argument("--trading-share", type=float, default=None,
                        help="with --quiet-day: this share of the portfolios gets a deposit of 10%% of its "
                             "value before the timed day, so only they trade (a realistic day: 0.1)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1],
                        help="worker processes consuming chunk tasks (1: inline cycle_run_all); several "
                             "counts time the same day once per count, on fresh copies of the seeded ledgers")
    parser.add_argument("--pool", action="store_true",
                        help="run even one worker as a forked worker process (the scaling series 1, 2, 4) "
                             "instead of inline in this process")
    parser.add_argument("--dump", metavar="PATH", default=None,
                        help="after the timed days, write every row the cycle wrote (timestamps left out) to "
                             "PATH as JSON lines: two runs' dumps are equal when the cycle decided the same")
    parser.add_argument("--profile", metavar="PATH", default=None,
                        help="inline days only: cProfile the timed cycle, save the stats to PATH.<day>, print the top")
    args = parser.parse_args()
    cluster = django_on_postgres()
    try:
        from rebalancer.autopilot.services import cycle_run

        symbols, as_of, closes = prices_load()
        print(f"PostgreSQL at {cluster.url}; {len(symbols)} assets; as of {as_of}")
        rows = []
        for n in args.portfolios:
            for workers in args.workers:
                rows += seeded_days_measure(n, workers, symbols, as_of, closes, args, cluster)
        if args.dump:
            rows_dump(args.dump)
        if args.peer:
            peer_measure(rows, symbols, as_of, closes, args, cycle_run)
    finally:
        cluster.stop()


def seeded_days_measure(n: int, workers: int, symbols, as_of, closes, args, cluster) -> list[tuple]:
    """Seed ``n`` portfolios (only they enabled) and time their day(s); the rows of :func:`day_measure`."""
    from django.db.models import Max

    from marketdata.models import PriceBar
    from portfolios.models import AutonomySettings

    t0 = time.perf_counter()
    ids = portfolios_seed(n, symbols, closes, seed=n)
    print(f"seeded {n} portfolios in {time.perf_counter() - t0:.1f}s (load average {os.getloadavg()[0]:.1f})")
    AutonomySettings.objects.exclude(portfolio_id__in=ids).update(enabled=False)
    rows = []
    if args.quiet_day:
        before = PriceBar.objects.filter(date__lt=as_of).aggregate(d=Max("date"))["d"]
        if args.time_prep:
            rows.append(day_measure("worst case (all trade)", ids, before, args, cluster, workers))
        else:
            run_workers(ids, before, args.chunk_size, max(2, workers))
            print(f"rebalanced everyone on {before} (untimed); timing {as_of}")
        label = "quiet day"
        if args.trading_share:
            deposited = deposits_make(ids, args.trading_share, seed=n)
            print(f"deposited 10,000 into {deposited} portfolios ({args.trading_share:.0%}) before {as_of}")
            label = f"realistic day ({args.trading_share:.0%} trade)"
        rows.append(day_measure(label, ids, as_of, args, cluster, workers))
    else:
        rows.append(day_measure(f"worst case, {workers} worker(s)" if workers > 1 else "ours", ids, as_of, args,
                                cluster, workers))
    return rows


def rows_dump(path: str) -> None:
    """Every row of the tables the cycle writes, in key order, without timestamps, as JSON lines."""
    import json

    from django.db import models

    from portfolios.models import Decision, Portfolio, Position, TaxLot, Trade
    from rebalancer.autopilot.models import CycleRun, Notification

    with open(path, "w") as out:
        for model in (Portfolio, Decision, Trade, TaxLot, Position, CycleRun, Notification):
            fields = [f.attname for f in model._meta.concrete_fields if not isinstance(f, models.DateTimeField)]
            for row in model.objects.order_by("pk").values_list(*fields):
                out.write(json.dumps([model.__name__, *row], default=str, sort_keys=True) + "\n")
    print(f"rows dumped to {path}")


def peer_measure(rows, symbols, as_of, closes, args, cycle_run) -> None:
    """The naive peer: portfolio by portfolio, nothing shared; prints the ratio to each row."""
    from portfolios.models import AutonomySettings

    ids = portfolios_seed(args.peer, symbols, closes, seed=99)
    AutonomySettings.objects.exclude(portfolio_id__in=ids).update(enabled=False)
    _, naive_seconds, naive_queries = timed(lambda: [cycle_run(portfolio_id=pid, as_of=as_of) for pid in ids])
    naive_rate = args.peer / naive_seconds
    print(f"naive per-portfolio cycle_run: {args.peer} portfolios in {naive_seconds:.1f}s wall, "
          f"{timed.cpu:.1f}s Python CPU = "
          f"{naive_rate:.0f} portfolios/s, {naive_queries / args.peer:.1f} queries/portfolio")
    for label, n, seconds, queries, trades, done, *_ in rows:
        print(f"RESULT {label} n={n} seconds={seconds:.1f} rate={n / seconds:.0f}/s "
              f"queries_per_portfolio={queries / n:.2f} trades={trades} done={done} "
              f"speedup_vs_naive={(n / seconds) / naive_rate:.1f}x")


if __name__ == "__main__":
    main()
