"""The cycle's outcome rules, once: what one portfolio's cycle writes, as plain records.

Both writers of the cycle — the per-portfolio ORM path
(:func:`rebalancer.autopilot.services.cycle_run_many` → ``_cycle_one``) and the chunk
path (:mod:`rebalancer.autopilot.bulk`, rows written with ``COPY``) — turn a
:class:`~rebalancer.autopilot.types.CycleDecision` into rows through
:func:`cycle_outcome` and :func:`run_closed_result`, and only *write* what they get.
The rules live here and nowhere else:

* a quiet day (``hold`` without any trigger) writes no decision row;
* the decision's status: ``executed`` for a rebalance in autopilot mode, ``proposed``
  in advise mode, ``skipped`` for anything else (a skip, a trigger without a trade);
* a new proposal supersedes the older ones still pending (``superseded_reason``);
* the confidence is clamped to [0, 1]; the status reason is the skip's reason, or the
  summary when there are no trades;
* the cycle run's action is ``proposed`` for an advise-mode rebalance, else the
  decision's action; its trade count is the trades' when it rebalances, else 0;
* a rebalance (executed or proposed) is notified, nothing else;
* a run already done returns what it did; no run row or no autonomy settings is
  ``not_eligible``; an error is ``failed`` and keeps the run's earlier facts.

No database access: the builder reads attributes of the objects it is given (a
``CycleRun``-like row, a ``Portfolio``-like row) and returns frozen dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from portfolios.models import Decision
from portfolios.trading import ProposedTrade
from rebalancer.autopilot.explain import decision_explanation
from rebalancer.autopilot.models import CycleRun
from rebalancer.autopilot.notifications import decision_notification_texts
from rebalancer.autopilot.types import CycleDecision, CycleRunResult, policy_state_to_dict

SUPERSEDED_REASON = "superseded by a newer proposal"
"""Status reason of an older pending proposal that a newer one replaces."""
ERROR_MAX = 2000
"""Characters of an error kept on the cycle run row."""


class RunFacts(Protocol):
    """What the builder reads of a day's ``CycleRun`` row (the model instance will do)."""

    status: str
    action: str
    decision_id: int | None
    trades_count: int
    reason: str
    policy_state: Any


class PortfolioFacts(Protocol):
    """What the builder reads of the portfolio (the ``Portfolio`` model instance will do)."""

    pk: Any
    owner_id: int
    name: str
    base_currency: str
    ledger_version: int


@dataclass(frozen=True)
class DecisionRecord:
    """The ``portfolios.Decision`` row of a cycle (its final status: see :attr:`created_status`)."""

    portfolio_id: int
    as_of: date
    mode: str
    status: str
    strategy: str
    triggers: list
    target_weights: dict
    current_weights: dict
    before: dict
    after: dict
    checks: list
    orders: tuple[ProposedTrade, ...]
    explanation: dict
    summary: str
    confidence: float
    status_reason: str
    ledger_version: int

    @property
    def executes(self) -> bool:
        """Its trades are to be executed now (a rebalance in autopilot mode)."""
        return self.status == Decision.Status.EXECUTED

    @property
    def created_status(self) -> str:
        """The status to create the row with when the execution service moves it afterwards
        (the ORM path: proposed, then executed or submitted by the execution)."""
        return Decision.Status.PROPOSED.value if self.executes else self.status

    @property
    def trades(self) -> list[dict[str, Any]]:
        return [o.to_dict() for o in self.orders]

    @property
    def prices(self) -> dict[str, str]:
        return {o.symbol: str(o.price) for o in self.orders}


@dataclass(frozen=True)
class NotificationRecord:
    """The investor's notification about the decision (its ``decision_id`` is the new row's)."""

    user_id: int
    portfolio_id: int
    kind: str
    title: str
    body: str


@dataclass(frozen=True)
class RunUpdate:
    """The day's ``CycleRun`` row after the cycle (``finished_at`` is the writer's clock).

    ``decision_id`` is the run's own (kept on failure) unless ``takes_new_decision``: then
    it is the id of the decision row written now (None when none is)."""

    status: str
    action: str
    reason: str
    trades_count: int
    error: str
    policy_state: dict
    decision_id: int | None = None
    takes_new_decision: bool = False

    def decision_id_with(self, new_decision_id: int | None) -> int | None:
        return new_decision_id if self.takes_new_decision else self.decision_id


@dataclass(frozen=True)
class CycleOutcome:
    """Everything one portfolio's cycle writes, and what it returns."""

    portfolio_id: int
    as_of: date
    status: str  # a CycleRunResult status: "done" | "failed" | "not_eligible"
    decision: DecisionRecord | None = None
    supersedes_proposals: bool = False
    run: RunUpdate | None = None
    notification: NotificationRecord | None = None
    error: str = ""

    def result(self, decision_id: int | None = None) -> CycleRunResult:
        """The cycle's result once the decision row (if any) has the id ``decision_id``."""
        if self.run is None or self.status != "done":
            return CycleRunResult(self.portfolio_id, self.as_of, status=self.status, error=self.error)
        return CycleRunResult(
            self.portfolio_id, self.as_of, status="done", action=self.run.action,
            decision_id=self.run.decision_id_with(decision_id), trades_count=self.run.trades_count,
            summary=self.run.reason,
        )


def not_eligible(portfolio_id: int, as_of: date, reason: str) -> CycleRunResult:
    return CycleRunResult(portfolio_id, as_of, status="not_eligible", error=reason)


def run_closed_result(portfolio_id: int, as_of: date, run: RunFacts | None) -> CycleRunResult | None:
    """The result of a portfolio whose cycle cannot run (no run row, or the run already
    done: what it did then); None when the run is open."""
    if run is None:
        return not_eligible(portfolio_id, as_of, "no cycle run row")
    if run.status == CycleRun.Status.DONE:
        return CycleRunResult(
            portfolio_id, as_of, status="already_done", action=run.action,
            decision_id=run.decision_id, trades_count=run.trades_count, summary=run.reason,
        )
    return None


def error_text(exc: BaseException) -> str:
    """How an error is recorded: its type and message."""
    return f"{type(exc).__name__}: {exc}"


def decision_status(decision: CycleDecision, mode: str) -> str:
    """The decision row's status (final: after an autopilot rebalance is executed)."""
    if decision.action != "rebalance":
        return Decision.Status.SKIPPED.value
    if mode == "autopilot":
        return Decision.Status.EXECUTED.value
    return Decision.Status.PROPOSED.value


def decision_executes(decision: CycleDecision, mode: str) -> bool:
    """Its trades are executed in this cycle (a rebalance in autopilot mode)."""
    return decision_status(decision, mode) == Decision.Status.EXECUTED


def run_action(decision: CycleDecision, mode: str) -> str:
    """The cycle run's action: ``proposed`` for an advise-mode rebalance, else the decision's."""
    if decision.action == "rebalance" and mode == "advise":
        return "proposed"
    return decision.action


def decision_record(decision: CycleDecision, *, mode: str, portfolio: PortfolioFacts) -> DecisionRecord | None:
    """The decision row, or None on a quiet day (hold without triggers)."""
    if decision.action == "hold" and not decision.triggers:
        return None
    explanation = decision_explanation(decision)
    return DecisionRecord(
        portfolio_id=portfolio.pk, as_of=decision.as_of, mode=mode, status=decision_status(decision, mode),
        strategy=decision.strategy or "", triggers=explanation["triggers"],
        target_weights=explanation["target_weights"], current_weights=explanation["current_weights"],
        before=explanation["before"] or {}, after=explanation["after"] or {}, checks=explanation["checks"],
        orders=tuple(t.order for t in decision.trades), explanation=explanation, summary=decision.summary,
        confidence=max(0.0, min(1.0, decision.confidence)),
        status_reason=decision.skipped_reason or ("" if decision.trades else decision.summary),
        ledger_version=portfolio.ledger_version,
    )


def notification_record(
    decision: CycleDecision, row: DecisionRecord | None, *, mode: str, portfolio: PortfolioFacts
) -> NotificationRecord | None:
    """The notification of a rebalance that has a decision row (executed or proposed)."""
    if row is None or decision.action != "rebalance":
        return None
    kind, title, body = decision_notification_texts(
        explanation=row.explanation, portfolio_name=portfolio.name, currency=portfolio.base_currency,
        mode=mode, defensive=decision.override is not None,
    )
    return NotificationRecord(user_id=portfolio.owner_id, portfolio_id=portfolio.pk, kind=kind, title=title, body=body)


def cycle_failed(portfolio_id: int, as_of: date, error: str, run: RunFacts | None = None) -> CycleOutcome:
    """A failed cycle: the run is marked failed with the error and keeps its earlier facts."""
    update = None
    if run is not None:
        update = RunUpdate(
            status=CycleRun.Status.FAILED.value, action=run.action, reason=run.reason,
            trades_count=run.trades_count, error=error[:ERROR_MAX], policy_state=run.policy_state or {},
            decision_id=run.decision_id,
        )
    return CycleOutcome(portfolio_id, as_of, status="failed", run=update, error=error)


def cycle_outcome(
    *,
    portfolio_id: int,
    as_of: date,
    decision: CycleDecision | None,
    mode: str = "",
    portfolio: PortfolioFacts | None = None,
    run: RunFacts | None = None,
    error: str = "",
) -> CycleOutcome:
    """What one portfolio's cycle writes: see the module docstring.

    ``error`` (the decision or its execution failed) wins over ``decision``; no decision
    and no error means the portfolio had no autonomy settings."""
    if error:
        return cycle_failed(portfolio_id, as_of, error, run)
    if decision is None or portfolio is None:
        return CycleOutcome(portfolio_id, as_of, status="not_eligible", error="no autonomy settings")
    row = decision_record(decision, mode=mode, portfolio=portfolio)
    action = run_action(decision, mode)
    update = RunUpdate(
        status=CycleRun.Status.DONE.value, action=action, reason=decision.summary,
        trades_count=len(decision.trades) if action == "rebalance" else 0, error="",
        policy_state=policy_state_to_dict(decision.policy_state), takes_new_decision=True,
    )
    return CycleOutcome(
        portfolio_id, as_of, status="done", decision=row,
        supersedes_proposals=row is not None and row.status == Decision.Status.PROPOSED,
        run=update, notification=notification_record(decision, row, mode=mode, portfolio=portfolio),
    )


__all__ = [
    "ERROR_MAX",
    "SUPERSEDED_REASON",
    "CycleOutcome",
    "DecisionRecord",
    "NotificationRecord",
    "PortfolioFacts",
    "RunFacts",
    "RunUpdate",
    "cycle_failed",
    "cycle_outcome",
    "decision_executes",
    "decision_record",
    "decision_status",
    "error_text",
    "not_eligible",
    "notification_record",
    "run_action",
    "run_closed_result",
]
