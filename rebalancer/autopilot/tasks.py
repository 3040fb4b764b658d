"""Celery tasks of the autopilot: the daily fan-out and one task per chunk of portfolios.

Both are ``acks_late``: a worker that dies mid-chunk leaves the message unacknowledged,
another worker redelivers it, and the cycle runs' exactly-once protocol makes the
portfolios already done a no-op.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="autopilot.cycle_run_all_task", acks_late=True)
def cycle_run_all_task(as_of: str | None = None, chunk_size: int | None = None) -> dict:
    """Fan the cycle out: one ``cycle_run_chunk_task`` per chunk of eligible portfolios."""
    from datetime import date

    from rebalancer.autopilot.services import CHUNK_SIZE, cycle_run_all

    summary = cycle_run_all(
        as_of=date.fromisoformat(as_of) if as_of else None,
        chunk_size=chunk_size or CHUNK_SIZE,
        enqueue=True,
    )
    return {"as_of": summary.as_of.isoformat(), "portfolios": summary.portfolios, "chunks": summary.chunks}


@shared_task(name="autopilot.cycle_run_chunk_task", acks_late=True)
def cycle_run_chunk_task(portfolio_ids: list[int], as_of: str) -> dict:
    """Run the cycle of one chunk; failures are recorded per portfolio, never raised."""
    from datetime import date

    from rebalancer.autopilot.services import cycle_context_get, cycle_run_many

    day = date.fromisoformat(as_of)
    results = cycle_run_many(portfolio_ids=portfolio_ids, as_of=day, context=cycle_context_get(as_of=day))
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    return {"as_of": as_of, "counts": counts}


@shared_task(name="autopilot.cycle_run_task", acks_late=True)
def cycle_run_task(portfolio_id: int, as_of: str, force: bool = False) -> dict:
    """Run one portfolio's cycle (the admin's "run a cycle now" action)."""
    from datetime import date

    from rebalancer.autopilot.services import cycle_run

    result = cycle_run(portfolio_id=portfolio_id, as_of=date.fromisoformat(as_of), force=force)
    return {"portfolio_id": portfolio_id, "status": result.status, "action": result.action}


@shared_task(name="autopilot.push_outbox_process_task")
def push_outbox_process_task() -> dict:
    """Send the due push deliveries of the outbox (after each enqueue, and every minute)."""
    from rebalancer.autopilot.push import push_outbox_process

    return push_outbox_process().__dict__
