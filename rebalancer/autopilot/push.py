"""Push delivery of the investor's notifications through an outbox processed by Celery.

``push_enqueue`` is the one call that code creating notifications makes (the cycle's bulk
path and the per-portfolio service): in the same transaction it writes one
:class:`~rebalancer.autopilot.models.PushDelivery` per (notification, device) of the
owner whose preferences let that kind through, and after commit asks a worker to process
the outbox. ``push_outbox_process`` claims due deliveries (``next_attempt_at`` doubles as
a lease, so two workers never send the same one), sends each with ``common.push``, and
records the outcome: ``sent`` (never sent again), ``retry`` (again after
``PUSH_RETRY_BASE_SECONDS * 2**(attempts-1)``, given up after ``PUSH_MAX_ATTEMPTS``), a
dead token (the device is deleted: pruned) or a permanent failure. Beat runs it every
minute too, so a retry or a lost task still goes out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common.push import PushMessage, push_configured, push_send
from rebalancer.autopilot.models import Notification, NotificationPreference, PushDelivery
from users.devices import device_get, device_prune, devices_of_users
from users.models import Device

BATCH = 100
LEASE = timedelta(minutes=5)
"""A claimed delivery is left alone this long: a worker that died mid-send is retried after."""


def push_enqueue(*, notification_ids: Sequence[int]) -> int:
    """Queue a push of each notification to its owner's devices; returns how many deliveries."""
    if not notification_ids or not any(push_configured(p) for p in Device.Provider.values):
        return 0  # nothing to send with (the cycle pays no query for push then)
    notifications = list(Notification.objects.filter(pk__in=notification_ids).values_list("pk", "user_id", "kind"))
    users = {user_id for _, user_id, _ in notifications}
    devices: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for pk, user_id, provider in devices_of_users(user_ids=users):
        if push_configured(provider):
            devices[user_id].append((pk, provider))
    if not devices:
        return 0
    muted = set(NotificationPreference.objects.filter(user_id__in=devices, push=False).values_list("user_id", "kind"))
    now = timezone.now()
    rows = [
        PushDelivery(notification_id=pk, device_id=device_id, provider=provider, next_attempt_at=now)
        for pk, user_id, kind in notifications if (user_id, kind) not in muted
        for device_id, provider in devices.get(user_id, ())
    ]
    PushDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    if rows:
        from rebalancer.autopilot.tasks import push_outbox_process_task

        transaction.on_commit(push_outbox_process_task.delay)
    return len(rows)


@dataclass(frozen=True)
class OutboxRun:
    sent: int = 0
    retried: int = 0
    dead_tokens: int = 0
    failed: int = 0


def _claim(now: datetime, limit: int) -> list[PushDelivery]:
    with transaction.atomic():
        due = list(
            PushDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=PushDelivery.Status.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")[:limit]
        )
        for delivery in due:
            delivery.attempts += 1
            delivery.next_attempt_at = now + LEASE
        PushDelivery.objects.bulk_update(due, ["attempts", "next_attempt_at"])
    return due


def _message(notification: Notification) -> PushMessage:
    data = {"notification_id": str(notification.pk), "kind": notification.kind}
    if notification.portfolio_id:
        data["portfolio_id"] = str(notification.portfolio_id)
    if notification.decision_id:
        data["decision_id"] = str(notification.decision_id)
    return PushMessage(title=notification.title, body=notification.body, data=data)


def _record(delivery: PushDelivery, outcome: str, detail: str, now: datetime) -> str:
    if outcome == "sent":
        delivery.status, delivery.sent_at, delivery.last_error = PushDelivery.Status.SENT, now, ""
    elif outcome == "dead_token":
        delivery.status, delivery.last_error = PushDelivery.Status.DEAD_TOKEN, detail
        device_prune(device_id=delivery.device_id)  # pruned: SET_NULL keeps this record
    elif outcome == "retry" and delivery.attempts < settings.PUSH_MAX_ATTEMPTS:
        delay = settings.PUSH_RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1)
        delivery.next_attempt_at, delivery.last_error = now + timedelta(seconds=delay), detail
    else:
        delivery.status, delivery.last_error = PushDelivery.Status.FAILED, detail
        outcome = "failed"
    delivery.save(update_fields=["status", "sent_at", "last_error", "next_attempt_at"])
    return outcome


def push_outbox_process(*, now: datetime | None = None, limit: int = BATCH) -> OutboxRun:
    """Send every due delivery (in batches of ``limit``); returns what became of them."""
    counts = {"sent": 0, "retry": 0, "dead_token": 0, "failed": 0}
    while True:
        started = now or timezone.now()
        claimed = _claim(started, limit)
        for delivery in claimed:
            device = device_get(device_id=delivery.device_id)
            if device is None:  # pruned or unregistered since it was queued
                counts[_record(delivery, "failed", "the device is gone", started)] += 1
                continue
            result = push_send(provider=device.provider, token=device.token, message=_message(delivery.notification))
            counts[_record(delivery, result.outcome, result.detail, timezone.now())] += 1
        if len(claimed) < limit:
            break
    return OutboxRun(sent=counts["sent"], retried=counts["retry"], dead_tokens=counts["dead_token"],
                     failed=counts["failed"])
