"""Celery tasks of the infrastructure app."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="common.idempotency_keys_purge_task", acks_late=True)
def idempotency_keys_purge_task() -> int:
    """Delete Idempotency-Keys older than 24 hours; returns how many. Safe to rerun."""
    from common.idempotency import idempotency_keys_purge

    return idempotency_keys_purge()
