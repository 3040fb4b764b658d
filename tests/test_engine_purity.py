"""Every engine imports no Django, Celery or DRF, checked in a fresh interpreter.

Engines are plain numpy/pandas/cvxpy/torch (docs/DESIGN: "no Django import") so that they run
alone in notebooks, benchmarks and workers. Reading the import statements is not enough:
a package's ``__init__`` (``rebalancer/__init__`` once imported the Celery app, whose Django
fix-up loads ``django.*``) or a transitive import pulls frameworks in too. So each engine, with
every module below it, is imported in a new ``python`` process and the loaded modules are
listed. One place lists the engines; a new engine gets one line here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FRAMEWORKS = ("django", "celery", "kombu", "rest_framework", "drf_spectacular")
# Django-bound modules of any app: an engine never reaches the database, the API or the queue.
APP_LAYER = ("models", "services", "selectors", "apis", "tasks", "admin", "serializers")

# (engine package, packages of higher or sibling layers it must not load either)
ENGINES = [
    ("portfolios.optimization", ()),
    ("portfolios.policy", ()),
    ("portfolios.trading", ("marketdata", "users", "risk", "mlagents", "rebalancer")),
    ("portfolios.tax", ("marketdata", "users", "risk", "mlagents", "rebalancer")),
    ("portfolios.brokers", ("marketdata", "users", "risk", "mlagents", "rebalancer")),
    ("portfolios.performance", ("marketdata", "users", "risk", "mlagents", "rebalancer")),
    ("risk.measures", ("mlagents", "rebalancer")),
    ("mlagents.rl", ("rebalancer",)),
    ("mlagents.regime.engine", ("rebalancer",)),
    ("rebalancer.autopilot.engine", ()),
    ("rebalancer.backtests.engine", ()),
    ("marketdata.providers", ("portfolios", "risk", "mlagents", "rebalancer")),
    ("marketdata.validation", ("portfolios", "risk", "mlagents", "rebalancer")),
]

PROBE = """
import importlib, json, pkgutil, sys
root = importlib.import_module(sys.argv[1])
imported = [root.__name__]
for info in pkgutil.walk_packages(getattr(root, "__path__", []), root.__name__ + "."):
    importlib.import_module(info.name)
    imported.append(info.name)
print(json.dumps({"imported": imported, "loaded": sorted(sys.modules)}))
"""


def loaded_modules(engine: str) -> tuple[list[str], list[str]]:
    """The engine's own modules, and every module loaded after importing all of them."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, engine], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["imported"], report["loaded"]


@pytest.mark.parametrize(("engine", "higher"), ENGINES, ids=[e for e, _ in ENGINES])
def test_engine_loads_no_framework_and_no_app_layer(engine, higher):
    # when
    imported, loaded = loaded_modules(engine)

    # then
    assert imported[0] == engine
    frameworks = [m for m in loaded if m.split(".")[0] in FRAMEWORKS]
    assert frameworks == []
    ours = ("common", "users", "marketdata", "portfolios", "risk", "mlagents", "rebalancer")
    app_layer = [
        m for m in loaded
        if m.split(".")[0] in ours and (m.split(".")[-1] in APP_LAYER or m.split(".")[0] in higher)
    ]
    assert app_layer == []


def test_the_probe_sees_a_framework_import():
    # given: a module known to load Django (so an empty list above means something)
    # when
    _, loaded = loaded_modules("rebalancer.celery")

    # then
    assert "celery" in loaded
    assert "django" in loaded
