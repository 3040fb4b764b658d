"""The ledger audit: every invariant of the ledger checked with aggregate queries.

Checks, per portfolio:

* ``cash_mismatch`` — cash != sum of cash movements + sum of trade cash flows;
* ``negative_cash`` — cash < 0 while negative cash is not allowed;
* ``position_lot_mismatch`` — a position's quantity != the shares open in its lots;
* ``position_trade_mismatch`` — a position's quantity != shares bought - shares sold;
* ``negative_quantity`` — a position or lot below zero;
* ``lot_closing_mismatch`` — a lot's closed shares != the shares its closings record;
* ``trade_cash_flow`` — a trade's cash flow != ∓(quantity x price) - commission.

A constant number of queries for the whole database (or one portfolio).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet, Sum

from portfolios.models import CashMovement, LotClosing, Portfolio, Position, TaxLot, Trade
from portfolios.trading.costs import MONEY, QUANTITY, money

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


def ledger_audit(*, portfolio: Portfolio | None = None) -> list[LedgerViolation]:
    """Every violation of the ledger's invariants (empty list: the ledger is consistent)."""
    violations: list[LedgerViolation] = []
    portfolios = list(_scope(Portfolio.objects.all(), portfolio, "pk").values_list("pk", "cash", "allow_negative_cash"))
    movements = _sums(_scope(CashMovement.objects.all(), portfolio), ("portfolio_id",), "amount")
    flows = _sums(_scope(Trade.objects.all(), portfolio), ("portfolio_id",), "cash_flow")
    for pid, cash, allow_negative in portfolios:
        expected = movements.get((pid,), ZERO) + flows.get((pid,), ZERO)
        if cash != expected:
            violations.append(
                LedgerViolation(pid, "cash_mismatch", "cash differs from movements + trade cash flows", str(expected), str(cash))
            )
        if cash < 0 and not allow_negative:
            violations.append(LedgerViolation(pid, "negative_cash", "cash is negative", "0", str(cash)))

    open_lots = _sums(_scope(TaxLot.objects.all(), portfolio), ("portfolio_id", "asset_id"), "quantity_open", QUANTITY)
    trades = _scope(Trade.objects.all(), portfolio)
    bought = _sums(trades.filter(side=Trade.Side.BUY), ("portfolio_id", "asset_id"), "quantity", QUANTITY)
    sold = _sums(trades.filter(side=Trade.Side.SELL), ("portfolio_id", "asset_id"), "quantity", QUANTITY)
    positions = {
        (pid, aid): qty
        for pid, aid, qty in _scope(Position.objects.all(), portfolio).values_list("portfolio_id", "asset_id", "quantity")
    }
    for key in sorted(set(positions) | set(open_lots) | set(bought) | set(sold)):
        pid, aid = key
        held = positions.get(key, ZERO)
        in_lots = open_lots.get(key, ZERO)
        traded = bought.get(key, ZERO) - sold.get(key, ZERO)
        if held < 0:
            violations.append(LedgerViolation(pid, "negative_quantity", f"position in asset {aid} is negative", "0", str(held)))
        if held != in_lots:
            violations.append(
                LedgerViolation(pid, "position_lot_mismatch", f"position in asset {aid} differs from its open lots", str(in_lots), str(held))
            )
        if held != traded:
            violations.append(
                LedgerViolation(pid, "position_trade_mismatch", f"position in asset {aid} differs from buys - sells", str(traded), str(held))
            )

    closed = _sums(_scope(LotClosing.objects.all(), portfolio, "lot__portfolio"), ("lot_id",), "quantity", QUANTITY)
    lots = _scope(TaxLot.objects.all(), portfolio).values_list("pk", "portfolio_id", "quantity_original", "quantity_open")
    for lot_id, pid, original, open_qty in lots:
        if open_qty < 0:
            violations.append(LedgerViolation(pid, "negative_quantity", f"lot {lot_id} is negative", "0", str(open_qty)))
        if original - open_qty != closed.get((lot_id,), ZERO):
            violations.append(
                LedgerViolation(
                    pid, "lot_closing_mismatch", f"lot {lot_id}'s closed shares differ from its closings",
                    str(closed.get((lot_id,), ZERO)), str(original - open_qty),
                )
            )

    rows = trades.values_list("pk", "portfolio_id", "side", "quantity", "price", "commission", "cash_flow")
    for trade_id, pid, side, qty, price, commission, cash_flow in rows:
        gross = money(qty * price)
        expected = (-gross if side == Trade.Side.BUY else gross) - commission
        if cash_flow != expected:
            violations.append(
                LedgerViolation(pid, "trade_cash_flow", f"trade {trade_id}'s cash flow is inconsistent", str(expected), str(cash_flow))
            )
    return violations


__all__ = ["LedgerViolation", "ledger_audit"]
