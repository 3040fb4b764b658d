"""Celery tasks of the agents app (thin callers of services)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="mlagents.agents_retrain_task", acks_late=True)
def agents_retrain_task(
    algorithms: list[str] | None = None, years: int = 6, holdout_days: int = 504, seed: int = 0,
    episodes: int | None = None,
) -> list[int]:
    """Retrain every algorithm on the recent window; return the new models' ids.
    Each new model is activated only if it passes the promotion gate."""
    from mlagents.services import agents_retrain

    models = agents_retrain(
        algorithms=algorithms, years=years, holdout_days=holdout_days, seed=seed,
        episodes=episodes,
    )
    return [m.pk for m in models]


@shared_task(name="mlagents.agent_execution_fit_task", acks_late=True)
def agent_execution_fit_task(epochs: int = 200) -> dict | None:
    """Refit the active primal-dual agent's critic-y on every advise-mode approval and
    rejection so far (idempotent: the same decisions give the same fit). ``None`` when no
    primal-dual agent is active."""
    from mlagents.selectors import agent_active_get
    from mlagents.services import agent_execution_fit

    agent = agent_active_get(algorithm="primal_dual")
    if agent is None:
        return None
    fit = agent_execution_fit(agent=agent, epochs=epochs)
    return {"agent": agent.pk, "decisions": fit.decisions, "executed": fit.executed, "loss": fit.loss}
