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
* ``dividend_mismatch`` — a paid dividend without its cash movement of the same amount.

A constant number of queries for the whole database (or one portfolio).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

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
            violations.append(LedgerViolation(pid, "negative_quantity", f"position in asset {aid} is negative", "0", str(held)))
        if held != in_lots:
            violations.append(
                LedgerViolation(pid, "position_lot_mismatch", f"position in asset {aid} differs from its open lots", str(in_lots), str(held))
            )
        if held != traded:
            violations.append(
                LedgerViolation(
                    pid, "position_trade_mismatch", f"position in asset {aid} differs from buys - sells + splits",
                    str(traded), str(held),
                )
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

    closed_gain = _sums(_scope(LotClosing.objects.all(), portfolio, "lot__portfolio"), ("trade_id",), "realized_gain")
    rows = trades.values_list("pk", "portfolio_id", "side", "quantity", "price", "commission", "cash_flow", "realized_gain")
    for trade_id, pid, side, qty, price, commission, cash_flow, realized in rows:
        gross = money(qty * price)
        expected = (-gross if side == Trade.Side.BUY else gross) - commission
        if cash_flow != expected:
            violations.append(
                LedgerViolation(pid, "trade_cash_flow", f"trade {trade_id}'s cash flow is inconsistent", str(expected), str(cash_flow))
            )
        if side == Trade.Side.SELL and realized != closed_gain.get((trade_id,), ZERO):
            violations.append(
                LedgerViolation(
                    pid, "trade_realized_mismatch", f"trade {trade_id}'s realized gain differs from its lot closings",
                    str(closed_gain.get((trade_id,), ZERO)), str(realized),
                )
            )
    violations += _wash_sale_violations(portfolio)
    violations += _dividend_violations(portfolio)
    return violations


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
