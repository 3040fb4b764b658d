"""Reconciliation: the broker's positions and cash against the ledger, and the way back.

:func:`reconciliation_run` (daily by beat, on demand from the admin or ``manage.py
reconcile``) first records every fill the broker has (:func:`~portfolios.services.orders.orders_sync`),
then compares, symbol by symbol, the broker's quantity with the ledger's position and the
broker's cash with the ledger's cash. Differences within ``BROKER_RECONCILE_*_TOLERANCE``
are rounding. Anything else is a **mismatch**: a :class:`~portfolios.models.Reconciliation`
row with status ``mismatch`` (listed in the admin with each difference), the portfolio's
autonomy paused (no cycle trades on a ledger that is wrong), a log error, and, once that is
committed, every registered mismatch handler called (:func:`reconciliation_mismatch_register`:
the autopilot notifies the investor, with push; the ops dashboard and ``/metrics`` count the
open mismatches).

The procedure to resolve one (README, "Reconciliation"):

1. Read the differences in the admin (Reconciliations, filter "mismatch (open)").
2. If the broker is right (a fill we missed, a corporate action, a transfer, the account's
   opening balance): :func:`reconciliation_accept` — the broker's numbers become ledger
   adjustments: a trade per symbol (tag ``reconciliation``; added shares at the broker's
   average entry price, removed shares at its current price, lots opened or closed by the
   portfolio's lot method), then one cash movement (a deposit or a withdrawal noted
   "reconciliation #N") for what remains of the cash difference. The ledger then equals the
   broker; the audit stays clean; autonomy resumes if the reconciliation had paused it.
3. If the ledger is right (the broker will correct itself): :func:`reconciliation_dismiss`.
4. Either way, the next run must come back ``matched``.

Accepting requires the ledger to be where the reconciliation saw it (same ledger version);
if a fill arrived since, run the reconciliation again (409).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common.errors import Conflict, Unprocessable
from marketdata.models import Asset
from portfolios.brokers import BrokerError, Fill, OrderBroker
from portfolios.models import (
    AutonomySettings,
    BrokerAccount,
    Order,
    Portfolio,
    Position,
    Reconciliation,
    TaxLot,
)
from portfolios.services._locks import portfolio_lock
from portfolios.services.broker_accounts import order_broker_for
from portfolios.services.execution import Ledger
from portfolios.services.ledger import cash_movement_record
from portfolios.services.orders import BrokerFactory, orders_sync
from portfolios.services.portfolio import autonomy_pause
from portfolios.trading import BUY, SELL, ProposedTrade
from portfolios.trading.costs import PRICE, QUANTITY, ZERO, money

logger = logging.getLogger(__name__)

PAUSE_PREFIX = "reconciliation #"
SNAPSHOT_ATTEMPTS = 3
"""Fills may land between reading the positions and reading the orders: re-read up to this often."""


MismatchHandler = Callable[[Reconciliation], None]
_MISMATCH_HANDLERS: list[MismatchHandler] = []


def reconciliation_mismatch_register(handler: MismatchHandler) -> None:
    """Call ``handler(reconciliation)`` after a mismatch is committed (higher layers register
    at app start: the autopilot's notification). A failing handler is logged; it never undoes
    the reconciliation. Registering the same function twice has no effect."""
    if handler not in _MISMATCH_HANDLERS:
        _MISMATCH_HANDLERS.append(handler)


def _mismatch_announce(row: Reconciliation) -> None:
    for handler in _MISMATCH_HANDLERS:
        try:
            handler(row)
        except Exception:
            logger.exception("mismatch handler %s failed for reconciliation #%s", handler, row.pk)


def _broker(account: BrokerAccount, factory: BrokerFactory | None) -> OrderBroker:
    return factory(account) if factory else order_broker_for(account=account)


def reconciliation_run(
    *, portfolio: Portfolio, trigger: str = "on_demand", broker_factory: BrokerFactory | None = None
) -> Reconciliation:
    """Compare the broker's account with the ledger of ``portfolio``; see the module docstring.

    A broker that cannot be reached gives a ``failed`` reconciliation (nothing paused).
    A portfolio on the paper broker is a 422 (``portfolio``): there is nothing to compare.
    """
    account = BrokerAccount.objects.filter(portfolio_id=portfolio.pk).first()
    if account is None:
        raise Unprocessable(f"portfolio {portfolio.pk} has no broker account to reconcile",
                            code="no_broker_account", field="portfolio")
    try:
        broker = _broker(account, broker_factory)
        for _ in range(SNAPSHOT_ATTEMPTS):
            orders_sync(portfolio_ids=[portfolio.pk], broker_factory=broker_factory)
            state, positions = broker.account(), broker.positions()
            if orders_sync(portfolio_ids=[portfolio.pk], broker_factory=broker_factory).fills == 0:
                break
    except BrokerError as exc:
        logger.warning("reconciliation of portfolio %s failed: %s", portfolio.pk, exc)
        return Reconciliation.objects.create(portfolio_id=portfolio.pk, status=Reconciliation.Status.FAILED,
                                             trigger=trigger, error=str(exc)[:2000])
    BrokerAccount.objects.filter(pk=account.pk).update(account_number=state.account_number)
    return _compare(portfolio.pk, trigger, state.cash, {p.symbol: p for p in positions})


@transaction.atomic
def _compare(portfolio_id: int, trigger: str, broker_cash: Decimal, broker_positions: dict[str, Any]) -> Reconciliation:
    portfolio = portfolio_lock(portfolio=portfolio_id)
    ledger = dict(Position.objects.filter(portfolio=portfolio, quantity__gt=0).values_list("asset__symbol", "quantity"))
    tolerance = settings.BROKER_RECONCILE_QUANTITY_TOLERANCE
    differences = []
    for symbol in sorted(set(ledger) | set(broker_positions)):
        ours = ledger.get(symbol, ZERO)
        position = broker_positions.get(symbol)
        theirs = position.quantity if position is not None else ZERO
        if abs(theirs - ours) > tolerance:
            differences.append({
                "symbol": symbol, "ledger_quantity": str(ours), "broker_quantity": str(theirs),
                "difference": str(theirs - ours),
                "broker_avg_entry_price": str(position.avg_entry_price) if position is not None else None,
                "broker_current_price": str(position.current_price) if position and position.current_price else None,
            })
    cash_difference = money(broker_cash - portfolio.cash)
    cash_off = abs(cash_difference) > settings.BROKER_RECONCILE_CASH_TOLERANCE
    mismatch = bool(differences) or cash_off
    row = Reconciliation.objects.create(
        portfolio=portfolio, trigger=trigger,
        status=Reconciliation.Status.MISMATCH if mismatch else Reconciliation.Status.MATCHED,
        ledger_cash=portfolio.cash, broker_cash=money(broker_cash), cash_difference=cash_difference,
        differences=differences, open_orders=Order.objects.filter(portfolio=portfolio, status__in=Order.OPEN).count(),
        adjustments={"ledger_version": portfolio.ledger_version},
    )
    if not mismatch:
        return row
    Reconciliation.objects.filter(portfolio=portfolio, status=Reconciliation.Status.MISMATCH).exclude(pk=row.pk).update(
        status=Reconciliation.Status.RESOLVED, resolution_note=f"superseded by reconciliation #{row.pk}",
        resolved_at=timezone.now(),
    )
    row.paused_autonomy = autonomy_pause(
        portfolios=[portfolio], reason=f"{PAUSE_PREFIX}{row.pk}: the broker's positions or cash differ from the ledger"
    ) > 0
    row.save(update_fields=["paused_autonomy"])
    logger.error("reconciliation #%s of portfolio %s: cash %s, %s position differences",
                 row.pk, portfolio.pk, cash_difference, len(differences))
    transaction.on_commit(lambda: _mismatch_announce(row))
    return row


def _locked_open(reconciliation: Reconciliation | int) -> tuple[Reconciliation, Portfolio]:
    pk = reconciliation if isinstance(reconciliation, int) else reconciliation.pk
    portfolio_id = Reconciliation.objects.filter(pk=pk).values_list("portfolio_id", flat=True).first()
    if portfolio_id is None:
        raise Unprocessable(f"reconciliation {pk} does not exist", code="not_found", field="reconciliation")
    portfolio = portfolio_lock(portfolio=portfolio_id)
    row = Reconciliation.objects.select_for_update().get(pk=pk)
    if row.status != Reconciliation.Status.MISMATCH:
        raise Conflict(f"reconciliation #{pk} is {row.status}; only an open mismatch can be resolved",
                       code="reconciliation_not_open", field="reconciliation")
    return row, portfolio


def _resume(portfolio: Portfolio, row: Reconciliation) -> None:
    AutonomySettings.objects.filter(portfolio=portfolio, enabled=False,
                                    paused_reason__startswith=PAUSE_PREFIX).update(enabled=True, paused_reason="")


def _adjustment_trade(row: Reconciliation, difference: dict[str, Any], assets: dict[str, Asset]) -> tuple:
    symbol = difference["symbol"]
    delta = Decimal(difference["difference"]).quantize(QUANTITY)
    side = BUY if delta > 0 else SELL
    quantity = abs(delta)
    key = "broker_avg_entry_price" if side == BUY else "broker_current_price"
    price_text = difference.get(key) or difference.get("broker_avg_entry_price")
    if not price_text:
        from portfolios.prices import latest_closes

        close = latest_closes(symbols=[symbol]).get(symbol)
        if close is None:
            raise Unprocessable(f"no price to value the {symbol} adjustment", code="no_price", field="symbol")
        price_text = str(close[0])
    price = Decimal(price_text).quantize(PRICE)
    gross = money(quantity * price)
    reason = f"reconciliation #{row.pk}: the broker's position of {symbol} accepted"
    trade = ProposedTrade(symbol=symbol, side=side, quantity=quantity, est_price=price, est_cost=ZERO, reason=reason,
                          price=price, tags=("reconciliation",))
    fill = Fill(symbol=symbol, side=side, quantity=quantity, price=price, market_price=price, commission=ZERO,
                slippage=ZERO, cash_flow=-gross if side == BUY else gross, executed_at=timezone.now(),
                broker_ref=f"reconcile-{row.pk}-{symbol}")
    return trade, fill


@transaction.atomic
def reconciliation_accept(
    *, reconciliation: Reconciliation | int, user: Any = None, note: str = "", resume: bool = True
) -> Reconciliation:
    """Accept the broker's numbers: write them into the ledger as adjustments (see the module docstring).

    409 (``reconciliation``) unless it is an open mismatch seen at the current ledger
    version; 422 (``symbol``) when the broker holds an asset this server does not know.
    """
    row, portfolio = _locked_open(reconciliation)
    if row.adjustments.get("ledger_version") != portfolio.ledger_version:
        raise Conflict(f"the ledger changed since reconciliation #{row.pk}; run a new reconciliation",
                       code="reconciliation_stale", field="reconciliation")
    symbols = [d["symbol"] for d in row.differences]
    assets = {a.symbol: a for a in Asset.objects.filter(symbol__in=symbols)}
    unknown = sorted(set(symbols) - set(assets))
    if unknown:
        raise Unprocessable(f"the broker holds assets this server does not know: {', '.join(unknown)}; add them first",
                            code="unknown_symbol", field="symbol")
    if row.broker_cash < 0 and not portfolio.allow_negative_cash:
        raise Unprocessable(f"the broker reports negative cash ({row.broker_cash}); this portfolio cannot hold that",
                            code="negative_cash", field="reconciliation")
    # Sells before buys; a deposit before the trades, a withdrawal after them: the cash
    # moves monotonically to the broker's, never below zero on the way.
    pairs = sorted((_adjustment_trade(row, d, assets) for d in row.differences), key=lambda p: p[0].side != SELL)
    rest = money(row.broker_cash - portfolio.cash - sum((f.cash_flow for _, f in pairs), ZERO))
    movements: list[int] = []

    def move_cash() -> None:
        kind = "deposit" if rest > 0 else "withdrawal"
        movements.append(cash_movement_record(
            portfolio=portfolio, kind=kind, amount=abs(rest), note=f"reconciliation #{row.pk}: the broker's cash accepted",
        ).pk)

    if rest > 0:
        move_cash()
    trades_written: list[int] = []
    if pairs:
        ids = [a.pk for a in assets.values()]
        lots = list(TaxLot.objects.filter(portfolio=portfolio, asset_id__in=ids, quantity_open__gt=0))
        positions = {p.asset_id: p for p in Position.objects.filter(portfolio=portfolio, asset_id__in=ids)}
        ledger = Ledger(portfolio, assets, lots, positions, broker_name=portfolio.broker)
        for trade, fill in pairs:
            ledger.apply(trade, fill, decision=None, as_of=timezone.localdate())
        trades_written = [t.pk for t in ledger.flush()]
    if rest < 0:
        move_cash()
    for order in Order.objects.filter(portfolio=portfolio).exclude(ledger_error=""):
        order.filled_quantity, order.ledger_error = order.broker_filled_quantity, ""
        order.save(update_fields=["filled_quantity", "ledger_error", "updated_at"])
    row.status, row.resolution = Reconciliation.Status.RESOLVED, Reconciliation.Resolution.ACCEPTED_BROKER
    row.adjustments = {**row.adjustments, "trades": trades_written, "cash_movements": movements}
    row.resolution_note, row.resolved_at = note, timezone.now()
    row.resolved_by = user if getattr(user, "pk", None) else None
    row.save()
    if resume:
        _resume(portfolio, row)
    return row


@transaction.atomic
def reconciliation_dismiss(
    *, reconciliation: Reconciliation | int, user: Any = None, note: str = "", resume: bool = True
) -> Reconciliation:
    """Close an open mismatch keeping the ledger as it is (the broker is expected to correct itself)."""
    row, portfolio = _locked_open(reconciliation)
    row.status, row.resolution = Reconciliation.Status.RESOLVED, Reconciliation.Resolution.DISMISSED
    row.resolution_note, row.resolved_at = note, timezone.now()
    row.resolved_by = user if getattr(user, "pk", None) else None
    row.save()
    if resume:
        _resume(portfolio, row)
    return row


def reconciliations_run_all(*, trigger: str = "daily", broker_factory: BrokerFactory | None = None) -> list[Reconciliation]:
    """Reconcile every portfolio with a broker account (the daily beat task)."""
    out = []
    for portfolio in Portfolio.objects.filter(broker_account__isnull=False).order_by("pk"):
        out.append(reconciliation_run(portfolio=portfolio, trigger=trigger, broker_factory=broker_factory))
    return out


__all__ = [
    "reconciliation_accept",
    "reconciliation_dismiss",
    "reconciliation_run",
    "reconciliations_run_all",
]
