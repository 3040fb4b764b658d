"""The investor's portfolios in the account lifecycle (``users.account``): export and close.

Closing keeps the ledger (cash movements, trades, lots, decisions: the records a broker
must keep for years) and stops everything else: a portfolio is closed only when it is flat,
or after the paper broker sold every position at its latest close and the cash was paid out
(a withdrawal in the ledger) when the investor asked to liquidate.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from common.errors import Conflict
from portfolios.models import (
    AutonomySettings,
    CashMovement,
    Decision,
    Portfolio,
    PortfolioSnapshot,
    Position,
    TargetAllocation,
    TaxLot,
    Trade,
)
from portfolios.prices import latest_closes
from portfolios.services import cash_withdraw, portfolio_lock, trades_execute
from portfolios.trading import SELL, ProposedTrade

CLOSED_REASON = "account closed"


def _jsonable(rows: Any) -> Any:
    """Decimals as strings (money keeps its places), dates as ISO strings."""
    return json.loads(json.dumps(rows, cls=DjangoJSONEncoder))


def account_export(*, user: Any) -> dict[str, Any]:
    portfolios = []
    for p in Portfolio.objects.filter(owner=user).order_by("id"):
        autonomy = AutonomySettings.objects.filter(portfolio=p).values().first()
        portfolios.append({
            "id": p.pk, "name": p.name, "base_currency": p.base_currency, "benchmark_symbol": p.benchmark_symbol,
            "lot_method": p.lot_method, "cash": p.cash, "created_at": p.created_at,
            "autonomy": autonomy,
            "targets": list(TargetAllocation.objects.filter(portfolio=p).values("asset__symbol", "asset_class", "weight")),
            "positions": list(Position.objects.filter(portfolio=p).values("asset__symbol", "quantity")),
            "cash_movements": list(CashMovement.objects.filter(portfolio=p).values("id", "kind", "amount", "at", "note")),
            "trades": list(Trade.objects.filter(portfolio=p).order_by("executed_at", "id").values(
                "id", "asset__symbol", "side", "quantity", "price", "commission", "slippage", "cash_flow",
                "realized_gain", "executed_at", "trade_date", "broker", "reason", "decision_id")),
            "tax_lots": list(TaxLot.objects.filter(portfolio=p).order_by("id").values(
                "id", "asset__symbol", "acquired_on", "quantity_original", "quantity_open", "cost_basis",
                "cost_basis_open")),
            "decisions": list(Decision.objects.filter(portfolio=p).order_by("id").values(
                "id", "as_of", "status", "mode", "strategy", "summary", "created_at", "decided_at", "executed_at")),
            "snapshots": list(PortfolioSnapshot.objects.filter(portfolio=p).order_by("date").values(
                "date", "value", "cash", "invested", "net_flows")),
        })
    return {"portfolios": _jsonable(portfolios)}


def _liquidate(portfolio: Portfolio) -> str:
    """Sell every position at its latest close with the paper broker; pay the cash out."""
    held = {p.asset.symbol: p.quantity for p in Position.objects.filter(portfolio=portfolio, quantity__gt=0)
            .select_related("asset")}
    closes = latest_closes(symbols=list(held))
    unpriced = sorted(set(held) - set(closes))
    if unpriced:
        raise Conflict(f"{portfolio.name}: no price to sell {', '.join(unpriced)} at", code="no_price",
                       field="liquidate", extra={"portfolio_id": portfolio.pk})
    by_day: dict[date, list[ProposedTrade]] = defaultdict(list)
    for symbol, quantity in held.items():
        close, day = closes[symbol]
        by_day[day].append(ProposedTrade(symbol, SELL, quantity, close, Decimal(0), CLOSED_REASON, price=close))
    for day, trades in sorted(by_day.items()):
        trades_execute(portfolio=portfolio, trades=trades, as_of=day)
    portfolio.refresh_from_db(fields=["cash"])
    paid = portfolio.cash
    if paid > 0:
        cash_withdraw(portfolio=portfolio, amount=paid, note=CLOSED_REASON)
    return f"sold {len(held)} positions, paid out {paid:.2f} {portfolio.base_currency}"


@transaction.atomic
def account_close(*, user: Any, liquidate: bool) -> list[dict[str, Any]]:
    """Close every portfolio of ``user``; 409 naming ``liquidate`` for one not flat without it."""
    closed = []
    for portfolio in Portfolio.objects.filter(owner=user).order_by("id"):
        portfolio = portfolio_lock(portfolio=portfolio)
        holds = Position.objects.filter(portfolio=portfolio, quantity__gt=0).count()
        if (holds or portfolio.cash != 0) and not liquidate:
            raise Conflict(
                f"{portfolio.name} still holds {holds} positions and {portfolio.cash:.2f} "
                f"{portfolio.base_currency} in cash; sell and withdraw first, or close with liquidate=true "
                "to sell at the latest closes and pay the cash out",
                code="portfolio_not_flat", field="liquidate", extra={"portfolio_id": portfolio.pk},
            )
        if getattr(portfolio, "broker", "paper") != "paper" and holds:
            raise Conflict(f"{portfolio.name} is held at a real broker; close its positions there first",
                           code="portfolio_not_flat", field="liquidate", extra={"portfolio_id": portfolio.pk})
        summary = _liquidate(portfolio) if (holds or portfolio.cash > 0) else "was empty"
        AutonomySettings.objects.filter(portfolio=portfolio).update(enabled=False, paused_reason=CLOSED_REASON)
        Decision.objects.filter(portfolio=portfolio, status=Decision.Status.PROPOSED).update(
            status=Decision.Status.EXPIRED, status_reason=CLOSED_REASON, decided_at=timezone.now()
        )
        TargetAllocation.objects.filter(portfolio=portfolio).delete()
        closed.append({"id": portfolio.pk, "name": portfolio.name, "summary": summary})
    return closed
