"""The investor's backtests in the account lifecycle (``users.account``): export, delete.

A backtest is a what-if, not a record of money: closing the account deletes them.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from rebalancer.backtests.models import Backtest


def account_export(*, user: Any) -> dict[str, Any]:
    rows = list(Backtest.objects.filter(owner=user).order_by("id").values(
        "id", "name", "status", "config", "created_at", "finished_at"))
    return {"backtests": json.loads(json.dumps(rows, cls=DjangoJSONEncoder))}


def account_close(*, user: Any, liquidate: bool) -> list[dict[str, Any]]:  # noqa: ARG001 - users.account contract
    Backtest.objects.filter(owner=user).delete()
    return []
