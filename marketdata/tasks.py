"""Celery tasks of the market-data app (thin callers of services)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="marketdata.prices_pull_task", acks_late=True)
def prices_pull_task(provider: str | None = None, symbols: list[str] | None = None) -> int:
    """Pull new bars for ``symbols`` (default: active assets) from ``provider`` (default:
    settings MARKETDATA_PROVIDER) and return the DataPull's id. Safe to retry: the upsert is
    idempotent."""
    from marketdata.services import prices_pull

    return prices_pull(provider=provider, symbols=symbols).pk
