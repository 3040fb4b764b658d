"""The deployment examples say the same as the code: the Procfile's processes are the
compose file's commands, every long-running service has a health check, workers run with
the flags the fault suite proves."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.integration.processes import WORKER_FLAGS

ROOT = Path(__file__).resolve().parents[2]


def _procfile() -> dict[str, str]:
    lines = [line for line in (ROOT / "Procfile").read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split(": ", 1) for line in lines)


def test_procfile_has_web_beat_and_a_worker_per_queue():
    from django.conf import settings

    processes = _procfile()
    queues = [q.name for q in settings.CELERY_TASK_QUEUES]
    assert {"web", "beat", *(f"worker-{q}" for q in queues)} <= set(processes)
    for queue in queues:
        command = processes[f"worker-{queue}"].split()
        assert command[command.index("-Q") + 1] == queue
        assert all(flag in command for flag in WORKER_FLAGS)
    assert "deploy/gunicorn.conf.py" in processes["web"]


def test_compose_runs_the_procfile_with_health_checks():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    for name, command in _procfile().items():
        if name == "release":
            assert "migrate" in services["migrate"]["command"]
            continue
        assert services[name]["command"] == command, name
    for name, service in services.items():
        if name != "migrate":
            assert "healthcheck" in service, name
    assert "noeviction" in services["redis"]["command"] and "--appendonly" in services["redis"]["command"]
