"""Shared set-up of the market-data benchmarks: a throwaway PostgreSQL cluster (the
integration tests' helper, ``tests/integration/pg.py``) with Django pointed at it."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pg_helper():
    spec = importlib.util.spec_from_file_location("_integration_pg", ROOT / "tests" / "integration" / "pg.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def django_on(database_url: str | None):
    """Configure Django for a benchmark (SQLite file when ``database_url`` is None)."""
    sys.path.insert(0, str(ROOT))
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rebalancer.settings.dev")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def postgres_start():
    """Start a throwaway cluster; returns it (call ``.stop()``)."""
    return _pg_helper().postgres_start()
