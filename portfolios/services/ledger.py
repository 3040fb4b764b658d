"""Cash movements and daily snapshots: every write locks the portfolio row first.

``Portfolio.cash`` moves in the same transaction as the movement that explains it, so
``cash == sum(movements) + sum(trade cash flows)`` holds after every commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from common.errors import Unprocessable, ValidationFailed
from portfolios.models import CashMovement, Portfolio, PortfolioSnapshot
from portfolios.services._locks import portfolio_lock
from portfolios.trading.costs import money

Kind = CashMovement.Kind


def _positive(amount: Decimal) -> Decimal:
    amount = Decimal(amount)
    if not amount.is_finite() or amount <= 0:
        raise ValidationFailed("amount must be a positive number", code="invalid_amount", field="amount")
    if money(amount) != amount:
        raise ValidationFailed("amount has more than 4 decimal places", code="invalid_amount", field="amount")
    return amount


@transaction.atomic
def cash_movement_record(
    *,
    portfolio: Portfolio,
    kind: str,
    amount: Decimal,
    at: datetime | None = None,
    note: str = "",
) -> CashMovement:
    """Record a deposit, withdrawal, dividend, fee or interest; ``amount`` is positive.

    Outflows (withdrawal, fee) that would take cash below zero raise
    :class:`~common.errors.Unprocessable` (422, field ``amount``) unless the portfolio
    allows negative cash; nothing is written then.
    """
    amount = _positive(amount)
    if kind not in Kind.values:
        raise ValidationFailed(f"unknown kind {kind!r}", code="invalid_kind", field="kind")
    signed = -amount if kind in CashMovement.OUTFLOWS else amount
    locked = portfolio_lock(portfolio=portfolio)
    if signed < 0 and not locked.allow_negative_cash and locked.cash + signed < 0:
        raise Unprocessable(
            f"cannot take {amount} out: the portfolio holds {locked.cash} in cash",
            code="insufficient_cash",
            field="amount",
            extra={"cash": str(locked.cash), "amount": str(amount)},
        )
    movement = CashMovement.objects.create(
        portfolio=locked, kind=kind, amount=signed, at=at or timezone.now(), note=note
    )
    # Computed here, not with F(): the row is locked, and SQLite would add decimals as floats.
    locked.cash += signed
    locked.ledger_version += 1
    locked.save(update_fields=["cash", "ledger_version", "updated_at"])
    if portfolio is not locked:
        portfolio.cash, portfolio.ledger_version = locked.cash, locked.ledger_version
    return movement


def cash_deposit(
    *, portfolio: Portfolio, amount: Decimal, at: datetime | None = None, note: str = ""
) -> CashMovement:
    """Add cash from outside (an external flow for the time-weighted return)."""
    return cash_movement_record(portfolio=portfolio, kind=Kind.DEPOSIT, amount=amount, at=at, note=note)


def cash_withdraw(
    *, portfolio: Portfolio, amount: Decimal, at: datetime | None = None, note: str = ""
) -> CashMovement:
    """Take cash out; more than the cash held → 422 ``insufficient_cash`` on ``amount``."""
    return cash_movement_record(portfolio=portfolio, kind=Kind.WITHDRAWAL, amount=amount, at=at, note=note)


def _external_flows(portfolio_ids: Sequence[int], on: date) -> dict[int, Decimal]:
    flows: dict[int, Decimal] = {}
    rows = CashMovement.objects.filter(
        portfolio_id__in=portfolio_ids, kind__in=CashMovement.EXTERNAL, at__date=on
    ).values_list("portfolio_id", "amount")
    for pid, amount in rows:
        flows[pid] = flows.get(pid, Decimal(0)) + amount
    return flows


@transaction.atomic
def snapshots_take(*, as_of: date, portfolios: Sequence[Portfolio] | None = None) -> list[PortfolioSnapshot]:
    """Value every given portfolio (all if None) at the closes of ``as_of``; upsert by date.

    Positions are valued at each symbol's last close on or before ``as_of``. A constant
    number of queries for any number of portfolios.
    """
    from portfolios.selectors import portfolio_states_get  # selectors import services' models only

    ids = [p.pk for p in portfolios] if portfolios is not None else list(
        Portfolio.objects.values_list("pk", flat=True)
    )
    states = portfolio_states_get(portfolio_ids=ids, as_of=as_of, with_lots=False)
    flows = _external_flows(ids, as_of)
    rows = [
        PortfolioSnapshot(
            portfolio_id=pid,
            date=as_of,
            value=money(state.total_value),
            cash=state.cash,
            invested=money(state.total_value - state.cash - state.accrued_dividends),
            net_flows=flows.get(pid, Decimal(0)),
        )
        for pid, state in states.items()
    ]
    return _snapshots_upsert(rows)


def snapshot_take(*, portfolio: Portfolio, as_of: date) -> PortfolioSnapshot:
    """Value one portfolio at ``as_of``'s closes and store it (replacing that day's snapshot)."""
    snapshots_take(as_of=as_of, portfolios=[portfolio])
    return PortfolioSnapshot.objects.get(portfolio=portfolio, date=as_of)


def _snapshots_upsert(rows: list[PortfolioSnapshot]) -> list[PortfolioSnapshot]:
    """Store ``rows``, replacing the snapshots of the same (portfolio, date)."""
    return PortfolioSnapshot.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["portfolio", "date"],
        update_fields=["value", "cash", "invested", "net_flows"],
    )


@transaction.atomic
def snapshots_backfill(*, portfolio: Portfolio, start: date, end: date) -> int:
    """Rebuild daily snapshots of ``portfolio`` for every trading day in [start, end].

    Holdings and cash on each day are replayed from the ledger (trades by trade date,
    cash movements by date, splits by ex-date); positions are valued at each symbol's
    last close on or before the day, plus dividends past their ex-date and not paid yet
    (the close has dropped by them), as the live valuation does. Existing snapshots of
    those days are replaced. Returns how many.
    """
    replay = _LedgerReplay(_ledger_history(portfolio, end))
    rows = []
    for day in _trading_days(start, end):
        flows = replay.advance(day)
        rows.append(replay.snapshot(portfolio, day, flows))
    _snapshots_upsert(rows)
    return len(rows)


@dataclass(frozen=True)
class _LedgerHistory:
    """A portfolio's ledger events up to a date, each list in the order it is replayed."""

    trades: list[tuple]
    """(trade_date, symbol, side, quantity, cash_flow) by trade date."""
    movements: list[tuple]
    """(at, kind, signed amount) by time."""
    splits: list[tuple]
    """(ex_date, symbol, shares added) of applied splits, by ex-date."""
    dividends: list[tuple]
    """(ex_date, pay_date, amount) of accrued or paid cash dividends."""
    bars: list[tuple]
    """(date, symbol, close) of the traded symbols, by date."""


def _ledger_history(portfolio: Portfolio, end: date) -> _LedgerHistory:
    from marketdata.models import PriceBar
    from portfolios.models import CorporateActionApplication, Trade

    trades = list(
        Trade.objects.filter(portfolio=portfolio, trade_date__lte=end)
        .order_by("trade_date", "id")
        .values_list("trade_date", "asset__symbol", "side", "quantity", "cash_flow")
    )
    movements = list(
        CashMovement.objects.filter(portfolio=portfolio, at__date__lte=end)
        .order_by("at")
        .values_list("at", "kind", "amount")
    )
    applications = CorporateActionApplication.objects.filter(portfolio=portfolio, ex_date__lte=end)
    splits = list(
        applications.filter(status=CorporateActionApplication.Status.APPLIED)
        .order_by("ex_date", "id").values_list("ex_date", "asset__symbol", "quantity_delta")
    )
    dividends = list(
        applications.filter(kind="dividend", amount__isnull=False, status__in=["accrued", "paid"])
        .values_list("ex_date", "pay_date", "amount")
    )
    symbols = sorted({t[1] for t in trades})
    bars = PriceBar.objects.filter(asset__symbol__in=symbols, date__lte=end).order_by("date")
    return _LedgerHistory(
        trades=trades, movements=movements, splits=splits, dividends=dividends,
        bars=list(bars.values_list("date", "asset__symbol", "close")),
    )


def _trading_days(start: date, end: date) -> list[date]:
    """The days in [start, end] with a price bar of any asset."""
    from marketdata.models import PriceBar

    return sorted(
        set(PriceBar.objects.filter(date__gte=start, date__lte=end).values_list("date", flat=True).distinct())
    )


class _LedgerReplay:
    """Cash, quantities and last closes, moved forward one day at a time through a history."""

    def __init__(self, history: _LedgerHistory) -> None:
        self.history = history
        self.cash = Decimal(0)
        self.quantities: dict[str, Decimal] = {}
        self.closes: dict[str, Decimal] = {}
        self._trade = self._movement = self._bar = self._split = 0

    def advance(self, day: date) -> Decimal:
        """Apply every event up to ``day`` (movements, then splits, trades, closes); returns the
        day's external flows."""
        h = self.history
        flows = Decimal(0)
        while self._movement < len(h.movements) and h.movements[self._movement][0].date() <= day:
            at, kind, amount = h.movements[self._movement]
            self.cash += amount
            if kind in CashMovement.EXTERNAL and at.date() == day:
                flows += amount
            self._movement += 1
        while self._split < len(h.splits) and h.splits[self._split][0] <= day:
            _, symbol, delta = h.splits[self._split]
            self.quantities[symbol] = self.quantities.get(symbol, Decimal(0)) + delta
            self._split += 1
        while self._trade < len(h.trades) and h.trades[self._trade][0] <= day:
            _, symbol, side, qty, cash_flow = h.trades[self._trade]
            self.quantities[symbol] = self.quantities.get(symbol, Decimal(0)) + (qty if side == "buy" else -qty)
            self.cash += cash_flow
            self._trade += 1
        while self._bar < len(h.bars) and h.bars[self._bar][0] <= day:
            self.closes[h.bars[self._bar][1]] = h.bars[self._bar][2]
            self._bar += 1
        return flows

    def snapshot(self, portfolio: Portfolio, day: date, flows: Decimal) -> PortfolioSnapshot:
        """The day's snapshot: holdings at their last closes, plus dividends gone ex and not yet paid."""
        invested = sum(
            (q * self.closes.get(s, Decimal(0)) for s, q in self.quantities.items() if q), Decimal(0)
        )
        owed = sum((amount for ex, pay, amount in self.history.dividends if ex <= day < (pay or ex)), Decimal(0))
        return PortfolioSnapshot(
            portfolio=portfolio,
            date=day,
            value=money(self.cash + invested + owed),
            cash=self.cash,
            invested=money(invested),
            net_flows=flows,
        )


def ledger_last_dates(*, portfolio_ids: Sequence[int]) -> dict[int, date]:
    """The date of each portfolio's latest ledger event that fixes its history: its last
    trade, or the ex-date of its last applied split or dividend (two queries)."""
    from django.db.models import Max

    from portfolios.models import CorporateActionApplication, Trade

    ids = list(portfolio_ids)
    out: dict[int, date] = dict(
        Trade.objects.filter(portfolio_id__in=ids).values("portfolio_id").annotate(last=Max("trade_date"))
        .values_list("portfolio_id", "last")
    )
    applied = (
        CorporateActionApplication.objects.filter(portfolio_id__in=ids)
        .exclude(status=CorporateActionApplication.Status.NEEDS_REVIEW)
        .values("portfolio_id").annotate(last=Max("ex_date")).values_list("portfolio_id", "last")
    )
    for pid, day in applied:
        out[pid] = max(out.get(pid, day), day)
    return out


def ledger_as_of_check(*, as_of: date, portfolio_ids: Sequence[int]) -> None:
    """Refuse to trade ``portfolio_ids`` at ``as_of`` when a ledger is already past it.

    A cycle for a date earlier than a portfolio's last trade (or last applied corporate
    action) would execute at an old close after newer trades, and entitlements to
    splits and dividends already applied would no longer match. Raises
    :class:`~common.errors.ValidationFailed` on ``as_of`` naming the portfolios and dates.
    """
    late = {pid: day for pid, day in ledger_last_dates(portfolio_ids=portfolio_ids).items() if day > as_of}
    if late:
        listed = ", ".join(f"#{pid} ({day.isoformat()})" for pid, day in sorted(late.items())[:10])
        more = f" and {len(late) - 10} more" if len(late) > 10 else ""
        raise ValidationFailed(
            f"as-of {as_of.isoformat()} is earlier than the last trade of portfolio {listed}{more}; "
            f"a cycle can only run on or after a portfolio's last trade",
            code="as_of_before_last_trade",
            field="as_of",
            extra={"portfolios": {str(pid): day.isoformat() for pid, day in sorted(late.items())}},
        )
