"""The Celery app is found by ``celery -A rebalancer`` and bound in every Django process,
although ``rebalancer/__init__`` does not import it (so that the engines stay pure)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "rebalancer.settings.test"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_celery_dash_a_rebalancer_finds_the_project_app():
    # given: a fresh interpreter, as the `celery -A rebalancer worker` command line starts
    code = (
        "import json, sys; from celery.app.utils import find_app; app = find_app('rebalancer');"
        "import rebalancer.celery;"
        "print(json.dumps({'main': app.main, 'same': app is rebalancer.celery.app}))"
    )
    # when
    found = run_python(code)
    # then
    assert found == {"main": "rebalancer", "same": True}


def test_a_django_process_binds_shared_tasks_to_the_project_app():
    # given: a Django process that never imports rebalancer.celery itself (web, a command)
    code = (
        "import json, django; django.setup();"
        "from celery import current_app; from rebalancer.autopilot.tasks import cycle_run_task;"
        "import rebalancer;"
        "print(json.dumps({'current': current_app.main, 'task': cycle_run_task.app.main,"
        " 'alias': rebalancer.celery_app is current_app._get_current_object(),"
        " 'eager': current_app.conf.task_always_eager}))"
    )
    # when
    bound = run_python(code)
    # then: the test settings' CELERY_TASK_ALWAYS_EAGER reached the app the tasks use
    assert bound == {"current": "rebalancer", "task": "rebalancer", "alias": True, "eager": True}
