"""Celery tasks of the regime app: thin callers of the services."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="regime.regime_detect_task")
def regime_detect_task(as_of: str | None = None) -> dict[str, int]:
    """Record the new days' regime of every active reference market."""
    import datetime as dt

    from mlagents.regime.services import regime_detect_all

    return regime_detect_all(as_of=dt.date.fromisoformat(as_of) if as_of else None)


@shared_task(name="regime.regime_models_retrain_task")
def regime_models_retrain_task(as_of: str | None = None) -> dict[str, int]:
    """Refit every active reference market's detector on its training window."""
    import datetime as dt

    from mlagents.regime.services import regime_models_retrain

    return regime_models_retrain(as_of=dt.date.fromisoformat(as_of) if as_of else None)
