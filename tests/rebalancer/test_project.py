"""Project-wide promises: schema validity, layering, schedules, production settings."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
ENGINES = ["portfolios/optimization", "risk/measures", "mlagents/rl", "users/risk_profile.py"]


def test_openapi_schema_validates_without_warnings(tmp_path):
    # spectacular raises on any warning or validation error with these flags
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    text = (tmp_path / "schema.yml").read_text()
    assert "/api/v1/auth/register" in text
    assert "ErrorResponse" in text


@pytest.mark.django_db
def test_swagger_ui_is_served_from_the_sidecar_not_a_cdn(client):
    response = client.get("/api/v1/docs/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "swagger-ui" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_never_import_django_or_app_code(engine):
    forbidden = ("django", "rest_framework", "celery")
    paths = [ROOT / engine] if engine.endswith(".py") else sorted((ROOT / engine).rglob("*.py"))
    if not paths or not paths[0].exists():
        pytest.skip(f"{engine} not present")
    offenders = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in forbidden or n.endswith((".models", ".services", ".selectors"))]
    assert offenders == []


@pytest.mark.django_db
def test_a_fresh_database_has_the_default_beat_schedule():
    from django_celery_beat.models import PeriodicTask

    from common.beat import default_schedule

    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert "users: flush expired refresh tokens" in names
    assert set(default_schedule()) <= names


@pytest.mark.django_db
def test_schedule_sync_is_idempotent_and_keeps_operator_choices():
    from django_celery_beat.models import PeriodicTask

    from common.beat import schedules_sync

    PeriodicTask.objects.filter(name="users: flush expired refresh tokens").update(enabled=False)
    before = PeriodicTask.objects.count()
    schedules_sync()
    schedules_sync()
    assert PeriodicTask.objects.count() == before
    assert PeriodicTask.objects.get(name="users: flush expired refresh tokens").enabled is False


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "CELERY_"))}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", env={"DJANGO_ENV": "production", "DJANGO_ALLOWED_HOSTS": "example.com"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_passes_check_deploy_without_warnings(tmp_path):
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env={
        "DJANGO_ENV": "production",
        "DJANGO_SECRET_KEY": "k" * 20 + "Zq8#vX2!mN4$pL6&rT9*wY1@bC3%dF5^",
        "DJANGO_ALLOWED_HOSTS": "example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "BROKER_CREDENTIALS_KEYS": "8Wx6xqO9sLJ0j8m1S7vCqf3yD7WbJxvL3a1Qm0pZ2kA=",
    })
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_no_missing_migrations():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
