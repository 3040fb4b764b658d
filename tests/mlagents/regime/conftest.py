import sys
from pathlib import Path

# simulate.py (the tests' own regime-switching market) sits beside the tests
sys.path.insert(0, str(Path(__file__).parent))
