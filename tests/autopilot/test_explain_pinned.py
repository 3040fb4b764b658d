"""The structured explanation of cycle decisions pinned on real data (issue 22).

Written by ``decision_explanation`` before it was split into named steps: every decision of
the pinned replay with the tier's limits, the overlay, bands and tax-loss harvesting
(``tests/backtests/engine/test_replay_pinned.py``), plus the kill switch's halt and
defensive override on a drifted portfolio (no harvesting sale among them). Exact, floats to 1e-12 relative. Regenerate (only
on a deliberate behaviour change) with ``python tests/autopilot/test_explain_pinned.py``.
"""

from __future__ import annotations

import gzip
import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

PIN = Path(__file__).resolve().parent / "pins" / "explanations.json.gz"
CASE = "balanced_equal_weight_tax"


def _explanations() -> list[dict]:
    import rebalancer.backtests.engine.replay as replay_module
    from rebalancer.autopilot.engine import cycle_decide
    from rebalancer.autopilot.explain import decision_explanation
    from rebalancer.backtests.engine.replay import ReplaySpec, replay
    from tests.autopilot.test_engine import DRIFTED, config, holdings, market
    from tests.backtests.engine.test_replay_pinned import SYMBOLS, _autonomy, _prices

    decisions = []

    def recorded(**kwargs):
        decisions.append(cycle_decide(**kwargs))
        return decisions[-1]

    spec = ReplaySpec(initial_cash=Decimal("1000000"), autonomy=_autonomy(CASE),
                      asset_classes=dict.fromkeys(SYMBOLS, "equity"))
    original, replay_module.cycle_decide = replay_module.cycle_decide, recorded
    try:
        replay(_prices(), spec, start=date(2008, 1, 2))
    finally:
        replay_module.cycle_decide = original
    for switch in ("halt", "defensive"):
        decisions.append(cycle_decide(state=holdings(DRIFTED), market=market(), config=config(), kill_switch=switch))
    return json.loads(json.dumps([decision_explanation(d) for d in decisions]))


@pytest.fixture(autouse=True)
def _strategies():
    from rebalancer.autopilot.strategies import strategies_register

    strategies_register()


def test_every_explanation_reproduces_the_pin():
    from tests.backtests.test_outputs_pinned import assert_same

    # given
    expected = json.loads(gzip.decompress(PIN.read_bytes()))
    # when
    got = _explanations()
    # then
    assert_same(got, expected)
    # a pin that trades, moves the overlay and holds an override (a pin of nothing would pass anything)
    assert sum(1 for e in expected if e["trades"]) == 29 and sum(1 for e in expected if e["override"]) == 1
    assert sum(1 for e in expected if e["overlay"] and e["overlay"]["events"]) == 27


if __name__ == "__main__":  # regenerate the pin
    import os

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rebalancer.settings.test")
    import django

    django.setup()
    from rebalancer.autopilot.strategies import strategies_register

    strategies_register()
    PIN.parent.mkdir(exist_ok=True)
    explanations = _explanations()
    PIN.write_bytes(gzip.compress(json.dumps(explanations, separators=(",", ":")).encode(), mtime=0))
    print(len(explanations), "explanations,", PIN.stat().st_size, "bytes")
