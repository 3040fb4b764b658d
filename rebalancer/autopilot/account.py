"""The investor's notifications in the account lifecycle (``users.account``): export, delete.

Notifications and push preferences are messages to a person, not the ledger: closing the
account deletes them (their push deliveries go with them).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from rebalancer.autopilot.models import Notification, NotificationPreference


def account_export(*, user: Any) -> dict[str, Any]:
    notifications = list(Notification.objects.filter(user=user).order_by("id").values(
        "id", "kind", "title", "body", "portfolio_id", "decision_id", "created_at", "read_at"))
    preferences = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "push"))
    return json.loads(json.dumps(
        {"notifications": notifications, "notification_preferences": preferences}, cls=DjangoJSONEncoder
    ))


def account_close(*, user: Any, liquidate: bool) -> list[dict[str, Any]]:  # noqa: ARG001 - users.account contract
    Notification.objects.filter(user=user).delete()
    NotificationPreference.objects.filter(user=user).delete()
    return []
