"""Decisions: recording them, approving (executes exactly once), rejecting.

In advise mode the autopilot stops at a :class:`~portfolios.models.Decision` with status
``proposed``; the investor approves or rejects it. Approving locks the decision and the
portfolio, re-checks that the proposal is still valid, and executes its stored trades
with :func:`~portfolios.services.execution.trades_execute` in the same transaction, so
a double click or two racing requests execute it at most once (the second sees status
``executed`` → 409).

A proposal is **stale** (→ status ``expired``, 409) when the ledger changed since it
was planned (deposit, withdrawal, another trade), when more than one trading day has
passed since its ``as_of``, or when a traded symbol's close moved more than
:data:`PRICE_MOVE_TOLERANCE` from the close it was sized at.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from common.errors import Conflict, NotFound, Unprocessable
from portfolios.brokers import Broker
from portfolios.models import Decision, Portfolio
from portfolios.prices import latest_closes, trading_days_between
from portfolios.services._locks import portfolio_lock
from portfolios.services.execution import trades_execute
from portfolios.services.orders import orders_place
from portfolios.trading import ProposedTrade

PRICE_MOVE_TOLERANCE = Decimal("0.02")
"""A proposal whose traded symbols moved more than 2 % since it was sized is stale."""
MAX_TRADING_DAYS_OLD = 1
"""A proposal may be approved on its as-of day or the next trading day."""

ApprovalCheck = Callable[[Decision, Portfolio, date], None]
"""Extra pre-execution check: raise an ApplicationError (e.g. Conflict) to block approval."""
_APPROVAL_CHECKS: list[ApprovalCheck] = []


def approval_check_register(check: ApprovalCheck) -> None:
    """Run ``check(decision, portfolio, execution_date)`` before every approval executes.

    Higher layers (the autopilot: kill switch, pre-trade risk) register here at app start;
    a check raises :class:`~common.errors.ApplicationError` to block the approval, which
    then changes nothing. Registering the same function twice has no effect.
    """
    if check not in _APPROVAL_CHECKS:
        _APPROVAL_CHECKS.append(check)


def _jsonable(trade: ProposedTrade | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(trade, ProposedTrade):
        return trade.to_dict()
    return ProposedTrade.from_dict(trade).to_dict()


@transaction.atomic
def decision_create(
    *,
    portfolio: Portfolio,
    as_of: date,
    mode: str,
    status: str = Decision.Status.PROPOSED,
    strategy: str = "",
    triggers: Sequence[Mapping[str, Any]] = (),
    target_weights: Mapping[str, float] | None = None,
    current_weights: Mapping[str, float] | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    checks: Sequence[Mapping[str, Any]] = (),
    trades: Sequence[ProposedTrade | Mapping[str, Any]] = (),
    prices: Mapping[str, Decimal | float | str] | None = None,
    explanation: Mapping[str, Any] | None = None,
    summary: str = "",
    confidence: float | None = None,
    status_reason: str = "",
    ledger_version: int | None = None,
) -> Decision:
    """Record one cycle's decision (the proposal in advise mode).

    ``trades`` are stored as JSON (``ProposedTrade.to_dict``); ``prices`` are the closes
    they were sized at (defaults to each trade's ``price``); ``ledger_version`` defaults
    to the portfolio's current one, which makes the proposal stale after any later
    ledger change.
    """
    stored = [_jsonable(t) for t in trades]
    if prices is None:
        prices = {t["symbol"]: t["price"] for t in stored}
    if ledger_version is None:
        ledger_version = Portfolio.objects.filter(pk=portfolio.pk).values_list("ledger_version", flat=True).first()
    return Decision.objects.create(
        portfolio=portfolio,
        as_of=as_of,
        mode=mode,
        status=status,
        strategy=strategy,
        triggers=list(triggers),
        target_weights=dict(target_weights or {}),
        current_weights=dict(current_weights or {}),
        before=dict(before or {}),
        after=dict(after or {}),
        checks=list(checks),
        trades=stored,
        prices={s: str(p) for s, p in prices.items()},
        explanation=dict(explanation or {}),
        summary=summary,
        confidence=confidence,
        status_reason=status_reason,
        ledger_version=ledger_version,
    )


def proposals_expire(*, portfolio_ids: Sequence[int], reason: str, at: Any = None) -> int:
    """Expire the open proposals of these portfolios (a newer one supersedes them), in one
    statement; returns how many expired. ``at`` is the decision time (now if None)."""
    if not portfolio_ids:
        return 0
    return Decision.objects.filter(portfolio_id__in=list(portfolio_ids), status=Decision.Status.PROPOSED).update(
        status=Decision.Status.EXPIRED, status_reason=reason, decided_at=at or timezone.now()
    )


def decision_trades(decision: Decision) -> list[ProposedTrade]:
    return [ProposedTrade.from_dict(t) for t in decision.trades]


def _lock_decision(decision: Decision | int, portfolio: Portfolio | None = None) -> tuple[Decision, Portfolio]:
    pk = decision if isinstance(decision, int) else decision.pk
    portfolio_id = (
        portfolio.pk
        if portfolio is not None
        else Decision.objects.filter(pk=pk).values_list("portfolio_id", flat=True).first()
    )
    if portfolio_id is None:
        raise NotFound(f"proposal {pk} does not exist", field="proposal")
    # Lock order everywhere: portfolio first, then its decision (no deadlocks with cycles).
    locked_portfolio = portfolio_lock(portfolio=portfolio_id)
    try:
        locked = Decision.objects.select_for_update().get(pk=pk, portfolio_id=portfolio_id)
    except Decision.DoesNotExist:
        raise NotFound(f"proposal {pk} does not exist", field="proposal") from None
    return locked, locked_portfolio


def decision_staleness(*, decision: Decision, portfolio: Portfolio) -> tuple[str | None, date | None]:
    """Why ``decision`` can no longer be executed (None if it can), and the execution date.

    The execution date is the latest close of the traded symbols (fills at that close).
    """
    if decision.ledger_version is not None and decision.ledger_version != portfolio.ledger_version:
        return "the portfolio changed since this proposal was made (cash or trades)", None
    trades = decision_trades(decision)
    if not trades:
        return None, decision.as_of
    symbols = sorted({t.symbol for t in trades})
    latest = latest_closes(symbols=symbols)
    missing = [s for s in symbols if s not in latest]
    if missing:
        return f"no prices for {', '.join(missing)}", None
    execution_date = min(d for _, d in latest.values())
    if execution_date < decision.as_of:
        return f"prices of {', '.join(symbols)} are older than the proposal's date {decision.as_of}", None
    days = trading_days_between(symbols=symbols, after=decision.as_of, through=execution_date)
    if len(days) > MAX_TRADING_DAYS_OLD:
        return (
            f"the proposal for {decision.as_of} is {len(days)} trading days old; "
            f"proposals are valid until the next trading day's close"
        ), None
    for symbol in symbols:
        planned = Decimal(str(decision.prices.get(symbol, "0")))
        current = latest[symbol][0]
        if planned > 0 and abs(current / planned - 1) > PRICE_MOVE_TOLERANCE:
            move = float(current / planned - 1) * 100
            return (
                f"{symbol} moved {move:+.1f}% since the proposal (limit ±{float(PRICE_MOVE_TOLERANCE) * 100:.0f}%)"
            ), None
    return None, execution_date


def decision_approve(
    *,
    decision: Decision | int,
    user: Any = None,
    portfolio: Portfolio | None = None,
    broker: Broker | None = None,
) -> Decision:
    """Approve a proposal and execute its trades once; stale or not pending → 409.

    A stale proposal is marked ``expired`` (committed) before the 409 is raised. When
    execution fails (422, e.g. cash no longer covers the buys) nothing changes. Due
    corporate actions are applied to the portfolio first: a split since the proposal
    makes it stale (its quantities are pre-split).
    """
    from portfolios.services.corporate_actions import corporate_actions_apply

    portfolio_id = portfolio.pk if portfolio is not None else (
        Decision.objects.filter(pk=decision if isinstance(decision, int) else decision.pk)
        .values_list("portfolio_id", flat=True).first()
    )
    if portfolio_id is not None:
        corporate_actions_apply(portfolio_ids=[portfolio_id])
    outcome = _approve(decision=decision, user=user, portfolio=portfolio, broker=broker)
    if isinstance(outcome, str):
        raise Conflict(f"this proposal is stale: {outcome}", code="proposal_stale", field="proposal")
    return outcome


@transaction.atomic
def _approve(*, decision: Decision | int, user: Any, portfolio: Portfolio | None, broker: Broker | None) -> Decision | str:
    locked, locked_portfolio = _lock_decision(decision, portfolio)
    if locked.status != Decision.Status.PROPOSED:
        raise Conflict(
            f"this proposal is {locked.status}; only proposed decisions can be approved",
            code="proposal_not_pending",
            field="proposal",
        )
    reason, execution_date = decision_staleness(decision=locked, portfolio=locked_portfolio)
    if reason is not None:
        locked.status = Decision.Status.EXPIRED
        locked.status_reason = reason
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "status_reason", "decided_at"])
        return reason
    assert execution_date is not None
    for check in list(_APPROVAL_CHECKS):
        check(locked, locked_portfolio, execution_date)
    locked.status = Decision.Status.APPROVED
    locked.decided_at = timezone.now()
    locked.decided_by = user if getattr(user, "pk", None) else None
    locked.save(update_fields=["status", "decided_at", "decided_by"])
    if locked_portfolio.broker != "paper":  # a real broker: orders now, fills as they arrive
        orders_place(portfolio=locked_portfolio, decision=locked, trades=decision_trades(locked))
        return locked
    try:
        trades_execute(
            portfolio=locked_portfolio,
            trades=decision_trades(locked),
            as_of=execution_date,
            broker=broker,
            decision=locked,
        )
    except Unprocessable as exc:
        if exc.code == "insufficient_cash":
            raise Conflict(
                f"this proposal is stale: {exc.message} at the latest closes",
                code="proposal_stale",
                field="proposal",
            ) from exc
        raise
    locked.refresh_from_db()  # what execution wrote (executed_at...), read before the commit
    return locked


@transaction.atomic
def decision_reject(*, decision: Decision | int, user: Any = None, portfolio: Portfolio | None = None, reason: str = "") -> Decision:
    """Reject a proposal (nothing is traded); one not pending → 409."""
    locked, _ = _lock_decision(decision, portfolio)
    if locked.status != Decision.Status.PROPOSED:
        raise Conflict(
            f"this proposal is {locked.status}; only proposed decisions can be rejected",
            code="proposal_not_pending",
            field="proposal",
        )
    locked.status = Decision.Status.REJECTED
    locked.status_reason = reason or "rejected by the investor"
    locked.decided_at = timezone.now()
    locked.decided_by = user if getattr(user, "pk", None) else None
    locked.save(update_fields=["status", "status_reason", "decided_at", "decided_by"])
    return locked


@transaction.atomic
def decision_execute(
    *,
    decision: Decision,
    as_of: date | None = None,
    broker: Broker | None = None,
) -> Decision:
    """Execute an autopilot decision's stored trades now (status proposed/approved → executed).

    For the autopilot's own decisions (no staleness re-check: the cycle just made them
    at ``as_of``'s closes). Already executed → 409; a failure rolls everything back.
    """
    locked, locked_portfolio = _lock_decision(decision)
    if locked.status not in (Decision.Status.PROPOSED, Decision.Status.APPROVED):
        raise Conflict(
            f"this decision is {locked.status}; it cannot be executed",
            code="decision_not_executable",
            field="decision",
        )
    if locked_portfolio.broker != "paper":
        orders_place(portfolio=locked_portfolio, decision=locked, trades=decision_trades(locked))
        if isinstance(decision, Decision):
            decision.status, decision.executed_at = locked.status, locked.executed_at
        return locked
    trades_execute(
        portfolio=locked_portfolio,
        trades=decision_trades(locked),
        as_of=as_of or locked.as_of,
        broker=broker,
        decision=locked,
    )
    if isinstance(decision, Decision):
        decision.status, decision.executed_at = locked.status, locked.executed_at
    return locked
