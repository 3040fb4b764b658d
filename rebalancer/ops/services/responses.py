"""The autopilot's response to a risk alert: once per breach episode.

An alert stays unresolved while its breach lasts (the risk app keeps one unresolved
alert per portfolio, rule and symbol), so one alert is one episode, and one
:class:`~rebalancer.ops.models.AlertResponse` per alert (a unique key) makes every
response happen once, whichever process sees the alert first.

| rule | response | what happens |
| --- | --- | --- |
| ``correlation_spike`` | notify | the investor is notified |
| ``concentration`` | propose | notified, and the portfolio's cycle is requested now (advise mode: a proposal) |
| ``var_breach``, ``drawdown`` | de-risk | notified, and the cycle is requested now: its own risk overlay decides what to trade |

There is no second de-risk logic here: a requested cycle is the autopilot's ordinary
cycle (``autopilot.cycle_run_task`` with ``force``), with its triggers, checks, overlay,
kill switch and exactly-once run. It runs on the latest close (the paper broker fills at
closes). When that close's cycle is already done — the usual case during the session,
last night's cycle ran — the request is *deferred* and dispatched once, as soon as the
next close lands (:func:`alert_responses_dispatch` runs from beat). A portfolio whose
autonomy is off only gets the notification.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.utils import timezone

from portfolios.models import AutonomySettings
from rebalancer.autopilot.models import CycleRun, Notification
from rebalancer.ops.models import AlertResponse
from risk.models import RiskAlert

logger = logging.getLogger(__name__)
Response = AlertResponse.Response

RESPONSES: dict[str, str] = {
    RiskAlert.Rule.CORRELATION_SPIKE: Response.NOTIFY,
    RiskAlert.Rule.CONCENTRATION: Response.PROPOSE,
    RiskAlert.Rule.VAR_BREACH: Response.DERISK,
    RiskAlert.Rule.DRAWDOWN: Response.DERISK,
}
"""The response to each alert rule (one place)."""


def _notify_investors(alerts: Sequence[RiskAlert]) -> list[Notification]:
    """The one call into the notification service (push arrives through it), one message per alert."""
    from rebalancer.autopilot.notifications import notifications_create

    return notifications_create(items=[
        {"user_id": a.portfolio.owner_id, "kind": Notification.Kind.RISK, "portfolio_id": a.portfolio_id,
         "title": f"Risk alert on {a.portfolio.name}: {a.get_rule_display()}", "body": a.message}
        for a in alerts
    ])


def _latest_as_of():
    from rebalancer.autopilot.services import latest_market_date

    return latest_market_date()


def _cycle_request(response: AlertResponse) -> None:
    """Request the portfolio's forced cycle on the latest close, or defer it to the next."""
    from rebalancer.autopilot.tasks import cycle_run_task

    as_of = _latest_as_of()
    done = as_of is None or CycleRun.objects.filter(
        portfolio_id=response.portfolio_id, as_of=as_of, status=CycleRun.Status.DONE
    ).exists()
    if done:
        response.status, response.deferred_after = AlertResponse.Status.DEFERRED, as_of
        return
    response.status, response.cycle_as_of, response.dispatched_at = (
        AlertResponse.Status.REQUESTED, as_of, timezone.now())
    pid = response.portfolio_id
    transaction.on_commit(lambda: cycle_run_task.delay(portfolio_id=pid, as_of=as_of.isoformat(), force=True))


def alert_response_take(*, alert: RiskAlert) -> AlertResponse | None:
    """Carry out the response to ``alert`` unless it was already (None then)."""
    kind = RESPONSES.get(alert.rule, Response.NOTIFY)
    try:
        with transaction.atomic():
            response = AlertResponse.objects.create(
                alert=alert, portfolio_id=alert.portfolio_id, response=kind, status=AlertResponse.Status.NOTIFIED
            )
            response.notification = _notify_investors([alert])[0]
            if kind != Response.NOTIFY:
                enabled = AutonomySettings.objects.filter(portfolio_id=alert.portfolio_id, enabled=True).exists()
                if enabled:
                    _cycle_request(response)
                else:
                    response.status = AlertResponse.Status.NOT_MANAGED
            response.save()
    except IntegrityError:  # another process responded to this episode first
        return None
    return response


def alert_responses_take(*, alerts: Sequence[RiskAlert]) -> list[AlertResponse]:
    """:func:`alert_response_take` for many alerts with a constant number of queries besides
    one notification each (a market-wide drop opens thousands at once); a portfolio with
    several new alerts gets one cycle request. If another process responded to one of
    them meanwhile, falls back to one by one."""
    from rebalancer.autopilot.tasks import cycle_run_task

    if not alerts:
        return []
    as_of = _latest_as_of()
    pids = {a.portfolio_id for a in alerts}
    enabled = set(AutonomySettings.objects.filter(portfolio_id__in=pids, enabled=True)
                  .values_list("portfolio_id", flat=True))
    done = set() if as_of is None else set(
        CycleRun.objects.filter(portfolio_id__in=pids, as_of=as_of, status=CycleRun.Status.DONE)
        .values_list("portfolio_id", flat=True))
    now, responses, requested = timezone.now(), [], []
    try:
        with transaction.atomic():
            for alert, notification in zip(alerts, _notify_investors(alerts), strict=True):
                kind = RESPONSES.get(alert.rule, Response.NOTIFY)
                response = AlertResponse(alert=alert, portfolio_id=alert.portfolio_id, response=kind,
                                         status=AlertResponse.Status.NOTIFIED, notification=notification)
                if kind != Response.NOTIFY:
                    if alert.portfolio_id not in enabled:
                        response.status = AlertResponse.Status.NOT_MANAGED
                    elif as_of is None or alert.portfolio_id in done:
                        response.status, response.deferred_after = AlertResponse.Status.DEFERRED, as_of
                    else:
                        response.status, response.cycle_as_of, response.dispatched_at = (
                            AlertResponse.Status.REQUESTED, as_of, now)
                        requested.append(alert.portfolio_id)
                responses.append(response)
            AlertResponse.objects.bulk_create(responses)
            for pid in dict.fromkeys(requested):
                transaction.on_commit(
                    lambda pid=pid: cycle_run_task.delay(portfolio_id=pid, as_of=as_of.isoformat(), force=True))
    except IntegrityError:  # another process responded to some of these first
        return [r for a in alerts if (r := alert_response_take(alert=a))]
    return responses


def alert_responses_dispatch(*, alert_ids: Sequence[int] | None = None) -> list[AlertResponse]:
    """Respond to every unresolved alert that has no response yet (``alert_ids``: only
    those), and dispatch deferred cycle requests whose next close has landed."""
    pending = RiskAlert.objects.exclude(status=RiskAlert.Status.RESOLVED).filter(response__isnull=True)
    if alert_ids is not None:
        pending = pending.filter(pk__in=list(alert_ids))
    taken = alert_responses_take(alerts=list(pending.select_related("portfolio").order_by("pk")))
    as_of = _latest_as_of()
    if as_of is None:
        return taken
    deferred = AlertResponse.objects.filter(
        status=AlertResponse.Status.DEFERRED, deferred_after__lt=as_of
    ).exclude(alert__status=RiskAlert.Status.RESOLVED)
    for response in deferred:
        with transaction.atomic():
            locked = AlertResponse.objects.select_for_update().filter(
                pk=response.pk, status=AlertResponse.Status.DEFERRED).first()
            if locked is None:
                continue
            _cycle_request(locked)
            locked.save(update_fields=["status", "cycle_as_of", "deferred_after", "dispatched_at"])
            taken.append(locked)
    return taken
