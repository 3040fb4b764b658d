"""The providers and the health rules are engines: importing them loads no Django."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pure_modules_import_without_django():
    # given
    code = (
        "import sys\n"
        "import marketdata.providers.base, marketdata.providers.synthetic, "
        "marketdata.providers.csvfile, marketdata.providers.yahoo, marketdata.validation\n"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))\n"
    )

    # when
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)

    # then
    assert out.stdout.strip() == "[]"
