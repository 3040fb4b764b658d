"""The regime engine imports no Django (it is reused by pure code and benchmarks)."""

import subprocess
import sys


def test_engine_imports_no_django():
    code = (
        "import sys; import mlagents.regime.engine.features, mlagents.regime.engine.hmm, "
        "mlagents.regime.engine.truth, mlagents.regime.engine.policy, mlagents.regime.engine.hybrid; "
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
