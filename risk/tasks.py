"""Celery tasks of the risk app (thin callers of services)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="risk.risk_snapshots_take_task", acks_late=True)
def risk_snapshots_take_task(as_of: str | None = None, portfolio_ids: list[int] | None = None) -> int:
    """Store today's RiskSnapshot of every portfolio with positions and sync its alerts.

    Idempotent: one snapshot per (portfolio, price date), updated on a rerun.
    """
    import datetime as dt

    from risk.services import risk_snapshots_take

    day = dt.date.fromisoformat(as_of) if as_of else None
    return risk_snapshots_take(as_of=day, portfolio_ids=portfolio_ids)
