"""The cycle's outcome rules (``rebalancer.autopilot.records``), without a database.

The builder is what both writers (the per-portfolio ORM path and the chunk's COPY path)
write; these tests pin each outcome's records. The writers' rows are checked against each
other in ``tests/integration/test_autopilot_copy.py``. No test here asks for ``db``:
pytest-django refuses any query, so a builder that touched the database would fail them.
"""

from __future__ import annotations

import ast
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from portfolios.trading import ProposedTrade
from rebalancer.autopilot.records import (
    SUPERSEDED_REASON,
    CycleOutcome,
    RunUpdate,
    cycle_failed,
    cycle_outcome,
    decision_executes,
    run_closed_result,
)
from rebalancer.autopilot.types import (
    CycleDecision,
    CycleRunResult,
    PolicyState,
    TradeIntent,
    Trigger,
)

AS_OF = date(2024, 5, 15)
PORTFOLIO = SimpleNamespace(pk=7, owner_id=3, name="Retirement", base_currency="USD", ledger_version=12)
OPEN_RUN = SimpleNamespace(status="pending", action="", decision_id=None, trades_count=0, reason="", policy_state=None)
DRIFT = Trigger(kind="drift", message="AAA drifted 6.0% from its target", value=0.06, threshold=0.05, symbol="AAA")


def _trade(symbol: str, side: str, quantity: str, price: str) -> TradeIntent:
    order = ProposedTrade(symbol=symbol, side=side, quantity=Decimal(quantity), est_price=Decimal(price),
                          est_cost=Decimal("1.50"), reason="rebalance", price=Decimal(price))
    q, p = float(quantity), float(price)
    return TradeIntent(symbol=symbol, side=side, quantity=q, price=p, value=q * p, est_cost=1.5,
                       reason="rebalance", order=order)


def _decision(action: str = "rebalance", *, trades=(), triggers=(DRIFT,), confidence: float = 0.8,
              skipped_reason: str | None = None, summary: str = "We rebalanced.") -> CycleDecision:
    return CycleDecision(
        as_of=AS_OF, action=action, triggers=tuple(triggers), strategy="equal_weight", strategy_result=None,
        target_weights={"AAA": 0.5, "BBB": 0.5}, checks=(), override=None, trades=tuple(trades), before=None,
        after=None, confidence=confidence, summary=summary, skipped_reason=skipped_reason,
        current_weights={"AAA": 0.56, "BBB": 0.44},
        policy_state=PolicyState(targets={"AAA": 0.5, "BBB": 0.5}, reviewed_on=AS_OF, key="k",
                                 strategy="equal_weight", confidence=0.8),
    )


TRADES = (_trade("AAA", "sell", "6", "100.00"), _trade("BBB", "buy", "7", "80.00"))


def test_an_autopilot_rebalance_is_executed_notified_and_counts_its_trades():
    # given
    decision = _decision(trades=TRADES, confidence=1.7)
    # when
    outcome = cycle_outcome(portfolio_id=7, as_of=AS_OF, decision=decision, mode="autopilot",
                            portfolio=PORTFOLIO, run=OPEN_RUN)
    # then
    row = outcome.decision
    assert row is not None
    assert (row.status, row.created_status, row.executes) == ("executed", "proposed", True)
    assert (row.portfolio_id, row.as_of, row.mode, row.strategy, row.ledger_version) == (
        7, AS_OF, "autopilot", "equal_weight", 12)
    assert row.confidence == 1.0  # clamped
    assert row.status_reason == ""  # trades: no reason
    assert [t["symbol"] for t in row.trades] == ["AAA", "BBB"] and row.trades[0]["quantity"] == "6"
    assert row.prices == {"AAA": "100.00", "BBB": "80.00"}
    assert row.triggers == [{"kind": "drift", "message": DRIFT.message, "value": 0.06, "threshold": 0.05,
                             "symbol": "AAA"}]
    assert row.explanation["action"] == "rebalance"
    assert outcome.supersedes_proposals is False
    assert outcome.run == RunUpdate(
        status="done", action="rebalance", reason="We rebalanced.", trades_count=2, error="",
        policy_state=outcome.run.policy_state, takes_new_decision=True,
    )
    assert outcome.run.policy_state["targets"] == {"AAA": 0.5, "BBB": 0.5}
    note = outcome.notification
    assert (note.user_id, note.portfolio_id, note.kind) == (3, 7, "rebalanced")
    assert note.title == "Retirement was rebalanced"
    assert outcome.result(41) == CycleRunResult(7, AS_OF, status="done", action="rebalance", decision_id=41,
                                                trades_count=2, summary="We rebalanced.")


def test_an_advise_rebalance_is_proposed_supersedes_older_proposals_and_counts_no_trades():
    # when
    outcome = cycle_outcome(portfolio_id=7, as_of=AS_OF, decision=_decision(trades=TRADES, confidence=-0.2),
                            mode="advise", portfolio=PORTFOLIO, run=OPEN_RUN)
    # then
    assert (outcome.decision.status, outcome.decision.created_status, outcome.decision.executes) == (
        "proposed", "proposed", False)
    assert outcome.decision.confidence == 0.0
    assert len(outcome.decision.trades) == 2
    assert outcome.supersedes_proposals is True
    assert SUPERSEDED_REASON == "superseded by a newer proposal"
    assert (outcome.run.action, outcome.run.trades_count) == ("proposed", 0)
    assert outcome.notification.kind == "proposal"
    assert outcome.notification.title == "A rebalance of Retirement awaits your approval"
    assert outcome.result(5) == CycleRunResult(7, AS_OF, status="done", action="proposed", decision_id=5,
                                               trades_count=0, summary="We rebalanced.")


@pytest.mark.parametrize("mode", ["autopilot", "advise"])
def test_a_skip_writes_a_skipped_row_with_its_reason_and_no_notification(mode):
    # given
    decision = _decision("skipped", triggers=(), skipped_reason="prices are stale", summary="Skipped: stale.")
    # when
    outcome = cycle_outcome(portfolio_id=7, as_of=AS_OF, decision=decision, mode=mode, portfolio=PORTFOLIO,
                            run=OPEN_RUN)
    # then
    assert (outcome.decision.status, outcome.decision.created_status) == ("skipped", "skipped")
    assert outcome.decision.status_reason == "prices are stale"
    assert outcome.supersedes_proposals is False and outcome.notification is None
    assert (outcome.run.status, outcome.run.action, outcome.run.trades_count) == ("done", "skipped", 0)
    assert outcome.result(9).decision_id == 9


def test_a_trigger_without_a_trade_is_a_skipped_row_whose_reason_is_the_summary():
    # when
    outcome = cycle_outcome(portfolio_id=7, as_of=AS_OF, decision=_decision("hold", summary="Drift is small."),
                            mode="autopilot", portfolio=PORTFOLIO, run=OPEN_RUN)
    # then
    assert (outcome.decision.status, outcome.decision.status_reason) == ("skipped", "Drift is small.")
    assert outcome.notification is None and outcome.run.action == "hold"


def test_a_quiet_hold_writes_no_decision_row_and_closes_the_run():
    # when
    outcome = cycle_outcome(portfolio_id=7, as_of=AS_OF, decision=_decision("hold", triggers=(), summary="Quiet."),
                            mode="autopilot", portfolio=PORTFOLIO, run=OPEN_RUN)
    # then
    assert outcome.decision is None and outcome.notification is None and outcome.supersedes_proposals is False
    assert (outcome.run.status, outcome.run.action, outcome.run.reason) == ("done", "hold", "Quiet.")
    assert outcome.result(None) == CycleRunResult(7, AS_OF, status="done", action="hold", decision_id=None,
                                                  trades_count=0, summary="Quiet.")


def test_a_failure_writes_nothing_but_the_failed_run_which_keeps_its_earlier_facts():
    # given a run that an earlier attempt left with facts
    run = SimpleNamespace(status="failed", action="hold", decision_id=4, trades_count=1, reason="earlier",
                          policy_state=None)
    # when the decision is there but its execution failed
    outcome = cycle_outcome(portfolio_id=7, as_of=AS_OF, decision=_decision(trades=TRADES), mode="autopilot",
                            portfolio=PORTFOLIO, run=run, error="BrokerError: " + "x" * 3000)
    # then
    assert outcome.decision is None and outcome.notification is None and outcome.supersedes_proposals is False
    assert outcome.run == RunUpdate(status="failed", action="hold", reason="earlier", trades_count=1,
                                    error=("BrokerError: " + "x" * 3000)[:2000], policy_state={}, decision_id=4)
    assert outcome.run.decision_id_with(99) == 4
    assert outcome.result(99) == CycleRunResult(7, AS_OF, status="failed", error="BrokerError: " + "x" * 3000)
    assert cycle_failed(7, AS_OF, "boom") == CycleOutcome(7, AS_OF, status="failed", error="boom")


def test_no_decision_and_no_error_is_not_eligible_and_writes_nothing():
    # when
    outcome = cycle_outcome(portfolio_id=7, as_of=AS_OF, decision=None, run=OPEN_RUN)
    # then
    assert outcome == CycleOutcome(7, AS_OF, status="not_eligible", error="no autonomy settings")
    assert outcome.result(3) == CycleRunResult(7, AS_OF, status="not_eligible", error="no autonomy settings")


def test_a_done_run_returns_what_it_did_and_a_missing_run_is_not_eligible():
    # given
    done = SimpleNamespace(status="done", action="proposed", decision_id=8, trades_count=0, reason="Proposed.",
                           policy_state={})
    # then
    assert run_closed_result(7, AS_OF, done) == CycleRunResult(
        7, AS_OF, status="already_done", action="proposed", decision_id=8, trades_count=0, summary="Proposed.")
    assert run_closed_result(7, AS_OF, None) == CycleRunResult(7, AS_OF, status="not_eligible",
                                                                error="no cycle run row")
    assert run_closed_result(7, AS_OF, OPEN_RUN) is None


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("module", ["bulk", "records", "types"])
def test_the_chunk_path_and_the_builder_do_not_import_the_services(module):
    # given the modules below the ORM writer
    path = Path(__file__).resolve().parents[2] / "rebalancer" / "autopilot" / f"{module}.py"
    # then none imports it (no import cycle: services imports bulk and records)
    assert "rebalancer.autopilot.services" not in _imported_modules(path)
    assert {"rebalancer.autopilot.bulk", "rebalancer.autopilot.records"} <= _imported_modules(
        path.with_name("services.py"))  # the scan sees the imports that are there


@pytest.mark.parametrize(("action", "mode", "executes"), [
    ("rebalance", "autopilot", True), ("rebalance", "advise", False), ("hold", "autopilot", False),
    ("skipped", "autopilot", False),
])
def test_only_an_autopilot_rebalance_executes(action, mode, executes):
    # given
    decision = _decision(action, trades=TRADES if action == "rebalance" else ())
    # then the chunk's choice of ledgers to apply agrees with the record's status
    assert decision_executes(decision, mode) is executes
    record = cycle_outcome(portfolio_id=7, as_of=AS_OF, decision=decision, mode=mode, portfolio=PORTFOLIO).decision
    assert record.executes is executes


def test_the_cost_gates_numbers_are_plain_json_whatever_numpy_computed_them():
    # given the gate's arithmetic returned numpy scalars (as bands.cost_gate does)
    import json
    from dataclasses import asdict

    import numpy as np

    from rebalancer.autopilot.types import CostGate

    gate = CostGate(np.bool_(False), np.float64(12.5), np.float64(3.25), np.float64(0.0))
    # then the record the decision stores serializes as JSON (COPY and the ORM both json.dumps it)
    assert json.loads(json.dumps(asdict(gate))) == {"passed": False, "benefit": 12.5, "trading_cost": 3.25,
                                                    "tax_cost": 0.0}
    assert type(gate.passed) is bool and type(gate.benefit) is float
