"""The ledger audit: every invariant of the ledger checked with aggregate queries.

Checks, per portfolio:

* ``cash_mismatch`` — cash != sum of cash movements + sum of trade cash flows;
* ``negative_cash`` — cash < 0 while negative cash is not allowed;
* ``position_lot_mismatch`` — a position's quantity != the shares open in its lots;
* ``position_trade_mismatch`` — a position's quantity != shares bought - shares sold +
  shares added by splits;
* ``negative_quantity`` — a position or lot below zero;
* ``lot_closing_mismatch`` — a lot's closed shares != the shares its closings record;
* ``trade_cash_flow`` — a trade's cash flow != ∓(quantity x price) - commission;
* ``trade_realized_mismatch`` — a sell's realized gain != the sum of its closings' gains;
* ``wash_sale_mismatch`` — a closing's disallowed loss or washed shares != its wash-sale
  matches, or a replacement lot's wash adjustment != the losses moved into it;
* ``dividend_mismatch`` — a paid dividend without its cash movement of the same amount;
* ``tax_report_mismatch`` — a year's tax report (per term: net gain, proceeds, lines;
  dividends) differs from the aggregates of the ledger's closings and movements;
* ``statement_mismatch`` — the statement from the first ledger day to today does not
  reconcile, or its closing cash and shares differ from the portfolio's.

The statement checks read each portfolio's statement and yearly tax reports (a few
queries per portfolio and year); ``statements=False`` skips them.

A constant number of queries for the whole database (or one portfolio).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import QuerySet, Sum

from portfolios.models import (
    CashMovement,
    CorporateActionApplication,
    LotClosing,
    Portfolio,
    Position,
    TaxLot,
    Trade,
    WashSale,
)
from portfolios.trading.costs import MONEY, QUANTITY, money

if TYPE_CHECKING:
    from portfolios.statements import TaxReport

ZERO = Decimal(0)


@dataclass(frozen=True)
class LedgerViolation:
    """One broken invariant: where, which, and the numbers."""

    portfolio_id: int
    code: str
    message: str
    expected: str = ""
    actual: str = ""


def _scope(qs: QuerySet, portfolio: Portfolio | None, field: str = "portfolio") -> QuerySet:
    return qs if portfolio is None else qs.filter(**{field: portfolio.pk})


def _sums(qs: QuerySet, keys: tuple[str, ...], value: str, quantum: Decimal = MONEY) -> dict[tuple, Decimal]:
    """Grouped sums, rounded to the column's scale (SQLite sums decimals as floats)."""
    rows = qs.values(*keys).annotate(total=Sum(value)).values_list(*keys, "total")
    return {tuple(row[:-1]): Decimal(row[-1] or 0).quantize(quantum) for row in rows}


def ledger_audit(*, portfolio: Portfolio | None = None, statements: bool = True) -> list[LedgerViolation]:
    """Every violation of the ledger's invariants (empty list: the ledger is consistent)."""
    violations = [
        *_cash_violations(portfolio),
        *_position_violations(portfolio),
        *_lot_violations(portfolio),
        *_trade_violations(portfolio),
        *_wash_sale_violations(portfolio),
        *_dividend_violations(portfolio),
    ]
    if statements:
        violations += _statement_violations(portfolio)
    return violations


def _cash_violations(portfolio: Portfolio | None) -> list[LedgerViolation]:
    """``cash_mismatch`` and ``negative_cash``, per portfolio."""
    out: list[LedgerViolation] = []
    portfolios = list(_scope(Portfolio.objects.all(), portfolio, "pk").values_list("pk", "cash", "allow_negative_cash"))
    movements = _sums(_scope(CashMovement.objects.all(), portfolio), ("portfolio_id",), "amount")
    flows = _sums(_scope(Trade.objects.all(), portfolio), ("portfolio_id",), "cash_flow")
    for pid, cash, allow_negative in portfolios:
        expected = movements.get((pid,), ZERO) + flows.get((pid,), ZERO)
        if cash != expected:
            out.append(
                LedgerViolation(pid, "cash_mismatch", "cash differs from movements + trade cash flows", str(expected), str(cash))
            )
        if cash < 0 and not allow_negative:
            out.append(LedgerViolation(pid, "negative_cash", "cash is negative", "0", str(cash)))
    return out


def _position_violations(portfolio: Portfolio | None) -> list[LedgerViolation]:
    """Per (portfolio, asset): the position against its open lots and against buys - sells + splits."""
    out: list[LedgerViolation] = []
    open_lots = _sums(_scope(TaxLot.objects.all(), portfolio), ("portfolio_id", "asset_id"), "quantity_open", QUANTITY)
    trades = _scope(Trade.objects.all(), portfolio)
    bought = _sums(trades.filter(side=Trade.Side.BUY), ("portfolio_id", "asset_id"), "quantity", QUANTITY)
    sold = _sums(trades.filter(side=Trade.Side.SELL), ("portfolio_id", "asset_id"), "quantity", QUANTITY)
    split = _sums(
        _scope(CorporateActionApplication.objects.filter(status=CorporateActionApplication.Status.APPLIED), portfolio),
        ("portfolio_id", "asset_id"), "quantity_delta", QUANTITY,
    )
    positions = {
        (pid, aid): qty
        for pid, aid, qty in _scope(Position.objects.all(), portfolio).values_list("portfolio_id", "asset_id", "quantity")
    }
    for key in sorted(set(positions) | set(open_lots) | set(bought) | set(sold) | set(split)):
        pid, aid = key
        held = positions.get(key, ZERO)
        in_lots = open_lots.get(key, ZERO)
        traded = bought.get(key, ZERO) - sold.get(key, ZERO) + split.get(key, ZERO)
        if held < 0:
            out.append(LedgerViolation(pid, "negative_quantity", f"position in asset {aid} is negative", "0", str(held)))
        if held != in_lots:
            out.append(
                LedgerViolation(pid, "position_lot_mismatch", f"position in asset {aid} differs from its open lots", str(in_lots), str(held))
            )
        if held != traded:
            out.append(
                LedgerViolation(
                    pid, "position_trade_mismatch", f"position in asset {aid} differs from buys - sells + splits",
                    str(traded), str(held),
                )
            )
    return out


def _lot_violations(portfolio: Portfolio | None) -> list[LedgerViolation]:
    """Per lot: not negative, and its closed shares are the shares its closings record."""
    out: list[LedgerViolation] = []
    closed = _sums(_scope(LotClosing.objects.all(), portfolio, "lot__portfolio"), ("lot_id",), "quantity", QUANTITY)
    lots = _scope(TaxLot.objects.all(), portfolio).values_list("pk", "portfolio_id", "quantity_original", "quantity_open")
    for lot_id, pid, original, open_qty in lots:
        if open_qty < 0:
            out.append(LedgerViolation(pid, "negative_quantity", f"lot {lot_id} is negative", "0", str(open_qty)))
        if original - open_qty != closed.get((lot_id,), ZERO):
            out.append(
                LedgerViolation(
                    pid, "lot_closing_mismatch", f"lot {lot_id}'s closed shares differ from its closings",
                    str(closed.get((lot_id,), ZERO)), str(original - open_qty),
                )
            )
    return out


def _trade_violations(portfolio: Portfolio | None) -> list[LedgerViolation]:
    """Per trade: its cash flow from quantity, price and commission; a sell's gain from its closings."""
    out: list[LedgerViolation] = []
    closed_gain = _sums(_scope(LotClosing.objects.all(), portfolio, "lot__portfolio"), ("trade_id",), "realized_gain")
    rows = _scope(Trade.objects.all(), portfolio).values_list(
        "pk", "portfolio_id", "side", "quantity", "price", "commission", "cash_flow", "realized_gain"
    )
    for trade_id, pid, side, qty, price, commission, cash_flow, realized in rows:
        gross = money(qty * price)
        expected = (-gross if side == Trade.Side.BUY else gross) - commission
        if cash_flow != expected:
            out.append(
                LedgerViolation(pid, "trade_cash_flow", f"trade {trade_id}'s cash flow is inconsistent", str(expected), str(cash_flow))
            )
        if side == Trade.Side.SELL and realized != closed_gain.get((trade_id,), ZERO):
            out.append(
                LedgerViolation(
                    pid, "trade_realized_mismatch", f"trade {trade_id}'s realized gain differs from its lot closings",
                    str(closed_gain.get((trade_id,), ZERO)), str(realized),
                )
            )
    return out


@dataclass(frozen=True)
class _TaxAggregates:
    """The ledger's side of the tax reports: sums per (portfolio, year, term) and (portfolio, year)."""

    net: dict[tuple, Decimal]
    disallowed: dict[tuple, Decimal]
    proceeds: dict[tuple, Decimal]
    counts: dict[tuple, int]
    dividends: dict[tuple, Decimal]

    def years(self) -> dict[int, set[int]]:
        """The years each portfolio closed a lot or received a dividend in."""
        years: dict[int, set[int]] = {}
        for pid, year, _ in self.counts:
            years.setdefault(pid, set()).add(year)
        for pid, year in self.dividends:
            years.setdefault(pid, set()).add(year)
        return years


def _tax_aggregates(portfolio: Portfolio | None) -> _TaxAggregates:
    from django.db.models import Count
    from django.db.models.functions import ExtractYear

    closings = _scope(LotClosing.objects.all(), portfolio, "lot__portfolio").annotate(year=ExtractYear("closed_on"))
    term = ("lot__portfolio_id", "year", "holding_period")
    return _TaxAggregates(
        net=_sums(closings, term, "realized_gain"),
        disallowed=_sums(closings, term, "wash_disallowed"),
        proceeds=_sums(closings, term, "proceeds"),
        counts={
            (row["lot__portfolio_id"], row["year"], row["holding_period"]): row["n"]
            for row in closings.values(*term).annotate(n=Count("id"))
        },
        dividends=_sums(
            _scope(CashMovement.objects.filter(kind=CashMovement.Kind.DIVIDEND), portfolio).annotate(year=ExtractYear("at")),
            ("portfolio_id", "year"), "amount",
        ),
    )


def _statement_violations(portfolio: Portfolio | None) -> list[LedgerViolation]:
    """``tax_report_mismatch`` per portfolio and year, then ``statement_mismatch`` per portfolio."""
    from portfolios.statements import tax_report_get

    out: list[LedgerViolation] = []
    aggregates = _tax_aggregates(portfolio)
    rows = {p.pk: p for p in _scope(Portfolio.objects.all(), portfolio, "pk")}
    for pid, own in sorted(aggregates.years().items()):
        for year in sorted(own):
            report = tax_report_get(portfolio=rows[pid], year=year)
            out += _tax_report_violations(pid, year, report, aggregates)
    out += _balance_violations(portfolio, rows)
    return out


def _tax_report_violations(pid: int, year: int, report: TaxReport, aggregates: _TaxAggregates) -> list[LedgerViolation]:
    """One year's tax report against the ledger's aggregates: each term's totals, the dividends."""
    out: list[LedgerViolation] = []
    a = aggregates
    for term, totals in (("short", report.short_term), ("long", report.long_term)):
        key = (pid, year, term)
        expected = (a.net.get(key, ZERO) + a.disallowed.get(key, ZERO), a.proceeds.get(key, ZERO), a.counts.get(key, 0))
        actual = (totals.net, totals.proceeds, totals.lines)
        if expected != actual:
            out.append(LedgerViolation(
                pid, "tax_report_mismatch", f"{year} {term}-term totals of the tax report differ from the closings",
                str(expected), str(actual),
            ))
    if report.dividend_totals.total != a.dividends.get((pid, year), ZERO):
        out.append(LedgerViolation(
            pid, "tax_report_mismatch", f"{year} dividends of the tax report differ from the movements",
            str(a.dividends.get((pid, year), ZERO)), str(report.dividend_totals.total),
        ))
    return out


def _balance_violations(portfolio: Portfolio | None, rows: dict[int, Portfolio]) -> list[LedgerViolation]:
    """Each portfolio's statement over all time reconciles and closes at its cash and positions."""
    from datetime import date

    from portfolios.statements import statement_get

    out: list[LedgerViolation] = []
    positions = {
        (pid, symbol): qty
        for pid, symbol, qty in _scope(Position.objects.filter(quantity__gt=0), portfolio).values_list(
            "portfolio_id", "asset__symbol", "quantity"
        )
    }
    for pid, row in sorted(rows.items()):
        statement = statement_get(portfolio=row, start=date(1900, 1, 1), end=date(2200, 12, 31))
        held = {(pid, p.symbol): p.quantity for p in statement.closing.positions}
        mine = {k: v for k, v in positions.items() if k[0] == pid}
        if not statement.reconciled or statement.closing.cash != row.cash or held != mine:
            out.append(LedgerViolation(
                pid, "statement_mismatch", "the statement does not reconcile with the portfolio's cash and positions",
                f"cash {row.cash}, {sorted(mine.items())}",
                f"cash {statement.closing.cash}, {sorted(held.items())}, reconciled={statement.reconciled}",
            ))
    return out


def _wash_sale_violations(portfolio: Portfolio | None) -> list[LedgerViolation]:
    out: list[LedgerViolation] = []
    washes = _scope(WashSale.objects.all(), portfolio, "closing__lot__portfolio")
    by_closing = _sums(washes, ("closing_id",), "disallowed_loss")
    shares = _sums(washes, ("closing_id",), "quantity", QUANTITY)
    by_lot = _sums(washes, ("replacement_lot_id",), "disallowed_loss")
    closings = _scope(LotClosing.objects.filter(wash_disallowed__gt=0), portfolio, "lot__portfolio").values_list(
        "pk", "lot__portfolio_id", "wash_disallowed", "washed_quantity"
    )
    seen = set()
    for pk, pid, disallowed, washed in closings:
        seen.add(pk)
        if disallowed != by_closing.get((pk,), ZERO) or washed != shares.get((pk,), ZERO):
            out.append(LedgerViolation(
                pid, "wash_sale_mismatch", f"closing {pk}'s wash-sale fields differ from its matches",
                f"{by_closing.get((pk,), ZERO)} on {shares.get((pk,), ZERO)} shares", f"{disallowed} on {washed} shares",
            ))
    for (pk,), total in by_closing.items():
        if pk not in seen and total:
            out.append(LedgerViolation(0, "wash_sale_mismatch", f"closing {pk} has matches but no disallowed loss", str(total), "0"))
    lots = _scope(TaxLot.objects.filter(wash_replacement=True), portfolio).values_list("pk", "portfolio_id", "wash_adjustment")
    for pk, pid, adjustment in lots:
        if adjustment != by_lot.get((pk,), ZERO):
            out.append(LedgerViolation(
                pid, "wash_sale_mismatch", f"replacement lot {pk}'s wash adjustment differs from the losses moved into it",
                str(by_lot.get((pk,), ZERO)), str(adjustment),
            ))
    return out


def _dividend_violations(portfolio: Portfolio | None) -> list[LedgerViolation]:
    out: list[LedgerViolation] = []
    paid = _scope(
        CorporateActionApplication.objects.filter(status=CorporateActionApplication.Status.PAID), portfolio
    ).values_list("pk", "portfolio_id", "amount", "cash_movement__amount", "cash_movement__kind")
    for pk, pid, amount, moved, kind in paid:
        if moved is None or moved != amount or kind != CashMovement.Kind.DIVIDEND:
            out.append(LedgerViolation(
                pid, "dividend_mismatch", f"paid dividend {pk} differs from its cash movement", str(amount), str(moved),
            ))
    return out


__all__ = ["LedgerViolation", "ledger_audit"]
