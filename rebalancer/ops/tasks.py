"""Celery tasks of the console (thin callers of its services)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="ops.intraday_poll_task")
def intraday_poll_task() -> dict:
    """Quote every held asset now and re-evaluate the portfolios holding them."""
    from rebalancer.ops.services.intraday import intraday_poll

    result = intraday_poll()
    return {"portfolios": result.portfolios, "opened": len(result.opened), "seconds": round(result.seconds, 3)}


@shared_task(name="ops.alert_responses_dispatch_task")
def alert_responses_dispatch_task() -> int:
    """Respond to alerts that have no response yet (e.g. the nightly ones) and dispatch
    deferred cycle requests once their next close has landed."""
    from rebalancer.ops.services.responses import alert_responses_dispatch

    return len(alert_responses_dispatch())


@shared_task(name="ops.stuck_work_sweep_task")
def stuck_work_sweep_task() -> dict:
    """Re-enqueue or fail work stuck past its deadline."""
    from rebalancer.ops.services.sweeper import stuck_work_sweep

    report = stuck_work_sweep()
    return {"requeued": report.requeued, "failed": report.failed}
