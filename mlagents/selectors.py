"""Reads of the agent registry, and the loaded engine agents cached for fast inference."""

from __future__ import annotations

import threading

from mlagents.models import AgentModel, AgentStatus
from mlagents.rl.inference import Agent, load_agent

_CACHE: dict[tuple[int, str], Agent] = {}
_CACHE_LOCK = threading.Lock()


def agent_active_get(*, algorithm: str) -> AgentModel | None:
    """The model serving ``algorithm`` now, if any."""
    return AgentModel.objects.filter(algorithm=algorithm, status=AgentStatus.ACTIVE).first()


def agent_engine_get(*, agent: AgentModel) -> Agent:
    """The engine agent of ``agent``'s artifact, loaded once per process (inference is
    then a forward pass: no file read per decision)."""
    key = (agent.pk, agent.artifact.name)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    with agent.artifact.open("rb") as fh:
        engine = load_agent(fh)
    with _CACHE_LOCK:
        _CACHE[key] = engine
    return engine
