"""The engine imports no Django (it must run in notebooks, benchmarks and workers alone)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_engine_import_pulls_in_no_django():
    code = (
        "import sys, portfolios.optimization, portfolios.optimization.frontier, portfolios.optimization.plotting;"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
