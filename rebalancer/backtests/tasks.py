"""Celery tasks of the backtests app (thin: take an id, call the service)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="backtests.backtest_run_task", acks_late=True)
def backtest_run_task(*, backtest_id: int) -> str | None:
    from rebalancer.backtests.services import backtest_run

    backtest = backtest_run(backtest_id=backtest_id)
    return None if backtest is None else backtest.status
