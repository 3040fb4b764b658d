"""Trade generation, tax logic, brokers and TWR import no Django (the backtester reuses them)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_engines_import_no_django_and_no_app_code():
    code = (
        "import sys, portfolios.trading, portfolios.trading.plan, portfolios.tax, portfolios.brokers, "
        "portfolios.performance;"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith(('django.', 'rest_framework', "
        "'marketdata', 'users', 'risk', 'mlagents', 'rebalancer', 'portfolios.models', 'portfolios.services')));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
