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


@shared_task(name="risk.var_backtests_record_task", acks_late=True)
def var_backtests_record_task(as_of: str | None = None, portfolio_ids: list[int] | None = None) -> int:
    """Backtest the default VaR model on every portfolio with positions and store it.

    Idempotent: one backtest per (portfolio, last scored day), replaced on a rerun.
    """
    import datetime as dt

    from risk.var_backtest_services import var_backtests_record

    day = dt.date.fromisoformat(as_of) if as_of else None
    return var_backtests_record(as_of=day, portfolio_ids=portfolio_ids)
