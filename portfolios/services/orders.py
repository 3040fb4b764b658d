"""Orders at a real broker: placed with the decision, sent after commit, recorded fill by fill.

The paper broker fills a decision inside the cycle's transaction. A real broker
(:class:`~portfolios.brokers.base.OrderBroker`, e.g. Alpaca) answers later, partly, or not
at all, so execution is split into steps, each atomic and each safe to repeat:

1. :func:`orders_place` — in the transaction that writes the decision (the cycle's, or an
   approval's): one :class:`~portfolios.models.Order` per trade, sells first, status
   ``pending``, ``client_order_id`` = ``<prefix>-d<decision>-l<leg>``; the decision becomes
   ``submitted``. Nothing is sent yet; submission is enqueued for after the commit. So the
   cycle's exactly-once guarantee covers the orders: a rolled-back cycle leaves none.
2. :func:`orders_submit` — sends a decision's due orders. Outside market hours (the broker's
   clock) they stay ``pending`` with ``submit_after`` = the next open. Sells go first; buys
   wait until every sell of the decision is final (the sells' cash is then in the ledger),
   and each buy is cut to what the cash can pay (:func:`_buy_size`). The attempt is
   committed *before* the network call, and the broker's answer is recorded after it: a
   worker killed in between leaves a ``pending`` order with ``submit_attempts`` > 0, and
   the next attempt resubmits the same ``client_order_id`` — the broker already knows it
   and returns the same order (no duplicate).
3. :func:`order_state_apply` — the one service that records what the broker says about an
   order, whether it was polled (:func:`orders_sync`) or pushed by the trade-update stream
   (:func:`trade_update_apply`): the state, and any new fill as a ledger trade through the
   public :class:`~portfolios.services.execution.Ledger` — cash, position and lots change
   per fill atomically (portfolio row locked), or not at all. Fills are found by the
   cumulative filled quantity, so a fill seen twice (poll and stream) is recorded once.
4. :func:`decision_settle` — when every order of a decision is final, the decision is
   ``executed`` (something filled) or ``failed`` (nothing did), and ``status_reason`` says
   which orders were rejected, expired, canceled or cut.

:func:`open_orders_resolve` is the cycle's first step for a broker portfolio: orders still
open from an earlier decision are canceled or waited for, per the account's policy, before
anything new is decided on a ledger that is about to move.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common.errors import Unprocessable
from marketdata.models import Asset
from portfolios.brokers import (
    BrokerAuthError,
    BrokerError,
    BrokerOrder,
    BrokerOrderNotFound,
    BrokerRejected,
    Fill,
    FillEvent,
    OrderBroker,
    OrderTicket,
)
from portfolios.models import BrokerAccount, Decision, Order, OrderFill, Portfolio, Position, TaxLot
from portfolios.services._locks import portfolio_lock
from portfolios.services.broker_accounts import order_broker_for
from portfolios.services.execution import Ledger, cost_model_get
from portfolios.services.portfolio import autonomy_pause
from portfolios.trading import BUY, SELL, CostModel, ProposedTrade
from portfolios.trading.costs import BPS, PRICE, QUANTITY, ZERO, money, quantity_floor

logger = logging.getLogger(__name__)

NEW_YORK = ZoneInfo("America/New_York")
FAULT_ENV = "BROKER_FAULT"
"""Test hook (never set in production): ``after_submit`` SIGKILLs the process after the
broker accepted an order and before the answer is recorded."""
CENT = Decimal("0.01")

_BROKER_STATES = {
    "new": Order.Status.NEW,
    "pending_new": Order.Status.NEW,
    "accepted": Order.Status.ACCEPTED,
    "accepted_for_bidding": Order.Status.ACCEPTED,
    "partially_filled": Order.Status.PARTIALLY_FILLED,
    "filled": Order.Status.FILLED,
    "canceled": Order.Status.CANCELED,
    "expired": Order.Status.EXPIRED,
    "rejected": Order.Status.REJECTED,
    "replaced": Order.Status.REPLACED,
}
"""The broker's words for our states; any other (``pending_cancel``, ``done_for_day``,
``held``, ``stopped``...) keeps the order open: ``partially_filled`` if it has fills, else
``accepted``."""

BrokerFactory = Callable[[BrokerAccount], OrderBroker]


def _q(value: Decimal) -> str:
    """A quantity as people write it: 2, 0.5 (no trailing zeros, no exponent)."""
    return format(value.normalize(), "f")


def client_order_id_for(decision_id: int, leg: int) -> str:
    """The order's id at the broker: stable for (decision, leg), so a resubmission finds it."""
    return f"{settings.ALPACA_CLIENT_ORDER_PREFIX}-d{decision_id}-l{leg}"


def _fault_point(name: str) -> None:
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _broker(account: BrokerAccount, factory: BrokerFactory | None) -> OrderBroker:
    return (factory or (lambda a: order_broker_for(account=a)))(account)


# --- 1. placing ------------------------------------------------------------------------


def _limit_price(price: Decimal, side: str, offset_bps: Decimal) -> Decimal:
    """Decision close ± offset, on the broker's tick (cents from $1, else 1/100 cent)."""
    factor = offset_bps / BPS
    raw = price * (1 + factor) if side == BUY else price * (1 - factor)
    tick = CENT if raw >= 1 else Decimal("0.0001")
    return max(raw.quantize(tick), tick)


def orders_place(
    *, portfolio: Portfolio, decision: Decision, trades: Sequence[ProposedTrade], costs: CostModel | None = None
) -> list[Order]:
    """Record ``trades`` of ``decision`` as pending orders (sells first); submit after commit.

    Call inside the transaction that holds the portfolio's lock and wrote the decision.
    Raises :class:`~common.errors.Unprocessable` (field ``trades``) for an unknown symbol
    or a portfolio without a broker account; nothing is written then.
    """
    account = BrokerAccount.objects.filter(portfolio_id=portfolio.pk).first()
    if account is None:
        raise Unprocessable(
            f"portfolio {portfolio.pk} trades through {portfolio.broker} but has no broker account",
            code="broker_account_missing", field="broker",
        )
    ordered = [t for t in trades if t.side == SELL] + [t for t in trades if t.side == BUY]
    if len(ordered) != len(trades):
        raise Unprocessable("every trade's side must be buy or sell", code="invalid_side", field="trades")
    assets = {a.symbol: a for a in Asset.objects.filter(symbol__in={t.symbol for t in ordered})}
    unknown = sorted({t.symbol for t in ordered} - set(assets))
    if unknown:
        raise Unprocessable(f"unknown symbols: {', '.join(unknown)}", code="unknown_symbol", field="trades")
    costs = costs or cost_model_get(portfolio=portfolio)
    rows = []
    for leg, trade in enumerate(ordered):
        price = trade.price if trade.price > 0 else trade.est_price
        limit = (
            _limit_price(price, trade.side, account.limit_offset_bps)
            if account.order_type == BrokerAccount.OrderType.LIMIT
            else None
        )
        rows.append(Order(
            portfolio_id=portfolio.pk, decision=decision, leg=leg, client_order_id=client_order_id_for(decision.pk, leg),
            broker=account.kind, asset=assets[trade.symbol], symbol=trade.symbol, side=trade.side,
            order_type=account.order_type, planned_quantity=trade.quantity, quantity=trade.quantity,
            limit_price=limit, decision_price=price, est_price=trade.est_price or price,
            est_slippage_bps=costs.slippage_bps, reason=trade.reason, tags=list(trade.tags),
            lot_ids=list(trade.lot_ids),
        ))
    created = Order.objects.bulk_create(rows)
    decision.status = Decision.Status.SUBMITTED if created else Decision.Status.EXECUTED
    decision.executed_at = None if created else timezone.now()
    decision.save(update_fields=["status", "executed_at"])
    if created:
        transaction.on_commit(lambda: _submit_enqueue(decision.pk))
    return created


def _submit_enqueue(decision_id: int) -> None:
    from portfolios.tasks import orders_submit_task

    orders_submit_task.delay(decision_id=decision_id)


# --- 2. submitting ---------------------------------------------------------------------


@dataclass
class SubmitSummary:
    """What one :func:`orders_submit` did with a decision's pending orders."""

    submitted: int = 0
    held: int = 0
    waiting: int = 0
    refused: int = 0
    unavailable: int = 0


def orders_submit(*, decision_id: int, broker: OrderBroker | None = None,
                  broker_factory: BrokerFactory | None = None) -> SubmitSummary:
    """Send the decision's due orders (see the module docstring); safe to call again.

    Raises :class:`~portfolios.brokers.BrokerError` when the broker's clock cannot be read
    (nothing was sent; the next sync tries again).
    """
    summary = SubmitSummary()
    pending = list(Order.objects.filter(decision_id=decision_id, status=Order.Status.PENDING).order_by("leg"))
    if not pending:
        return summary
    account = BrokerAccount.objects.filter(portfolio_id=pending[0].portfolio_id).first()
    if account is None:
        return summary
    broker = broker or _broker(account, broker_factory)
    clock = broker.clock()
    if not clock.is_open:
        opens = clock.next_open.astimezone(NEW_YORK)
        held = Order.objects.filter(pk__in=[o.pk for o in pending])
        held.update(submit_after=clock.next_open,
                    status_reason=f"held for the market's open ({opens:%a %Y-%m-%d %H:%M} New York)")
        summary.held = len(pending)
        return summary
    for order in (o for o in pending if o.side == SELL):
        _submit_one(order, broker, summary)
    sells_open = Order.objects.filter(decision_id=decision_id, side=SELL).exclude(status__in=Order.FINAL).exists()
    buys = [o for o in pending if o.side == BUY]
    if sells_open:
        Order.objects.filter(pk__in=[o.pk for o in buys]).update(status_reason="waiting for the decision's sells")
        summary.waiting = len(buys)
        return summary
    for order in buys:
        sized = _buy_size(order)
        if sized.status == Order.Status.PENDING:
            _submit_one(sized, broker, summary)
    decision_settle(decision_id=decision_id)
    return summary


def _reserve_price(order: Order) -> Decimal:
    """The most a buy may pay per share: its limit, or its price plus a buffer (market orders)."""
    if order.limit_price is not None:
        return order.limit_price
    buffer = 1 + settings.BROKER_BUY_PRICE_BUFFER_BPS / BPS
    return max(order.decision_price, order.est_price) * buffer


@transaction.atomic
def _buy_size(order: Order) -> Order:
    """Cut a pending buy to the cash left after the sells and the other open buys (or cancel it)."""
    portfolio = portfolio_lock(portfolio=order.portfolio_id)
    row = Order.objects.select_for_update().get(pk=order.pk)
    if row.status != Order.Status.PENDING:
        return row
    others = Order.objects.filter(portfolio_id=row.portfolio_id, side=BUY, status__in=Order.OPEN).exclude(pk=row.pk)
    reserved = sum(
        ((o.quantity - o.filled_quantity) * _reserve_price(o) for o in others if o.status != Order.Status.PENDING),
        ZERO,
    )
    available = portfolio.cash - reserved
    price = _reserve_price(row)
    whole = row.quantity == row.quantity.to_integral_value()
    affordable = quantity_floor(available / price, fractional=not whole) if available > 0 else ZERO
    if affordable >= row.quantity:
        return row
    if affordable <= 0:
        row.status, row.final_at = Order.Status.CANCELED, timezone.now()
        row.status_reason = f"not sent: no cash left after the sells (cash {portfolio.cash}, open buys {money(reserved)})"
    else:
        row.status_reason = f"cut from {_q(row.quantity)} to {_q(affordable)} shares: the cash after the sells"
        row.quantity = affordable
    row.save(update_fields=["status", "final_at", "status_reason", "quantity", "updated_at"])
    return row


def _submit_one(order: Order, broker: OrderBroker, summary: SubmitSummary) -> None:
    with transaction.atomic():  # the attempt is on record before anything is sent
        row = Order.objects.select_for_update().get(pk=order.pk)
        if row.status != Order.Status.PENDING:
            return
        row.submit_attempts += 1
        row.save(update_fields=["submit_attempts", "updated_at"])
    ticket = OrderTicket(
        client_order_id=row.client_order_id, symbol=row.symbol, side=row.side, quantity=row.quantity,
        order_type=row.order_type, limit_price=row.limit_price, time_in_force=row.time_in_force,
    )
    try:
        snapshot = broker.order_submit(ticket)
    except BrokerAuthError as exc:
        summary.unavailable += 1
        _account_error(row.portfolio_id, str(exc))
        return
    except BrokerRejected as exc:
        summary.refused += 1
        order_refuse(order=row, reason=str(exc))
        return
    except BrokerError as exc:
        summary.unavailable += 1
        logger.warning("order %s not submitted (will retry): %s", row.client_order_id, exc)
        return
    _fault_point("after_submit")
    order_state_apply(order=row.pk, snapshot=snapshot)
    summary.submitted += 1


def _account_error(portfolio_id: int, message: str) -> None:
    logger.error("broker account of portfolio %s: %s", portfolio_id, message)
    BrokerAccount.objects.filter(portfolio_id=portfolio_id).update(last_error=message[:2000])


@transaction.atomic
def order_refuse(*, order: Order | int, reason: str, status: str = Order.Status.REJECTED) -> Order:
    """Mark an order the broker refused at submission (or that is never sent) as final."""
    pk = order if isinstance(order, int) else order.pk
    row = Order.objects.select_for_update().get(pk=pk)
    if row.is_final:
        return row
    row.status, row.status_reason, row.final_at = status, reason[:2000], timezone.now()
    row.save(update_fields=["status", "status_reason", "final_at", "updated_at"])
    transaction.on_commit(lambda: decision_settle(decision_id=row.decision_id))
    return row


# --- 3. recording what the broker says -------------------------------------------------


def _state_of(broker_status: str, has_fills: bool) -> str:
    state = _BROKER_STATES.get(broker_status)
    if state is not None:
        return state
    return Order.Status.PARTIALLY_FILLED if has_fills else Order.Status.ACCEPTED


@transaction.atomic
def order_state_apply(*, order: Order | int, snapshot: BrokerOrder, fill: FillEvent | None = None) -> Order:
    """Record the broker's ``snapshot`` of an order: its state and any fill not recorded yet.

    A new fill (the snapshot's cumulative quantity beyond what was seen) becomes one ledger
    trade at its own price — ``fill.price`` when a trade update carries it, otherwise the
    price implied by the cumulative averages — with the portfolio locked; if the ledger
    refuses it (cash or shares would go negative) the order keeps ``ledger_error`` and the
    portfolio's autonomy is paused, for the reconciliation to resolve.
    """
    pk = order if isinstance(order, int) else order.pk
    portfolio_id = Order.objects.filter(pk=pk).values_list("portfolio_id", flat=True).first()
    if portfolio_id is None:
        raise Unprocessable(f"order {pk} does not exist", code="order_unknown", field="order")
    portfolio = portfolio_lock(portfolio=portfolio_id)
    row = Order.objects.select_for_update().select_related("asset", "decision").get(pk=pk)
    if row.broker_order_id and snapshot.broker_order_id != row.broker_order_id:
        logger.error("order %s: the broker answered for order %s", row.broker_order_id, snapshot.broker_order_id)
        return row
    if not row.broker_order_id:
        row.broker_order_id = snapshot.broker_order_id
        row.submitted_at = snapshot.submitted_at or timezone.now()
    cumulative = snapshot.filled_quantity.quantize(QUANTITY)
    if cumulative > row.broker_filled_quantity:
        _new_fill(portfolio, row, snapshot, cumulative, fill)
    state = _state_of(snapshot.status, row.broker_filled_quantity > 0)
    row.broker_status = snapshot.status
    if state != row.status and not row.is_final:
        row.status = state
        if row.is_final:
            row.final_at = snapshot.updated_at or timezone.now()
            if state != Order.Status.FILLED and not row.status_reason.startswith(state):
                row.status_reason = f"{state} by the broker" + (f"; {row.status_reason}" if row.status_reason else "")
    row.save()
    if row.is_final:
        transaction.on_commit(lambda: _after_final(row.decision_id))
    return row


def _after_final(decision_id: int) -> None:
    """A final order may complete its decision, or free the decision's buys."""
    decision_settle(decision_id=decision_id)
    sells_open = Order.objects.filter(decision_id=decision_id, side=SELL).exclude(status__in=Order.FINAL).exists()
    if not sells_open and Order.objects.filter(decision_id=decision_id, side=BUY, status=Order.Status.PENDING).exists():
        _submit_enqueue(decision_id)


def _new_fill(portfolio: Portfolio, row: Order, snapshot: BrokerOrder, cumulative: Decimal,
              fill: FillEvent | None) -> None:
    seen, seen_avg = row.broker_filled_quantity, row.broker_filled_avg_price or ZERO
    quantity = cumulative - seen
    average = snapshot.filled_avg_price or (fill.price if fill else ZERO)
    if fill is not None and fill.quantity.quantize(QUANTITY) == quantity:
        price = fill.price
    else:
        price = (average * cumulative - seen_avg * seen) / quantity
    price = price.quantize(PRICE)
    if price <= 0:
        price = average.quantize(PRICE)
    executed_at = (fill.executed_at if fill else None) or snapshot.updated_at or timezone.now()
    fill_ref = fill.fill_ref if fill is not None and fill.fill_ref else f"cum:{cumulative.normalize()}"
    row.broker_filled_quantity, row.broker_filled_avg_price = cumulative, average
    if row.ledger_error:  # an earlier fill is not in the ledger: the operator resolves it first
        return
    try:
        with transaction.atomic():
            _fill_record(portfolio, row, quantity, price, executed_at, fill_ref)
    except Unprocessable as exc:
        row.ledger_error = f"fill of {_q(quantity)} {row.symbol} at {price} refused by the ledger: {exc.message}"
        logger.error("order %s: %s", row.client_order_id, row.ledger_error)
        autonomy_pause(portfolios=[portfolio], reason=f"order {row.client_order_id}: {row.ledger_error}"[:255])


def _fill_record(portfolio: Portfolio, row: Order, quantity: Decimal, price: Decimal,
                 executed_at: datetime, fill_ref: str) -> None:
    """One fill into the ledger (trade, lots, position, cash) and onto the order."""
    asset = row.asset
    lots = list(TaxLot.objects.filter(portfolio=portfolio, asset=asset, quantity_open__gt=0)) if row.side == SELL else []
    positions = {p.asset_id: p for p in Position.objects.filter(portfolio=portfolio, asset=asset)}
    open_ids = {lot.pk for lot in lots}
    gross = money(quantity * price)
    commission = ZERO  # Alpaca charges no commission on US equities
    cash_flow = -gross - commission if row.side == BUY else gross - commission
    trade = ProposedTrade(
        symbol=row.symbol, side=row.side, quantity=quantity, est_price=row.est_price, est_cost=ZERO,
        reason=row.reason, price=row.decision_price,
        lot_ids=tuple(i for i in row.lot_ids if i in open_ids), tags=tuple(row.tags),
    )
    number = row.fills.count() + 1
    ledger_fill = Fill(
        symbol=row.symbol, side=row.side, quantity=quantity, price=price, market_price=row.decision_price,
        commission=commission, slippage=money(abs(price - row.decision_price) * quantity), cash_flow=cash_flow,
        executed_at=executed_at, broker_ref=f"{row.broker_order_id}:{number}",
    )
    ledger = Ledger(portfolio, {row.symbol: asset}, lots, positions, broker_name=row.broker)
    ledger.apply(trade, ledger_fill, decision=row.decision, as_of=executed_at.astimezone(NEW_YORK).date())
    (created,) = ledger.flush()
    OrderFill.objects.create(order=row, trade=created, fill_ref=fill_ref, quantity=quantity, price=price,
                             executed_at=executed_at)
    row.filled_quantity += quantity
    row.filled_notional += gross
    row.commission += commission
    row.filled_avg_price = (row.filled_notional / row.filled_quantity).quantize(PRICE)
    row.first_fill_at = row.first_fill_at or executed_at
    row.last_fill_at = executed_at


# --- 4. settling decisions -------------------------------------------------------------


@transaction.atomic
def decision_settle(*, decision_id: int) -> Decision | None:
    """Complete a submitted decision once all its orders are final; None while some are open."""
    orders = list(Order.objects.filter(decision_id=decision_id).order_by("leg"))
    if not orders or any(not o.is_final for o in orders):
        return None
    decision = Decision.objects.select_for_update().filter(pk=decision_id).first()
    if decision is None or decision.status != Decision.Status.SUBMITTED:
        return decision
    filled = [o for o in orders if o.filled_quantity > 0]
    complete = [o for o in orders if o.status == Order.Status.FILLED and o.filled_quantity == o.planned_quantity]
    notes = [
        f"{o.side} {o.symbol} {o.status}" + (f" ({_q(o.filled_quantity)} of {_q(o.planned_quantity)})" if o.filled_quantity else "")
        + (f": {o.status_reason}" if o.status_reason and o.status != Order.Status.FILLED else "")
        for o in orders if o not in complete
    ]
    decision.status = Decision.Status.EXECUTED if filled else Decision.Status.FAILED
    decision.executed_at = max(o.last_fill_at for o in filled) if filled else None
    head = f"{len(complete)} of {len(orders)} orders filled in full"
    decision.status_reason = head + (f"; {'; '.join(notes)}" if notes else "")
    decision.save(update_fields=["status", "executed_at", "status_reason"])
    return decision


# --- polling, the stream, and the cycle's first step -----------------------------------


@dataclass
class SyncSummary:
    """What one :func:`orders_sync` saw and did."""

    accounts: int = 0
    polled: int = 0
    fills: int = 0
    submitted: int = 0
    held: int = 0
    errors: list[str] = field(default_factory=list)


def orders_sync(*, portfolio_ids: Iterable[int] | None = None, broker_factory: BrokerFactory | None = None) -> SyncSummary:
    """Poll every open order (of ``portfolio_ids``, or all) and send the due pending ones.

    One account's broker failing is recorded on the account (``last_error``) and does not
    stop the others. A portfolio without open orders costs nothing but one query.
    """
    summary = SyncSummary()
    open_orders = Order.objects.filter(status__in=Order.OPEN)
    if portfolio_ids is not None:
        open_orders = open_orders.filter(portfolio_id__in=list(portfolio_ids))
    pids = sorted(set(open_orders.values_list("portfolio_id", flat=True)))
    for account in BrokerAccount.objects.filter(portfolio_id__in=pids).order_by("portfolio_id"):
        summary.accounts += 1
        try:
            _sync_account(account, _broker(account, broker_factory), summary)
        except BrokerError as exc:
            summary.errors.append(f"portfolio {account.portfolio_id}: {exc}")
            _account_error(account.portfolio_id, str(exc))
        else:
            BrokerAccount.objects.filter(pk=account.pk).update(last_synced_at=timezone.now(), last_error="")
    return summary


def _sync_account(account: BrokerAccount, broker: OrderBroker, summary: SyncSummary) -> None:
    orders = list(Order.objects.filter(portfolio_id=account.portfolio_id, status__in=Order.OPEN).order_by("pk"))
    for order in orders:
        if order.broker_order_id:
            try:
                snapshot = broker.order_get(order.broker_order_id)
            except BrokerOrderNotFound:
                order_refuse(order=order, reason="the broker no longer knows this order")
                continue
        elif order.submit_attempts > 0:  # sent before, answer never recorded: find it by its client id
            snapshot = broker.order_by_client_id(order.client_order_id)
            if snapshot is None:
                continue
        else:
            continue
        summary.polled += 1
        before = order.broker_filled_quantity
        updated = order_state_apply(order=order.pk, snapshot=snapshot)
        summary.fills += int(updated.broker_filled_quantity > before)
    decisions = sorted(set(
        Order.objects.filter(portfolio_id=account.portfolio_id, status=Order.Status.PENDING)
        .values_list("decision_id", flat=True)
    ))
    for decision_id in decisions:
        result = orders_submit(decision_id=decision_id, broker=broker)
        summary.submitted += result.submitted
        summary.held += result.held


def trade_update_apply(*, snapshot: BrokerOrder, fill: FillEvent | None = None) -> Order | None:
    """Record one pushed trade update (Alpaca's ``trade_updates`` stream); None if not our order."""
    order = Order.objects.filter(client_order_id=snapshot.client_order_id).only("pk").first()
    if order is None:
        return None
    return order_state_apply(order=order.pk, snapshot=snapshot, fill=fill)


def open_orders_resolve(*, portfolio_ids: Sequence[int], broker_factory: BrokerFactory | None = None) -> dict[int, str]:
    """The cycle's first step: handle orders still open from earlier decisions.

    Returns portfolio id → why its cycle must wait; portfolios not in it may decide now.
    Per the account's ``open_orders_policy``: ``wait`` waits for them; ``cancel`` cancels
    them (unsent ones here, sent ones at the broker) and decides only once the broker has
    confirmed every cancellation (fills that arrived meanwhile are recorded first).
    """
    open_pids = set(Order.objects.filter(portfolio_id__in=list(portfolio_ids), status__in=Order.OPEN)
                    .values_list("portfolio_id", flat=True))
    if not open_pids:
        return {}
    orders_sync(portfolio_ids=open_pids, broker_factory=broker_factory)
    waiting: dict[int, str] = {}
    for account in BrokerAccount.objects.filter(portfolio_id__in=open_pids):
        still = list(Order.objects.filter(portfolio_id=account.portfolio_id, status__in=Order.OPEN).order_by("leg"))
        if not still:
            continue
        decisions = ", ".join(f"#{d}" for d in sorted({o.decision_id for o in still}))
        if account.open_orders_policy == BrokerAccount.OpenOrdersPolicy.WAIT:
            waiting[account.portfolio_id] = f"{len(still)} orders of decision {decisions} are still open; waiting for them"
            continue
        try:
            left = _cancel_all(still, _broker(account, broker_factory))
        except BrokerError as exc:
            waiting[account.portfolio_id] = f"could not cancel the open orders of decision {decisions}: {exc}"
            continue
        if left:
            waiting[account.portfolio_id] = (
                f"asked the broker to cancel {left} open orders of decision {decisions}; waiting for it to confirm"
            )
    return waiting


def _cancel_all(orders: Sequence[Order], broker: OrderBroker) -> int:
    """Cancel ``orders``; returns how many are still open afterwards."""
    left = 0
    for order in orders:
        if order.status == Order.Status.PENDING and not order.broker_order_id and order.submit_attempts == 0:
            order_refuse(order=order, reason="canceled before it was sent: a newer cycle came first",
                         status=Order.Status.CANCELED)
            continue
        if not order.broker_order_id:
            snapshot = broker.order_by_client_id(order.client_order_id)
            if snapshot is None:
                order_refuse(order=order, reason="canceled before the broker saw it: a newer cycle came first",
                             status=Order.Status.CANCELED)
                continue
            order = order_state_apply(order=order.pk, snapshot=snapshot)
            if order.is_final:
                continue
        broker.order_cancel(order.broker_order_id)
        updated = order_state_apply(order=order.pk, snapshot=broker.order_get(order.broker_order_id))
        left += int(not updated.is_final)
    return left


__all__ = [
    "SubmitSummary",
    "SyncSummary",
    "client_order_id_for",
    "decision_settle",
    "open_orders_resolve",
    "order_refuse",
    "order_state_apply",
    "orders_place",
    "orders_submit",
    "orders_sync",
    "trade_update_apply",
]
