"""The backtest engine is plain Python: no Django, no models, services or selectors."""

from __future__ import annotations

import ast
from pathlib import Path

import rebalancer.backtests.engine as engine

FORBIDDEN = ("django", "rest_framework", "celery")


def test_engine_modules_import_no_django_and_no_database_code():
    offenders = []
    for path in sorted(Path(engine.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                root, leaf = name.split(".")[0], name.split(".")[-1]
                if root in FORBIDDEN or leaf in (
                    "models",
                    "services",
                    "selectors",
                    "apis",
                    "tasks",
                ):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
