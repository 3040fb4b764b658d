"""The DB shell of the autonomous cycle: exactly once, persisted, executed, notified.

:func:`cycle_run` runs one portfolio's cycle on one as-of date; :func:`cycle_run_many`
runs a chunk (inputs loaded in bulk, market data and targets shared);
:func:`cycle_run_all` runs or fans out every portfolio whose autonomy is on.

Exactly once. Each (portfolio, as-of) has one :class:`CycleRun` row (unique
constraint). A worker locks that row with ``SELECT ... FOR UPDATE``, then the
portfolio row, decides, writes the decision, executes the trades and marks the run
``done`` **in one transaction**. A second worker (beat fired twice, two workers race)
blocks on the lock and then finds ``done``; a worker that dies mid-way leaves nothing
(PostgreSQL rolls the transaction back when the connection drops) and the run stays
``pending`` for the next attempt to finish.

Records. A decision row (``portfolios.Decision``) is written when the cycle has
something to tell: trades (executed in autopilot mode, ``proposed`` in advise mode),
a skip (stale data, kill switch, strategy failure) or a trigger without any trade big
enough. A quiet day (no trigger) is recorded on the cycle run only (action ``hold``),
so ten thousand portfolios do not grow ten thousand decision rows a day.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from common.errors import Conflict, NotFound, ValidationFailed
from marketdata.models import PriceBar
from portfolios.models import AutonomySettings, Decision, Portfolio
from portfolios.services import portfolio_lock
from portfolios.services.corporate_actions import corporate_actions_apply
from portfolios.services.decisions import decision_create, proposals_expire
from portfolios.services.execution import trades_execute
from portfolios.services.ledger import ledger_as_of_check, ledger_last_dates
from portfolios.services.orders import open_orders_resolve, orders_place
from portfolios.services.portfolio import autonomy_pause
from rebalancer.autopilot import selectors
from rebalancer.autopilot.bulk import cycle_chunk_run, portfolio_decide
from rebalancer.autopilot.models import CycleRun, KillSwitch, Notification
from rebalancer.autopilot.notifications import notification_create
from rebalancer.autopilot.records import (
    ERROR_MAX,
    SUPERSEDED_REASON,
    CycleOutcome,
    DecisionRecord,
    cycle_failed,
    cycle_outcome,
    error_text,
    run_closed_result,
)
from rebalancer.autopilot.types import CycleContext, CycleRunResult

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500
"""Portfolios per Celery task of the fan-out (and per bulk load)."""
FAULT_ENV = "AUTOPILOT_FAULT"
"""Test hook for the PostgreSQL crash and race tests (never set in production):
``after_decide`` or ``after_execute`` SIGKILLs the process at that point (inside the
cycle's transaction); ``slow_after_decide`` holds the locks for two seconds there."""


@dataclass
class CycleSummary:
    """Counts of one cycle over many portfolios."""

    as_of: date
    portfolios: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_action: dict[str, int] = field(default_factory=dict)
    trades: int = 0
    chunks: int = 0
    enqueued: bool = False
    results: list[CycleRunResult] = field(default_factory=list)

    def add(self, result: CycleRunResult) -> None:
        self.portfolios += 1
        self.by_status[result.status] = self.by_status.get(result.status, 0) + 1
        if result.action:
            self.by_action[result.action] = self.by_action.get(result.action, 0) + 1
        self.trades += result.trades_count


# --- kill switch ---------------------------------------------------------------------


def kill_switch_get() -> str:
    return selectors.kill_switch_mode_get()


def kill_switch_ensure() -> KillSwitch:
    """The one kill-switch row, created ``off`` if it does not exist yet (the admin lists it
    so that an operator always has a row to flip)."""
    switch, _ = KillSwitch.objects.get_or_create(pk=1)
    return switch


@transaction.atomic
def kill_switch_set(*, mode: str, reason: str = "", user: Any = None) -> KillSwitch:
    if mode not in KillSwitch.Mode.values:
        raise ValidationFailed(
            f"kill switch mode must be one of {', '.join(KillSwitch.Mode.values)}", field="mode"
        )
    switch, _ = KillSwitch.objects.select_for_update().get_or_create(pk=1)
    switch.mode, switch.reason = mode, reason
    switch.updated_by = user if getattr(user, "pk", None) else None
    switch.save()
    logger.warning("kill switch set to %s by %s: %s", mode, switch.updated_by, reason)
    return switch


def approval_kill_switch_check(decision: Decision, portfolio: Portfolio, execution_date: date) -> None:  # noqa: ARG001
    """Registered with ``portfolios``: no proposal executes while trading is halted.

    The signature is ``portfolios.services.decisions.ApprovalCheck``'s; the halt is global."""
    if kill_switch_get() == KillSwitch.Mode.HALT:
        raise Conflict(
            "autonomous trading is halted by the operator (kill switch); try again later",
            code="kill_switch_halt",
            field="proposal",
        )


# --- one cycle -------------------------------------------------------------------------


def latest_market_date() -> date | None:
    """The last date with price bars (the as-of of a cycle run after the data pull)."""
    return PriceBar.objects.aggregate(last=Max("date"))["last"]


def _regime_get(as_of: date) -> Any:
    try:
        from mlagents.regime.selectors import regime_state_get
    except ImportError:  # regime detection not installed yet: no regime trigger
        return None
    return regime_state_get(market="default", as_of=as_of)


def cycle_context_build(*, as_of: date) -> CycleContext:
    return CycleContext(
        as_of=as_of,
        kill_switch=kill_switch_get(),
        regime=_regime_get(as_of),
        assets=selectors.active_assets_get(),
    )


_worker_contexts: dict[tuple, CycleContext] = {}


def cycle_context_get(*, as_of: date) -> CycleContext:
    """A worker's context for ``as_of``: market view and shared targets reused across the
    chunks this process runs (until the price data changes); the kill switch and the
    regime are re-read for every chunk, so an operator's switch applies at once."""
    from marketdata.selectors import price_revision_get

    key = (as_of, price_revision_get())
    context = _worker_contexts.get(key)
    if context is None:
        _worker_contexts.clear()  # one as-of at a time per worker: bounded memory
        context = _worker_contexts[key] = cycle_context_build(as_of=as_of)
        return context
    context.kill_switch = kill_switch_get()
    context.regime = _regime_get(as_of)
    return context


def _fault_point(name: str) -> None:
    fault = os.environ.get(FAULT_ENV)
    if fault == name:
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault == f"slow_{name}":
        time.sleep(2.0)


def _runs_ensure(portfolio_ids: Sequence[int], as_of: date) -> None:
    CycleRun.objects.bulk_create(
        [CycleRun(portfolio_id=pid, as_of=as_of) for pid in portfolio_ids], ignore_conflicts=True
    )
    CycleRun.objects.filter(portfolio_id__in=list(portfolio_ids), as_of=as_of).exclude(
        status=CycleRun.Status.DONE
    ).update(attempt=F("attempt") + 1, started_at=timezone.now())


def _decision_write(*, record: DecisionRecord, portfolio: Portfolio) -> Decision:
    """Create the decision row with the ORM, executing its trades in autopilot mode."""
    row = decision_create(
        portfolio=portfolio, as_of=record.as_of, mode=record.mode, status=record.created_status,
        strategy=record.strategy, triggers=record.triggers, target_weights=record.target_weights,
        current_weights=record.current_weights, before=record.before, after=record.after,
        checks=record.checks, trades=list(record.orders), explanation=record.explanation,
        summary=record.summary, confidence=record.confidence, status_reason=record.status_reason,
        ledger_version=record.ledger_version,
    )
    if record.executes:
        if portfolio.broker == "paper":
            trades_execute(portfolio=portfolio, trades=list(record.orders), as_of=record.as_of, decision=row)
        else:  # a real broker: orders recorded now, sent after commit, filled over time
            orders_place(portfolio=portfolio, decision=row, trades=list(record.orders))
        _fault_point("after_execute")
    return row


def _outcome_write(*, outcome: CycleOutcome, run: CycleRun, portfolio: Portfolio) -> CycleRunResult:
    """Write one cycle's records (:mod:`rebalancer.autopilot.records`) with the ORM."""
    if outcome.supersedes_proposals:
        proposals_expire(portfolio_ids=[portfolio.pk], reason=SUPERSEDED_REASON)
    row = None if outcome.decision is None else _decision_write(record=outcome.decision, portfolio=portfolio)
    decision_id = row.pk if row is not None else None
    note = outcome.notification
    if note is not None:  # the one notification service: it queues the push too
        notification_create(user_id=note.user_id, portfolio_id=note.portfolio_id, decision_id=decision_id,
                            kind=note.kind, title=note.title, body=note.body)
    update = outcome.run
    assert update is not None  # a written outcome is "done"
    run.status, run.action, run.decision_id = update.status, update.action, update.decision_id_with(decision_id)
    run.reason, run.trades_count, run.error = update.reason, update.trades_count, update.error
    run.finished_at, run.policy_state = timezone.now(), update.policy_state
    run.save(update_fields=["status", "action", "decision", "reason", "trades_count", "error", "finished_at",
                            "policy_state"])
    return outcome.result(decision_id)


def _cycle_one(
    *, portfolio_id: int, inputs: selectors.PortfolioInputs | None, context: CycleContext, force: bool
) -> CycleRunResult:
    as_of = context.as_of
    with transaction.atomic():
        run = CycleRun.objects.select_for_update().filter(portfolio_id=portfolio_id, as_of=as_of).first()
        closed = run_closed_result(portfolio_id, as_of, run)
        if closed is not None:
            return closed
        assert run is not None  # run_closed_result answers for a missing row
        portfolio = portfolio_lock(portfolio=portfolio_id)
        if inputs is None or inputs.ledger_version != portfolio.ledger_version:
            # Loaded before the lock and the ledger moved since (or never loaded): reload.
            inputs = selectors.cycle_inputs_load(
                portfolio_ids=[portfolio_id], as_of=as_of, assets=context.assets, force=force
            ).get(portfolio_id)
        if inputs is None:
            return cycle_outcome(portfolio_id=portfolio_id, as_of=as_of, decision=None).result()
        portfolio.autonomy = inputs.autonomy
        decision = portfolio_decide(inputs=inputs, context=context)
        _fault_point("after_decide")
        outcome = cycle_outcome(portfolio_id=portfolio_id, as_of=as_of, decision=decision,
                                mode=inputs.config.mode, portfolio=portfolio, run=run)
        return _outcome_write(outcome=outcome, run=run, portfolio=portfolio)


def _run_skip(portfolio_id: int, as_of: date, reason: str) -> CycleRunResult:
    """Close the day's run of a broker portfolio whose earlier orders are still open (no decision)."""
    with transaction.atomic():
        run = CycleRun.objects.select_for_update().get(portfolio_id=portfolio_id, as_of=as_of)
        closed = run_closed_result(portfolio_id, as_of, run)
        if closed is not None:
            return closed
        run.status, run.action, run.reason, run.error = CycleRun.Status.DONE, "skipped", reason, ""
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "action", "reason", "error", "finished_at"])
    return CycleRunResult(portfolio_id, as_of, status="done", action="skipped", summary=reason)


def _record_failure(portfolio_id: int, as_of: date, exc: Exception) -> CycleRunResult:
    message = error_text(exc)
    logger.error("autopilot cycle of portfolio %s on %s failed", portfolio_id, as_of, exc_info=exc)
    CycleRun.objects.filter(portfolio_id=portfolio_id, as_of=as_of).exclude(
        status=CycleRun.Status.DONE
    ).update(status=CycleRun.Status.FAILED, error=message[:ERROR_MAX], finished_at=timezone.now())
    return cycle_failed(portfolio_id, as_of, message).result()


def cycle_run_many(
    *,
    portfolio_ids: Sequence[int],
    as_of: date,
    force: bool = False,
    context: CycleContext | None = None,
) -> list[CycleRunResult]:
    """Run the cycle of each portfolio once; one failure is recorded and the rest go on.

    Several portfolios go through the chunk path (:mod:`rebalancer.autopilot.bulk`: one
    transaction, constant queries); if its bulk write fails, they are redone one by one.
    """
    if not portfolio_ids:
        return []
    context = context or cycle_context_build(as_of=as_of)
    ids = list(dict.fromkeys(int(p) for p in portfolio_ids))
    eligible = set(
        AutonomySettings.objects.filter(portfolio_id__in=ids).values_list("portfolio_id", flat=True)
    )
    results = [
        CycleRunResult(pid, as_of, status="not_eligible", error="no autonomy settings")
        for pid in ids
        if pid not in eligible
    ]
    ids = [pid for pid in ids if pid in eligible]
    # A ledger already past as_of (its last trade is later) must not trade at an older close.
    late = {pid: day for pid, day in ledger_last_dates(portfolio_ids=ids).items() if day > as_of}
    results += [
        CycleRunResult(pid, as_of, status="failed",
                       error=f"as-of {as_of.isoformat()} is earlier than the portfolio's last trade ({late[pid].isoformat()})")
        for pid in ids if pid in late
    ]
    ids = [pid for pid in ids if pid not in late]
    if not ids:
        return results
    _runs_ensure(ids, as_of)
    # Real-broker portfolios go one by one (their execution talks to the broker), after
    # the orders still open from an earlier decision are handled; the chunk path is paper's.
    broker_ids = set(Portfolio.objects.filter(pk__in=ids).exclude(broker="paper").values_list("pk", flat=True))
    undone = set(CycleRun.objects.filter(portfolio_id__in=broker_ids, as_of=as_of).exclude(
        status=CycleRun.Status.DONE).values_list("portfolio_id", flat=True)) if broker_ids else set()
    if undone:
        waiting = open_orders_resolve(portfolio_ids=sorted(undone))
        results += [_run_skip(pid, as_of, reason) for pid, reason in sorted(waiting.items())]
        ids = [pid for pid in ids if pid not in waiting]
    paper_ids = [pid for pid in ids if pid not in broker_ids]
    if len(paper_ids) > 1:
        try:
            results += cycle_chunk_run(
                portfolio_ids=paper_ids, context=context, force=force, fault_point=_fault_point
            )
            ids = [pid for pid in ids if pid in broker_ids]
        except Exception:  # a bulk write failed: redo the chunk one by one
            logger.exception("autopilot chunk of %s portfolios failed; retrying one by one", len(paper_ids))
    if not ids:
        return results
    inputs = selectors.cycle_inputs_load(portfolio_ids=ids, as_of=as_of, assets=context.assets, force=force)
    for pid in ids:
        try:
            results.append(_cycle_one(portfolio_id=pid, inputs=inputs.get(pid), context=context, force=force))
        except Exception as exc:  # noqa: BLE001 — one failing portfolio must not stop the others
            results.append(_record_failure(pid, as_of, exc))
    return results


def cycle_run(*, portfolio_id: int, as_of: date, force: bool = False) -> CycleRunResult:
    """Run (at most once) the cycle of ``portfolio_id`` on ``as_of``; see the module docstring."""
    if not Portfolio.objects.filter(pk=portfolio_id).exists():
        raise NotFound(f"portfolio {portfolio_id} does not exist", field="portfolio")
    return cycle_run_many(portfolio_ids=[portfolio_id], as_of=as_of, force=force)[0]


def eligible_portfolio_ids(*, portfolio_ids: Sequence[int] | None = None) -> list[int]:
    """Portfolios whose autonomy is on (enabled), in id order."""
    qs = AutonomySettings.objects.filter(enabled=True)
    if portfolio_ids is not None:
        qs = qs.filter(portfolio_id__in=list(portfolio_ids))
    return list(qs.order_by("portfolio_id").values_list("portfolio_id", flat=True))


def cycle_run_all(
    *,
    as_of: date | None = None,
    chunk_size: int = CHUNK_SIZE,
    enqueue: bool = False,
    portfolio_ids: Sequence[int] | None = None,
    progress: Any = None,
) -> CycleSummary:
    """Run (or, with ``enqueue``, fan out as Celery tasks) the cycle of every eligible portfolio.

    ``as_of`` defaults to the last date with prices. Inline, one context (market view,
    targets) serves every chunk; enqueued, each task builds its own.
    """
    as_of = as_of or latest_market_date()
    if as_of is None:
        raise ValidationFailed("there are no prices yet; pull market data first", field="as_of")
    if chunk_size < 1:
        raise ValidationFailed("chunk_size must be positive", field="chunk_size")
    ids = eligible_portfolio_ids(portfolio_ids=portfolio_ids)
    ledger_as_of_check(as_of=as_of, portfolio_ids=ids)
    # Splits and dividends due by as_of reach the ledgers before any decision is made on them.
    corporate_actions_apply(as_of=as_of)
    chunks = [ids[i : i + chunk_size] for i in range(0, len(ids), chunk_size)]
    summary = CycleSummary(as_of=as_of, chunks=len(chunks))
    if enqueue:
        from rebalancer.autopilot.tasks import cycle_run_chunk_task

        for chunk in chunks:
            transaction.on_commit(
                lambda chunk=chunk: cycle_run_chunk_task.delay(portfolio_ids=chunk, as_of=as_of.isoformat())
            )
        summary.enqueued = True
        summary.portfolios = len(ids)
        return summary
    context = cycle_context_build(as_of=as_of)
    for chunk in chunks:
        for result in cycle_run_many(portfolio_ids=chunk, as_of=as_of, context=context):
            summary.add(result)
            summary.results.append(result)
        if progress is not None:
            progress(len(chunk))
    return summary


def autonomy_pause_many(*, portfolio_ids: Sequence[int], reason: str) -> int:
    """Switch autonomy off for the portfolios (admin action); returns how many changed."""
    portfolios = list(Portfolio.objects.filter(pk__in=list(portfolio_ids)))
    return autonomy_pause(portfolios=portfolios, reason=reason)


def notification_mark_read(*, notification: Notification) -> Notification:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


__all__ = [
    "CHUNK_SIZE",
    "CycleContext",
    "CycleRunResult",
    "CycleSummary",
    "approval_kill_switch_check",
    "autonomy_pause_many",
    "cycle_context_build",
    "cycle_run",
    "cycle_run_all",
    "cycle_run_many",
    "eligible_portfolio_ids",
    "kill_switch_get",
    "kill_switch_set",
    "latest_market_date",
]
