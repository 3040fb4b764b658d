"""Statements a brokerage would send, read from the ledger: the tax report and the account
statement, as typed values and as CSV (selectors: they write nothing).

* :func:`tax_report_get` — one calendar year: every lot closing as a Form 8949 line
  (acquired, sold, proceeds, basis, wash-sale adjustment ``W``, gain, short/long term),
  totals per holding period, harvested losses, wash-sale matches (a loss disallowed in
  the year of its sale, moved into the replacement's basis), dividends paid (qualified
  and ordinary, Form 1099-DIV boxes 1b and 1a), interest and fees.
* :func:`statement_get` — any period: opening and closing positions (at the closes of the
  day before and of the last day), cash and dividends receivable, every cash movement,
  trade and corporate action in between, fees, and the reconciliation that an auditor
  checks: opening cash + movements + trade cash flows = closing cash, and per asset
  opening shares + bought - sold + split shares = closing shares.

Totals are sums of the lines (``Decimal``), and the lines are the ledger's rows, so they
reconcile with the ledger exactly; :func:`portfolios.services.audit.ledger_audit` checks
it against independent aggregate queries. A constant number of queries per statement.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Sum

from portfolios.models import (
    CashMovement,
    CorporateActionApplication,
    LotClosing,
    Portfolio,
    Trade,
    WashSale,
)
from portfolios.prices import latest_closes
from portfolios.trading.costs import money

ZERO = Decimal(0)
SHARES = Decimal("0.00000001")
CENTS4 = Decimal("0.0001")
HARVEST_TAG = "tax_loss_harvest"


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


# --- the tax report -------------------------------------------------------------------------


@dataclass(frozen=True)
class RealizedLine:
    """One lot closing as reported (a Form 8949 line)."""

    closing_id: int
    trade_id: int
    lot_id: int
    symbol: str
    quantity: Decimal
    acquired_on: date
    holding_from: date
    sold_on: date
    term: str  # "short" | "long"
    proceeds: Decimal
    cost_basis: Decimal
    adjustment_code: str  # "W" when a wash sale disallowed part of the loss
    wash_sale_disallowed: Decimal
    gain: Decimal
    """Reported gain or loss: proceeds - basis + the disallowed loss."""
    harvested: bool


@dataclass(frozen=True)
class TermTotals:
    """Totals of one holding period (or of all): sums of the lines."""

    lines: int = 0
    proceeds: Decimal = ZERO
    cost_basis: Decimal = ZERO
    wash_sale_disallowed: Decimal = ZERO
    gains: Decimal = ZERO
    losses: Decimal = ZERO
    net: Decimal = ZERO


@dataclass(frozen=True)
class WashSaleLine:
    closing_id: int
    symbol: str
    sold_on: date
    quantity: Decimal
    disallowed_loss: Decimal
    replacement_lot_id: int
    replacement_acquired_on: date
    holding_days_added: int


@dataclass(frozen=True)
class DividendLine:
    symbol: str | None
    ex_date: date | None
    pay_date: date
    shares: Decimal | None
    per_share: Decimal | None
    amount: Decimal
    qualified: Decimal
    cash_movement_id: int


@dataclass(frozen=True)
class DividendTotals:
    total: Decimal = ZERO
    """Total ordinary dividends (1099-DIV box 1a; includes the qualified ones)."""
    qualified: Decimal = ZERO
    """Qualified dividends (box 1b)."""
    ordinary_only: Decimal = ZERO


@dataclass(frozen=True)
class TaxReport:
    portfolio_id: int
    year: int
    realized: list[RealizedLine]
    short_term: TermTotals
    long_term: TermTotals
    total: TermTotals
    harvested_losses: Decimal
    harvested_lines: int
    wash_sales: list[WashSaleLine]
    wash_sale_disallowed: Decimal
    dividends: list[DividendLine]
    dividend_totals: DividendTotals
    interest: Decimal
    fees: Decimal
    commissions: Decimal


def _totals(lines: Sequence[RealizedLine]) -> TermTotals:
    return TermTotals(
        lines=len(lines),
        proceeds=sum((x.proceeds for x in lines), ZERO),
        cost_basis=sum((x.cost_basis for x in lines), ZERO),
        wash_sale_disallowed=sum((x.wash_sale_disallowed for x in lines), ZERO),
        gains=sum((x.gain for x in lines if x.gain > 0), ZERO),
        losses=sum((x.gain for x in lines if x.gain < 0), ZERO),
        net=sum((x.gain for x in lines), ZERO),
    )


def tax_report_get(*, portfolio: Portfolio, year: int) -> TaxReport:
    """The tax report of ``portfolio`` for calendar ``year`` (see the module docstring)."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    realized = _realized_lines(portfolio, first, last)
    short = [x for x in realized if x.term == LotClosing.HoldingPeriod.SHORT]
    long_ = [x for x in realized if x.term == LotClosing.HoldingPeriod.LONG]
    harvested = [x for x in realized if x.harvested and x.gain < 0]
    wash = _wash_sale_lines(portfolio, first, last)
    movements = _income_movements(portfolio, first, last)
    dividends = _dividend_lines(portfolio, movements)
    total_div = sum((d.amount for d in dividends), ZERO)
    qualified_div = sum((d.qualified for d in dividends), ZERO)
    commissions = Trade.objects.filter(portfolio=portfolio, trade_date__gte=first, trade_date__lte=last).values_list(
        "commission", flat=True
    )
    return TaxReport(
        portfolio_id=portfolio.pk,
        year=year,
        realized=realized,
        short_term=_totals(short),
        long_term=_totals(long_),
        total=_totals(realized),
        harvested_losses=-sum((x.gain for x in harvested), ZERO),
        harvested_lines=len(harvested),
        wash_sales=wash,
        wash_sale_disallowed=sum((w.disallowed_loss for w in wash), ZERO),
        dividends=dividends,
        dividend_totals=DividendTotals(total=total_div, qualified=qualified_div, ordinary_only=total_div - qualified_div),
        interest=sum((m[2] for m in movements if m[1] == CashMovement.Kind.INTEREST), ZERO),
        fees=-sum((m[2] for m in movements if m[1] == CashMovement.Kind.FEE), ZERO),
        commissions=sum(commissions, ZERO),
    )


def _realized_lines(portfolio: Portfolio, first: date, last: date) -> list[RealizedLine]:
    """The lot closings of the days ``first`` to ``last`` as Form 8949 lines, in date order."""
    rows = (
        LotClosing.objects.filter(lot__portfolio=portfolio, closed_on__gte=first, closed_on__lte=last)
        .order_by("closed_on", "id")
        .values_list(
            "pk", "trade_id", "lot_id", "lot__asset__symbol", "quantity", "lot__acquired_on", "lot__holding_from",
            "closed_on", "holding_period", "proceeds", "cost_basis", "wash_disallowed", "realized_gain", "trade__tags",
        )
    )
    return [
        RealizedLine(
            closing_id=pk, trade_id=trade_id, lot_id=lot_id, symbol=symbol, quantity=qty, acquired_on=acquired,
            holding_from=holding_from or acquired, sold_on=sold, term=term, proceeds=proceeds, cost_basis=basis,
            adjustment_code="W" if disallowed else "", wash_sale_disallowed=disallowed, gain=gain + disallowed,
            harvested=HARVEST_TAG in (tags or []),
        )
        for pk, trade_id, lot_id, symbol, qty, acquired, holding_from, sold, term, proceeds, basis, disallowed, gain, tags
        in rows
    ]


def _wash_sale_lines(portfolio: Portfolio, first: date, last: date) -> list[WashSaleLine]:
    """The wash sales of the loss sales of the days ``first`` to ``last``, in date order."""
    return [
        WashSaleLine(closing, symbol, sold, qty, disallowed, lot, acquired, days)
        for closing, symbol, sold, qty, disallowed, lot, acquired, days in WashSale.objects.filter(
            closing__lot__portfolio=portfolio, closing__closed_on__gte=first, closing__closed_on__lte=last
        ).order_by("closing__closed_on", "id").values_list(
            "closing_id", "closing__lot__asset__symbol", "closing__closed_on", "quantity", "disallowed_loss",
            "replacement_lot_id", "replacement_lot__acquired_on", "holding_days",
        )
    ]


def _income_movements(portfolio: Portfolio, first: date, last: date) -> list[tuple]:
    """(pk, kind, amount, at) of the days' cash movements other than deposits and withdrawals."""
    return list(
        CashMovement.objects.filter(portfolio=portfolio, at__gte=_start_of(first), at__lt=_start_of(last + timedelta(days=1)))
        .exclude(kind__in=CashMovement.EXTERNAL)
        .order_by("at", "id")
        .values_list("pk", "kind", "amount", "at")
    )


def _dividend_lines(portfolio: Portfolio, movements: Sequence[tuple]) -> list[DividendLine]:
    """The dividend ``movements`` with the corporate action each one paid (when one did)."""
    applications = {
        movement_id: (symbol, ex, shares, per_share, qualified)
        for movement_id, symbol, ex, shares, per_share, qualified in CorporateActionApplication.objects.filter(
            portfolio=portfolio, cash_movement_id__in=[m[0] for m in movements if m[1] == CashMovement.Kind.DIVIDEND]
        ).values_list("cash_movement_id", "asset__symbol", "ex_date", "shares", "action__ratio", "qualified_amount")
    }
    dividends = []
    for pk, kind, amount, at in movements:
        if kind != CashMovement.Kind.DIVIDEND:
            continue
        symbol, ex, shares, per_share, qualified = applications.get(pk, (None, None, None, None, ZERO))
        dividends.append(DividendLine(symbol, ex, at.date(), shares, per_share, amount, qualified, pk))
    return dividends


# --- the account statement ------------------------------------------------------------------


@dataclass(frozen=True)
class PositionLine:
    symbol: str
    quantity: Decimal
    price: Decimal | None
    price_date: date | None
    market_value: Decimal | None


@dataclass(frozen=True)
class Balance:
    """Positions, cash and dividends receivable at the close of ``as_of``."""

    as_of: date
    cash: Decimal
    accrued_dividends: Decimal
    positions: list[PositionLine]
    value: Decimal
    """Cash + receivable dividends + positions at their last closes (unpriced count 0)."""


@dataclass(frozen=True)
class ActivityLine:
    """One event of the period, in date order: a cash movement, a trade or a corporate action."""

    date: date
    at: datetime | None
    kind: str
    """deposit | withdrawal | dividend | fee | interest | buy | sell | split | dividend_entitlement."""
    ref: str
    symbol: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    amount: Decimal = ZERO
    """Signed effect on cash (movements and trades; 0 for corporate actions)."""
    commission: Decimal = ZERO
    realized_gain: Decimal | None = None
    description: str = ""


@dataclass(frozen=True)
class ShareReconciliation:
    symbol: str
    opening: Decimal
    bought: Decimal
    sold: Decimal
    split: Decimal
    closing: Decimal


@dataclass(frozen=True)
class StatementTotals:
    deposits: Decimal = ZERO
    withdrawals: Decimal = ZERO
    dividends: Decimal = ZERO
    interest: Decimal = ZERO
    fees: Decimal = ZERO
    commissions: Decimal = ZERO
    bought: Decimal = ZERO
    """Cash paid for buys (commissions included)."""
    sold: Decimal = ZERO
    """Cash received for sells (net of commissions)."""
    realized_gain: Decimal = ZERO
    net_cash_flow: Decimal = ZERO
    """Sum of every line's cash effect: closing cash - opening cash."""
    market_change: Decimal = ZERO
    """Closing value - opening value - deposits + withdrawals - dividends - interest + fees."""


@dataclass(frozen=True)
class Statement:
    portfolio_id: int
    start: date
    end: date
    opening: Balance
    closing: Balance
    activity: list[ActivityLine]
    totals: StatementTotals
    shares: list[ShareReconciliation]
    reconciled: bool
    """Opening cash + the lines = closing cash, and every asset's shares reconcile."""


def _balance(as_of: date, shares: dict[str, Decimal], cash: Decimal, accrued: Decimal) -> Balance:
    held = {s: q for s, q in shares.items() if q}
    closes = latest_closes(symbols=sorted(held), as_of=as_of) if held else {}
    positions = []
    for symbol in sorted(held):
        price, on = closes.get(symbol, (None, None))
        value = money(held[symbol] * price) if price is not None else None
        positions.append(PositionLine(symbol, held[symbol], price, on, value))
    value = cash + accrued + sum((p.market_value for p in positions if p.market_value is not None), ZERO)
    return Balance(as_of, cash, accrued, positions, value)


def _accrued(rows: Iterable[tuple], as_of: date) -> Decimal:
    return sum((amount for ex, pay, amount in rows if ex <= as_of < (pay or ex)), ZERO)


def statement_get(*, portfolio: Portfolio, start: date, end: date) -> Statement:
    """The account statement of ``portfolio`` for the days ``start`` to ``end`` (see the module)."""
    begin, stop = _start_of(start), _start_of(end + timedelta(days=1))
    before = _ledger_before(portfolio, start, begin)
    trades = _trade_activity(portfolio, start, end)
    cash = _cash_activity(portfolio, begin, stop)
    actions = _action_activity(portfolio, start, end)
    activity = [*trades.lines, *cash, *actions.lines]
    activity.sort(key=lambda x: (x.date, x.at or _start_of(x.date), x.ref))

    opening_shares = {
        s: before.shares.get(s, ZERO) + actions.split_before.get(s, ZERO)
        for s in set(before.shares) | set(actions.split_before)
    }
    reconciliation = _shares_reconciled(opening_shares, trades.bought, trades.sold, actions.split_during)
    opening_cash = before.cash
    flows = sum((x.amount for x in activity), ZERO)
    closing_cash = opening_cash + flows
    opening = _balance(start - timedelta(days=1), opening_shares, opening_cash,
                       _accrued(actions.dividend_rows, start - timedelta(days=1)))
    closing = _balance(end, {r.symbol: r.closing for r in reconciliation}, closing_cash,
                       _accrued(actions.dividend_rows, end))
    return Statement(
        portfolio_id=portfolio.pk, start=start, end=end, opening=opening, closing=closing, activity=activity,
        totals=_statement_totals(activity, flows, opening, closing), shares=reconciliation,
        reconciled=closing_cash == opening_cash + flows
        and all(r.closing == r.opening + r.bought - r.sold + r.split for r in reconciliation),
    )


@dataclass(frozen=True)
class _LedgerBefore:
    """The ledger's state before the period, from aggregates."""

    shares: dict[str, Decimal]
    """Shares bought less sold per symbol (corporate actions not included)."""
    cash: Decimal
    """Every cash movement and trade cash flow before the period."""


def _ledger_before(portfolio: Portfolio, start: date, begin: datetime) -> _LedgerBefore:
    # Aggregates, rounded to the columns' scale: SQLite sums decimals as floats.
    trades = Trade.objects.filter(portfolio=portfolio, trade_date__lt=start)
    shares: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for symbol, side, total in trades.values("asset__symbol", "side").annotate(
        total=Sum("quantity")
    ).values_list("asset__symbol", "side", "total"):
        total = Decimal(total).quantize(SHARES)
        shares[symbol] += total if side == Trade.Side.BUY else -total
    trade_cash = Decimal(trades.aggregate(s=Sum("cash_flow"))["s"] or 0).quantize(CENTS4)
    movements = Decimal(
        CashMovement.objects.filter(portfolio=portfolio, at__lt=begin).aggregate(s=Sum("amount"))["s"] or 0
    ).quantize(CENTS4)
    return _LedgerBefore(shares=shares, cash=movements + trade_cash)


@dataclass(frozen=True)
class _TradeActivity:
    lines: list[ActivityLine]
    bought: dict[str, Decimal]
    sold: dict[str, Decimal]


def _trade_activity(portfolio: Portfolio, start: date, end: date) -> _TradeActivity:
    """The period's trades as activity lines, and the shares bought and sold per symbol."""
    lines: list[ActivityLine] = []
    bought: dict[str, Decimal] = defaultdict(lambda: ZERO)
    sold: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for pk, day, at, symbol, side, qty, price, commission, cash_flow, gain, reason in Trade.objects.filter(
        portfolio=portfolio, trade_date__gte=start, trade_date__lte=end
    ).order_by("trade_date", "executed_at", "id").values_list(
        "pk", "trade_date", "executed_at", "asset__symbol", "side", "quantity", "price", "commission", "cash_flow",
        "realized_gain", "reason",
    ):
        (bought if side == Trade.Side.BUY else sold)[symbol] += qty
        lines.append(ActivityLine(day, at, side, f"trade-{pk}", symbol, qty, price, cash_flow, commission, gain, reason))
    return _TradeActivity(lines=lines, bought=bought, sold=sold)


def _cash_activity(portfolio: Portfolio, begin: datetime, stop: datetime) -> list[ActivityLine]:
    return [
        ActivityLine(at.date(), at, kind, f"cash-{pk}", amount=amount, description=note)
        for pk, kind, amount, at, note in CashMovement.objects.filter(
            portfolio=portfolio, at__gte=begin, at__lt=stop
        ).order_by("at", "id").values_list("pk", "kind", "amount", "at", "note")
    ]


@dataclass(frozen=True)
class _ActionActivity:
    lines: list[ActivityLine]
    """The period's splits and dividend entitlements (no cash effect: dividends pay as movements)."""
    split_before: dict[str, Decimal]
    """Shares that applied splits added (or took) before the period, per symbol."""
    split_during: dict[str, Decimal]
    dividend_rows: list[tuple]
    """(ex_date, pay_date, amount) of every cash dividend up to the period's end, for the receivables."""


def _action_activity(portfolio: Portfolio, start: date, end: date) -> _ActionActivity:
    split_before: dict[str, Decimal] = defaultdict(lambda: ZERO)
    split_during: dict[str, Decimal] = defaultdict(lambda: ZERO)
    dividend_rows = []
    lines: list[ActivityLine] = []
    for pk, kind, status, ex, pay, symbol, shares, delta, amount, note in CorporateActionApplication.objects.filter(
        portfolio=portfolio, ex_date__lte=end
    ).order_by("ex_date", "id").values_list(
        "pk", "kind", "status", "ex_date", "pay_date", "asset__symbol", "shares", "quantity_delta", "amount", "note"
    ):
        if kind == "dividend" and amount is not None and status in ("accrued", "paid"):
            dividend_rows.append((ex, pay, amount))
        applied = status == CorporateActionApplication.Status.APPLIED
        if ex < start:
            if applied:
                split_before[symbol] += delta
            continue
        if applied:
            split_during[symbol] += delta
        line_kind = "split" if kind == "split" else "dividend_entitlement"
        lines.append(ActivityLine(
            ex, None, line_kind, f"action-{pk}", symbol, delta if kind == "split" else shares, None,
            ZERO, ZERO, None, note if status != "not_applicable" else f"not applied: {note}",
        ))
    return _ActionActivity(lines=lines, split_before=split_before, split_during=split_during,
                           dividend_rows=dividend_rows)


def _shares_reconciled(
    opening: dict[str, Decimal], bought: dict[str, Decimal], sold: dict[str, Decimal], split: dict[str, Decimal]
) -> list[ShareReconciliation]:
    """Per symbol: opening shares + bought - sold + split shares = closing shares."""
    return [
        ShareReconciliation(
            s, opening.get(s, ZERO), bought.get(s, ZERO), sold.get(s, ZERO), split.get(s, ZERO),
            opening.get(s, ZERO) + bought.get(s, ZERO) - sold.get(s, ZERO) + split.get(s, ZERO),
        )
        for s in sorted(set(opening) | set(bought) | set(sold) | set(split))
    ]


def _statement_totals(
    activity: Sequence[ActivityLine], flows: Decimal, opening: Balance, closing: Balance
) -> StatementTotals:
    def by_kind(kind: str) -> Decimal:
        return sum((x.amount for x in activity if x.kind == kind), ZERO)

    deposits, withdrawals = by_kind("deposit"), -by_kind("withdrawal")
    dividends, interest, fees = by_kind("dividend"), by_kind("interest"), -by_kind("fee")
    return StatementTotals(
        deposits=deposits, withdrawals=withdrawals, dividends=dividends, interest=interest, fees=fees,
        commissions=sum((x.commission for x in activity), ZERO),
        bought=-by_kind("buy"), sold=by_kind("sell"),
        realized_gain=sum((x.realized_gain or ZERO for x in activity if x.kind == "sell"), ZERO),
        net_cash_flow=flows,
        market_change=closing.value - opening.value - deposits + withdrawals - dividends - interest + fees,
    )


# --- CSV ----------------------------------------------------------------------------------------


def _csv(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v.isoformat() if isinstance(v, date | datetime) else v for v in row])
    return buffer.getvalue()


TAX_CSV_HEADER = (
    "section", "symbol", "quantity", "date_acquired", "date_sold", "term", "proceeds", "cost_basis",
    "adjustment_code", "adjustment", "gain_or_loss", "harvested", "reference",
)


def tax_report_csv(report: TaxReport) -> str:
    """The tax report as one CSV table: realized lines, wash sales, dividends, then totals."""
    rows: list[Sequence] = []
    for x in report.realized:
        rows.append(("realized", x.symbol, x.quantity, x.holding_from, x.sold_on, x.term, x.proceeds, x.cost_basis,
                     x.adjustment_code, x.wash_sale_disallowed, x.gain, "yes" if x.harvested else "", f"closing-{x.closing_id}"))
    for w in report.wash_sales:
        rows.append(("wash_sale", w.symbol, w.quantity, w.replacement_acquired_on, w.sold_on, "", "", "", "W",
                     w.disallowed_loss, "", "", f"closing-{w.closing_id} lot-{w.replacement_lot_id}"))
    for d in report.dividends:
        rows.append(("dividend", d.symbol, d.shares, d.ex_date, d.pay_date, "qualified" if d.qualified else "ordinary",
                     d.amount, "", "", d.qualified, "", "", f"cash-{d.cash_movement_id}"))
    for name, t in (("total_short_term", report.short_term), ("total_long_term", report.long_term), ("total", report.total)):
        rows.append((name, "", t.lines, "", "", "", t.proceeds, t.cost_basis, "", t.wash_sale_disallowed, t.net, "", ""))
    rows.append(("total_harvested_losses", "", report.harvested_lines, "", "", "", "", "", "", "", report.harvested_losses, "yes", ""))
    rows.append(("total_dividends", "", len(report.dividends), "", "", "", report.dividend_totals.total, "", "", "",
                 "", "", f"qualified {report.dividend_totals.qualified}"))
    rows.append(("total_interest", "", "", "", "", "", report.interest, "", "", "", "", "", ""))
    rows.append(("total_fees", "", "", "", "", "", report.fees, "", "", "", "", "", ""))
    return _csv(TAX_CSV_HEADER, rows)


STATEMENT_CSV_HEADER = (
    "section", "date", "kind", "symbol", "quantity", "price", "amount", "commission", "realized_gain", "reference",
    "description",
)


def statement_csv(statement: Statement) -> str:
    """The statement as one CSV table: opening, every line, closing, totals, shares reconciled."""
    rows: list[Sequence] = []
    for label, balance in (("opening", statement.opening),):
        rows.append((f"{label}_cash", balance.as_of, "cash", "", "", "", balance.cash, "", "", "", ""))
        rows.append((f"{label}_accrued_dividends", balance.as_of, "receivable", "", "", "", balance.accrued_dividends, "", "", "", ""))
        rows += [(f"{label}_position", balance.as_of, "position", p.symbol, p.quantity, p.price, p.market_value, "", "", "", "")
                 for p in balance.positions]
    rows += [
        ("activity", x.date, x.kind, x.symbol, x.quantity, x.price, x.amount, x.commission, x.realized_gain, x.ref, x.description)
        for x in statement.activity
    ]
    balance = statement.closing
    rows += [("closing_position", balance.as_of, "position", p.symbol, p.quantity, p.price, p.market_value, "", "", "", "")
             for p in balance.positions]
    rows.append(("closing_accrued_dividends", balance.as_of, "receivable", "", "", "", balance.accrued_dividends, "", "", "", ""))
    rows.append(("closing_cash", balance.as_of, "cash", "", "", "", balance.cash, "", "", "", ""))
    for f in fields(StatementTotals):
        rows.append(("total", statement.end, f.name, "", "", "", getattr(statement.totals, f.name), "", "", "", ""))
    rows += [("shares", statement.end, "reconciliation", r.symbol, r.closing, "", "", "", "", "",
              f"opening {r.opening} + bought {r.bought} - sold {r.sold} + split {r.split}") for r in statement.shares]
    return _csv(STATEMENT_CSV_HEADER, rows)


def as_dict(value) -> dict:
    """A statement or report as plain dicts (for the API serializers)."""
    return asdict(value)


__all__ = [
    "Statement",
    "TaxReport",
    "as_dict",
    "statement_csv",
    "statement_get",
    "tax_report_csv",
    "tax_report_get",
]
