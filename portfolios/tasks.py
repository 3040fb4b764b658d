"""Celery tasks of the portfolios app: thin callers of the services."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="portfolios.snapshots_take_task", acks_late=True)
def snapshots_take_task(as_of: str | None = None) -> int:
    """Snapshot every portfolio at the latest close (or ``as_of``, ISO date); returns how many.

    Idempotent: a day's snapshot is replaced, so a retry or a second beat does no harm.
    """
    from datetime import date

    from django.db.models import Max

    from marketdata.models import PriceBar
    from portfolios.services import snapshots_take

    day = date.fromisoformat(as_of) if as_of else PriceBar.objects.aggregate(last=Max("date"))["last"]
    if day is None:
        return 0
    return len(snapshots_take(as_of=day))


@shared_task(name="portfolios.corporate_actions_apply_task", acks_late=True)
def corporate_actions_apply_task(as_of: str | None = None) -> int:
    """Apply due splits and dividends to every holder's ledger and pay accrued dividends
    (``as_of`` ISO date; default today); returns how many applications it recorded.

    Safe to retry and to run twice: each (portfolio, action) is applied once.
    """
    from datetime import date

    from portfolios.services.corporate_actions import corporate_actions_apply

    return corporate_actions_apply(as_of=date.fromisoformat(as_of) if as_of else None).total
