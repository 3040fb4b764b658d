"""The sweeper: work stuck in queued / pending / running past its deadline.

A worker that dies (OOM, a deploy, a lost node) leaves its rows where they were. Every
few minutes (beat) :func:`stuck_work_sweep` looks for them and either re-enqueues the
work — safe, because each task is idempotent (a cycle run executes at most once, a
backtest is claimed under a row lock, a pull upserts) — or, after
``max_requeues`` tries, marks it failed with a reason. Each thing done is a
:class:`~rebalancer.ops.models.SweepAction` (shown on the dashboard).

| work | stuck when | then |
| --- | --- | --- |
| backtest | ``queued`` since ``queued_after``, or ``running`` since the task time limit | re-enqueued; failed after ``max_requeues`` |
| cycle runs of a date | ``pending`` since ``pending_after`` (its chunk never finished) | re-enqueued in chunks; after ``max_attempts`` worker starts a run is failed; a run whose autonomy was paused since is failed |
| data pull | ``running`` since ``running_after`` | failed (the worker is gone) and the same pull re-enqueued |
| agent training | a candidate without artifact, progress < 1, older than ``training_after`` | retired with the reason (never re-run blindly: it is hours of CPU) |

Deadlines come from settings ``OPS_SWEEPER`` (see :func:`sweeper_rules_get`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from rebalancer.ops.models import SweepAction

logger = logging.getLogger(__name__)
Kind, Outcome = SweepAction.Kind, SweepAction.Outcome


@dataclass(frozen=True)
class SweeperRules:
    queued_after: timedelta = timedelta(minutes=15)
    """A backtest still queued this long was never picked up."""
    running_after: timedelta = timedelta(hours=1)
    """Backtests and data pulls running this long lost their worker (the task time limit)."""
    pending_after: timedelta = timedelta(minutes=30)
    """A cycle run pending this long after a worker started it: its chunk died."""
    training_after: timedelta = timedelta(hours=6)
    """Training that has not finished in this long died."""
    max_requeues: int = 2
    """Re-enqueues of one backtest before it is failed."""
    max_attempts: int = 3
    """Worker starts of one cycle run before it is failed."""


def sweeper_rules_get() -> SweeperRules:
    """Rules from settings ``OPS_SWEEPER`` (minutes for the deadlines, counts as given)."""
    raw = dict(getattr(settings, "OPS_SWEEPER", {}))
    values = {}
    for name in ("queued_after", "running_after", "pending_after", "training_after"):
        if name in raw:
            values[name] = timedelta(minutes=float(raw[name]))
    for name in ("max_requeues", "max_attempts"):
        if name in raw:
            values[name] = int(raw[name])
    return SweeperRules(**values)


@dataclass
class SweepReport:
    requeued: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, outcome: str, n: int = 1) -> None:
        target = self.requeued if outcome == Outcome.REQUEUED else self.failed
        target[kind] = target.get(kind, 0) + n


def _record(report: SweepReport, *, kind: str, key: str, ids: list, outcome: str, reason: str) -> None:
    SweepAction.objects.create(kind=kind, key=key, object_ids=ids, outcome=outcome, reason=reason[:2000])
    report.add(kind, outcome, len(ids) if kind == Kind.CYCLE_RUNS else 1)
    logger.warning("sweeper: %s %s %s: %s", kind, key, outcome, reason)


def _backtests(report: SweepReport, rules: SweeperRules, now: datetime) -> None:
    from rebalancer.backtests.models import Backtest, BacktestStatus
    from rebalancer.backtests.tasks import backtest_run_task

    stuck = Backtest.objects.filter(
        Q(status=BacktestStatus.QUEUED, created_at__lt=now - rules.queued_after)
        | Q(status=BacktestStatus.RUNNING, started_at__lt=now - rules.running_after)
    )
    for backtest in stuck:
        key = f"backtest:{backtest.pk}"
        tries = SweepAction.objects.filter(key=key, outcome=Outcome.REQUEUED).count()
        since = backtest.started_at if backtest.status == BacktestStatus.RUNNING else backtest.created_at
        waited = f"{backtest.status} since {since:%Y-%m-%d %H:%M} UTC"
        if tries >= rules.max_requeues:
            reason = f"stuck: {waited} after {tries} re-enqueue(s); no worker finished it"
            Backtest.objects.filter(pk=backtest.pk, status=backtest.status).update(
                status=BacktestStatus.FAILED, error=reason, finished_at=now)
            _record(report, kind=Kind.BACKTEST, key=key, ids=[backtest.pk], outcome=Outcome.FAILED, reason=reason)
            continue
        if backtest.status == BacktestStatus.RUNNING:
            # a running row is claimed again only when stale (backtests.services._claim)
            Backtest.objects.filter(pk=backtest.pk).update(status=BacktestStatus.QUEUED)
        transaction.on_commit(lambda pk=backtest.pk: backtest_run_task.delay(backtest_id=pk))
        _record(report, kind=Kind.BACKTEST, key=key, ids=[backtest.pk], outcome=Outcome.REQUEUED,
                reason=f"{waited}; re-enqueued (try {tries + 1} of {rules.max_requeues})")


def _cycle_runs(report: SweepReport, rules: SweeperRules, now: datetime) -> None:
    from portfolios.models import AutonomySettings
    from rebalancer.autopilot.models import CycleRun
    from rebalancer.autopilot.services import CHUNK_SIZE
    from rebalancer.autopilot.tasks import cycle_run_chunk_task

    stuck = CycleRun.objects.filter(status=CycleRun.Status.PENDING, started_at__lt=now - rules.pending_after)
    by_date: dict = {}
    for pk, pid, as_of, attempt in stuck.order_by("as_of", "portfolio_id").values_list(
        "pk", "portfolio_id", "as_of", "attempt"
    ):
        by_date.setdefault(as_of, []).append((pk, pid, attempt))
    enabled = set(AutonomySettings.objects.filter(
        enabled=True, portfolio_id__in=[pid for rows in by_date.values() for _, pid, _ in rows]
    ).values_list("portfolio_id", flat=True))
    for as_of, rows in by_date.items():
        exhausted = [pk for pk, pid, attempt in rows if attempt >= rules.max_attempts and pid in enabled]
        paused = [pk for pk, pid, _ in rows if pid not in enabled]
        retry = [pid for pk, pid, attempt in rows if attempt < rules.max_attempts and pid in enabled]
        for ids, reason in (
            (exhausted, f"stuck pending after {rules.max_attempts} worker starts; no worker finished it"),
            (paused, "stuck pending and the portfolio's autonomy was paused since; not run"),
        ):
            if ids:
                CycleRun.objects.filter(pk__in=ids, status=CycleRun.Status.PENDING).update(
                    status=CycleRun.Status.FAILED, error=reason, finished_at=now)
                _record(report, kind=Kind.CYCLE_RUNS, key=f"cycle_runs:{as_of}", ids=ids,
                        outcome=Outcome.FAILED, reason=f"{as_of}: {reason}")
        for start in range(0, len(retry), CHUNK_SIZE):
            chunk = retry[start : start + CHUNK_SIZE]
            transaction.on_commit(
                lambda chunk=chunk, day=as_of.isoformat(): cycle_run_chunk_task.delay(portfolio_ids=chunk, as_of=day)
            )
            _record(report, kind=Kind.CYCLE_RUNS, key=f"cycle_runs:{as_of}", ids=chunk, outcome=Outcome.REQUEUED,
                    reason=f"{as_of}: {len(chunk)} cycle run(s) pending since before "
                           f"{now - rules.pending_after:%H:%M} UTC; chunk re-enqueued")


def _data_pulls(report: SweepReport, rules: SweeperRules, now: datetime) -> None:
    from marketdata.models import DataPull
    from marketdata.providers.base import PROVIDERS
    from marketdata.tasks import prices_pull_task

    for pull in DataPull.objects.filter(status=DataPull.Status.RUNNING, started_at__lt=now - rules.running_after):
        reason = f"still running since {pull.started_at:%Y-%m-%d %H:%M} UTC: the worker was lost"
        DataPull.objects.filter(pk=pull.pk, status=DataPull.Status.RUNNING).update(
            status=DataPull.Status.FAILED, errors=[*(pull.errors or []), reason], finished_at=now)
        _record(report, kind=Kind.DATA_PULL, key=f"data_pull:{pull.pk}", ids=[pull.pk], outcome=Outcome.FAILED,
                reason=reason)
        if pull.provider in PROVIDERS and pull.provider != "csv":  # a file import cannot be redone from here
            symbols = list(pull.symbols or []) or None
            transaction.on_commit(lambda p=pull.provider, s=symbols: prices_pull_task.delay(provider=p, symbols=s))
            _record(report, kind=Kind.DATA_PULL, key=f"data_pull:{pull.pk}", ids=[pull.pk],
                    outcome=Outcome.REQUEUED, reason=f"the same {pull.provider} pull re-enqueued")


def _training(report: SweepReport, rules: SweeperRules, now: datetime) -> None:
    from mlagents.models import AgentModel, AgentStatus

    stuck = AgentModel.objects.filter(
        status=AgentStatus.CANDIDATE, progress__lt=1.0, artifact="", created_at__lt=now - rules.training_after
    )
    for agent in stuck:
        reason = (f"training did not finish: {agent.progress:.0%} done, started "
                  f"{agent.created_at:%Y-%m-%d %H:%M} UTC; the worker was lost")
        AgentModel.objects.filter(pk=agent.pk, status=AgentStatus.CANDIDATE).update(
            status=AgentStatus.RETIRED, retired_at=now, promotion_reason=reason)
        _record(report, kind=Kind.TRAINING, key=f"training:{agent.pk}", ids=[agent.pk], outcome=Outcome.FAILED,
                reason=reason)


def stuck_work_sweep(*, now: datetime | None = None, rules: SweeperRules | None = None) -> SweepReport:
    """Re-enqueue or fail every stuck item (see the module docstring); one transaction per kind."""
    now = now or timezone.now()
    rules = rules or sweeper_rules_get()
    report = SweepReport()
    for sweep in (_backtests, _cycle_runs, _data_pulls, _training):
        with transaction.atomic():
            sweep(report, rules, now)
    return report
