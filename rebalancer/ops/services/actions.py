"""Operator actions, each one audited (:func:`rebalancer.ops.services.audit.audited`).

Every action calls the owning app's own service — the kill switch's, the portfolios'
approve/reject (recorded as decided by the operator), the promotion gate's — so the
console adds an audit trail and never a second way of doing the thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction

from common.errors import NotFound, ValidationFailed
from mlagents.models import AgentModel
from portfolios.models import AutonomySettings, Decision
from rebalancer.autopilot.models import CycleRun, KillSwitch
from rebalancer.ops.models import AuditRecord
from rebalancer.ops.services.audit import audited

Action = AuditRecord.Action
RETRYABLE = (CycleRun.Status.FAILED, CycleRun.Status.PENDING)


# --- kill switch -----------------------------------------------------------------------


def _switch_state() -> dict:
    switch = KillSwitch.objects.filter(pk=1).first()
    if switch is None:
        return {"mode": KillSwitch.Mode.OFF.value, "reason": ""}
    return {"mode": switch.mode, "reason": switch.reason}


def kill_switch_flip(*, user: Any, mode: str, reason: str) -> KillSwitch:
    """Set the global kill switch (``off`` | ``halt`` | ``defensive``) with a reason."""
    from rebalancer.autopilot.services import kill_switch_set

    if mode not in KillSwitch.Mode.values:
        raise ValidationFailed(f"kill switch mode must be one of {', '.join(KillSwitch.Mode.values)}", field="mode")

    def perform():
        switch = kill_switch_set(mode=mode, reason=reason.strip(), user=user)
        return {"mode": switch.mode, "reason": switch.reason}, switch

    return audited(user=user, action=Action.KILL_SWITCH, target_type="kill_switch", target_id=1,
                   target="global kill switch", reason=reason, before=_switch_state(), perform=perform)


# --- autonomy ----------------------------------------------------------------------------


def _autonomy_rows(portfolio_ids: Sequence[int]) -> list[AutonomySettings]:
    ids = list(dict.fromkeys(int(p) for p in portfolio_ids))
    if not ids:
        raise ValidationFailed("select at least one portfolio", code="empty", field="portfolio_ids")
    rows = list(AutonomySettings.objects.filter(portfolio_id__in=ids).select_related("portfolio"))
    missing = sorted(set(ids) - {r.portfolio_id for r in rows})
    if missing:
        raise NotFound(f"no autonomy settings for portfolio(s) {', '.join(map(str, missing))}",
                       field="portfolio_ids", extra={"portfolio_ids": missing})
    return rows


def autonomy_set(*, user: Any, portfolio_ids: Sequence[int], enabled: bool, reason: str) -> int:
    """Pause (``enabled=False``) or resume the autonomy of portfolios; one audit record per
    portfolio. Returns how many changed (already in that state: recorded, unchanged)."""
    from portfolios.services import autonomy_update

    rows = _autonomy_rows(portfolio_ids)
    changed = 0
    action = Action.AUTONOMY_RESUME if enabled else Action.AUTONOMY_PAUSE
    with transaction.atomic():
        for row in rows:
            before = {"enabled": row.enabled, "paused_reason": row.paused_reason}
            paused_reason = "" if enabled else f"paused by {user.email}: {reason.strip()}"[:255]

            def perform(row=row, paused_reason=paused_reason):
                settings = autonomy_update(portfolio=row.portfolio,
                                           data={"enabled": enabled, "paused_reason": paused_reason})
                return {"enabled": settings.enabled, "paused_reason": settings.paused_reason}, settings

            audited(user=user, action=action, target_type="portfolio", target_id=row.portfolio_id,
                    target=str(row.portfolio), reason=reason, before=before, perform=perform)
            changed += before["enabled"] != enabled
    return changed


# --- cycles -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetrySummary:
    as_of: date
    portfolios: int
    chunks: int


def cycles_retry(*, user: Any, as_of: date, reason: str, statuses: Sequence[str] = RETRYABLE) -> RetrySummary:
    """Re-enqueue the cycles of ``as_of`` that failed or are still pending, in chunks.

    Safe to repeat: a cycle run executes at most once, so a chunk that a live worker is
    still running only finds its portfolios done.
    """
    from rebalancer.autopilot.services import CHUNK_SIZE
    from rebalancer.autopilot.tasks import cycle_run_chunk_task

    unknown = sorted(set(statuses) - set(RETRYABLE))
    if unknown or not statuses:
        raise ValidationFailed(f"retry failed or pending cycles only (not {', '.join(unknown) or 'nothing'})",
                               field="statuses")
    runs = CycleRun.objects.filter(as_of=as_of, status__in=list(statuses))
    before = {s: runs.filter(status=s).count() for s in statuses}
    ids = list(runs.order_by("portfolio_id").values_list("portfolio_id", flat=True))
    if not ids:
        raise NotFound(f"no {' or '.join(statuses)} cycles on {as_of}", code="nothing_to_retry", field="as_of")
    chunks = [ids[i : i + CHUNK_SIZE] for i in range(0, len(ids), CHUNK_SIZE)]

    def perform():
        for chunk in chunks:
            transaction.on_commit(
                lambda chunk=chunk: cycle_run_chunk_task.delay(portfolio_ids=chunk, as_of=as_of.isoformat())
            )
        return {"enqueued": len(ids), "chunks": len(chunks), "portfolio_ids": ids[:1000]}, None

    audited(user=user, action=Action.CYCLES_RETRY, target_type="cycles", target_id=as_of.isoformat(),
            target=f"{' and '.join(statuses)} cycles of {as_of}", reason=reason, before=before, perform=perform)
    return RetrySummary(as_of, len(ids), len(chunks))


def cycle_run_now(*, user: Any, portfolio_ids: Sequence[int], as_of: date, reason: str) -> list:
    """Run the selected portfolios' cycles now (forced review), inline; one audit record."""
    from rebalancer.autopilot.services import cycle_run_many

    ids = list(dict.fromkeys(int(p) for p in portfolio_ids))
    if not ids:
        raise ValidationFailed("select at least one portfolio", code="empty", field="portfolio_ids")
    before = dict(CycleRun.objects.filter(portfolio_id__in=ids, as_of=as_of).values_list("portfolio_id", "status"))

    def perform():
        results = cycle_run_many(portfolio_ids=ids, as_of=as_of, force=True)
        return {str(r.portfolio_id): {"status": r.status, "action": r.action, "trades": r.trades_count}
                for r in results}, results

    return audited(user=user, action=Action.CYCLE_RUN, target_type="portfolios",
                   target_id=ids[0] if len(ids) == 1 else "", target=f"{len(ids)} portfolio(s) on {as_of}",
                   reason=reason, before={str(k): v for k, v in before.items()}, perform=perform)


# --- proposals ----------------------------------------------------------------------------


def _decision_state(decision: Decision) -> dict:
    return {"status": decision.status, "status_reason": decision.status_reason,
            "decided_by": getattr(decision.decided_by, "email", None)}


def _proposal_get(decision_id: int) -> Decision:
    decision = Decision.objects.select_related("portfolio", "decided_by").filter(pk=decision_id).first()
    if decision is None:
        raise NotFound(f"proposal {decision_id} does not exist", field="proposal")
    return decision


def proposal_decide_for_investor(*, user: Any, decision_id: int, approve: bool, reason: str) -> Decision:
    """Approve (executes its trades once) or reject a proposal on the investor's behalf,
    recorded as decided by the operator. Stale or not pending → 409, recorded as refused."""
    from portfolios.services import decision_approve, decision_reject

    decision = _proposal_get(decision_id)
    before = _decision_state(decision)

    def perform():
        if approve:
            row = decision_approve(decision=decision.pk, user=user)
        else:
            row = decision_reject(decision=decision.pk, user=user,
                                  reason=f"rejected by operator {user.email} for the investor: {reason.strip()}")
        row.refresh_from_db()
        return _decision_state(row), row

    return audited(
        user=user, action=Action.PROPOSAL_APPROVE if approve else Action.PROPOSAL_REJECT,
        target_type="decision", target_id=decision.pk, target=f"{decision} ({decision.portfolio})",
        reason=reason, before=before, perform=perform, atomic=False,
    )


# --- agents -------------------------------------------------------------------------------


def _agent_state(agent: AgentModel | None) -> dict:
    if agent is None:
        return {}
    return {"id": agent.pk, "version": agent.version, "status": agent.status,
            "sharpe_ratio": agent.sharpe_ratio}


def agent_promote_for(*, user: Any, agent_id: int, reason: str):
    """Promote a candidate through the promotion gate (409 with the gate's reason if it says no)."""
    from mlagents.selectors import agent_active_get
    from mlagents.services import agent_promote

    agent = AgentModel.objects.filter(pk=agent_id).first()
    if agent is None:
        raise NotFound(f"agent {agent_id} does not exist", field="agent")
    before = {"candidate": _agent_state(agent), "active": _agent_state(agent_active_get(algorithm=agent.algorithm))}

    def perform():
        outcome = agent_promote(agent=agent.pk)
        return {"active": _agent_state(outcome.agent), "retired": _agent_state(outcome.retired),
                "gate": outcome.reason}, outcome

    # not atomic: the gate's refusal reason is stored on the candidate (its own transaction)
    return audited(user=user, action=Action.AGENT_PROMOTE, target_type="agent", target_id=agent.pk,
                   target=str(agent), reason=reason, before=before, perform=perform, atomic=False)


def agent_rollback_for(*, user: Any, algorithm: str, reason: str):
    """Reactivate the model the active one replaced, if the gate still passes it."""
    from mlagents.selectors import agent_active_get
    from mlagents.services import agent_rollback

    before = {"active": _agent_state(agent_active_get(algorithm=algorithm))}

    def perform():
        outcome = agent_rollback(algorithm=algorithm)
        return {"active": _agent_state(outcome.agent), "retired": _agent_state(outcome.retired),
                "gate": outcome.reason}, outcome

    return audited(user=user, action=Action.AGENT_ROLLBACK, target_type="agent", target_id=algorithm,
                   target=f"active {algorithm} model", reason=reason, before=before, perform=perform)

