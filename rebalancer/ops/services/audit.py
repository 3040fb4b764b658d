"""The audit trail: every operator action goes through :func:`audited`.

``audited`` checks that an operator (an active staff user) acts and gives a reason, runs
the action, and writes one :class:`~rebalancer.ops.models.AuditRecord` with the state
before and after. An action the system refuses (an ``ApplicationError``: a stale
proposal, the promotion gate saying no) is recorded too, as ``refused`` with the
system's answer, and the error is raised on to the caller.

With ``atomic=True`` (the default) the action and its record commit together. An action
whose own service commits part of its work before refusing (``decision_approve`` marks
a stale proposal expired, then raises 409) runs with ``atomic=False``, so that part is
kept; its record is written right after.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from common.errors import ApplicationError, ValidationFailed
from rebalancer.ops.models import AuditRecord

REASON_MAX = 2000


class NotAnOperator(ApplicationError):
    """Only active staff users act from the console (HTTP 403)."""

    status_code = 403


def operator_check(user: Any) -> None:
    if not (getattr(user, "pk", None) and getattr(user, "is_active", False) and getattr(user, "is_staff", False)):
        raise NotAnOperator("only an active staff user (an operator) may do this", code="not_operator", field="user")


def reason_clean(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed("say why (the reason is recorded in the audit trail)", code="reason_required",
                               field="reason")
    if len(text) > REASON_MAX:
        raise ValidationFailed(f"the reason is at most {REASON_MAX} characters", code="reason_too_long",
                               field="reason")
    return text


def _jsonable(value: dict) -> dict:
    import json

    return json.loads(json.dumps(value or {}, cls=DjangoJSONEncoder))


def audited(
    *,
    user: Any,
    action: str,
    target_type: str,
    target_id: Any = "",
    target: str = "",
    reason: str,
    before: dict,
    perform: Callable[[], tuple[dict, Any]],
    atomic: bool = True,
) -> Any:
    """Run ``perform`` (returns ``(after, result)``) as ``user``'s audited action; returns ``result``."""
    operator_check(user)
    reason = reason_clean(reason)
    fields = {
        "actor": user, "actor_email": getattr(user, "email", "") or str(user), "action": action,
        "target_type": target_type, "target_id": str(target_id), "target": target[:200],
        "reason": reason, "before": _jsonable(before),
    }
    try:
        if atomic:
            with transaction.atomic():
                after, result = perform()
                AuditRecord.objects.create(**fields, after=_jsonable(after))
                return result
        after, result = perform()
    except ApplicationError as exc:
        AuditRecord.objects.create(
            **fields, after=fields["before"], outcome=AuditRecord.Outcome.REFUSED, detail=exc.message[:2000]
        )
        raise
    AuditRecord.objects.create(**fields, after=_jsonable(after))
    return result


def audit_trail_list(*, target_type: str | None = None, action: str | None = None):
    """The audit records, newest first (optionally of one kind of target or action)."""
    rows = AuditRecord.objects.select_related("actor")
    if target_type:
        rows = rows.filter(target_type=target_type)
    if action:
        rows = rows.filter(action=action)
    return rows.order_by("-at", "-id")
