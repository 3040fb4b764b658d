"""Celery tasks of the agents app (thin callers of services)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="mlagents.agents_retrain_task", acks_late=True)
def agents_retrain_task(
    algorithms: list[str] | None = None, years: int = 6, holdout_days: int = 252, seed: int = 0,
    episodes: int | None = None,
) -> list[int]:
    """Retrain every algorithm on the recent window; return the new models' ids.
    Each new model is activated only if it passes the promotion gate."""
    from mlagents.services import ALGORITHMS, agents_retrain

    models = agents_retrain(
        algorithms=algorithms or ALGORITHMS, years=years, holdout_days=holdout_days, seed=seed,
        episodes=episodes,
    )
    return [m.pk for m in models]
