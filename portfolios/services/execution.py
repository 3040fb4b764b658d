"""Executing trades through a broker, atomically with the ledger.

:func:`trades_execute` sends a batch of orders (sells first) to a
:class:`~portfolios.brokers.Broker`, then — in the same transaction, with the portfolio
row locked — records the trades, opens lots for buys, closes lots for sells (the
portfolio's lot method or the lots the trade names), realizes gains, moves positions and
cash. Any failure (broker refusal, too few shares, cash going negative) rolls the whole
batch back: all or nothing. The number of queries does not grow with the number of
trades (bulk inserts and updates), so a cycle over many portfolios stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone

from common.bulk_write import rows_insert, rows_update
from common.errors import Unprocessable
from marketdata.models import Asset
from portfolios.brokers import Broker, BrokerError, Fill, Order, PaperBroker
from portfolios.models import (
    AutonomySettings,
    Decision,
    LotClosing,
    Portfolio,
    Position,
    TaxLot,
    Trade,
)
from portfolios.prices import closes_on
from portfolios.services._locks import portfolio_lock
from portfolios.tax import LotSelectionError, lots_select, realized_gains
from portfolios.trading import BUY, SELL, CostModel, ProposedTrade


def cost_model_get(*, portfolio: Portfolio) -> CostModel:
    """The portfolio's commission and slippage (autonomy settings; defaults if none)."""
    settings = AutonomySettings.objects.filter(portfolio=portfolio).first()
    if settings is None:
        return CostModel()
    return CostModel(
        commission_rate=settings.commission_rate,
        commission_min=settings.commission_min,
        slippage_bps=settings.slippage_bps,
    )


def paper_broker_get(*, costs: CostModel | None = None) -> PaperBroker:
    """The default broker: fills at the close of the execution date from ``marketdata``."""
    return PaperBroker(
        prices=lambda symbols, as_of: closes_on(symbols=symbols, on=as_of), costs=costs or CostModel()
    )


@dataclass
class _LotView:
    """A tax lot as the lot-selection engine sees it (``quantity`` = shares still open)."""

    lot_id: int
    symbol: str
    quantity: Decimal
    cost_per_share: Decimal
    acquired_on: date


_QUANTUM = Decimal("0.0001")


def _reject(message: str, *, code: str, extra: dict | None = None) -> Unprocessable:
    return Unprocessable(message, code=code, field="trades", extra=extra or {})


@transaction.atomic
def trades_execute(
    *,
    portfolio: Portfolio,
    trades: Sequence[ProposedTrade],
    as_of: date,
    broker: Broker | None = None,
    decision: Decision | None = None,
    assets: Mapping[str, Asset] | None = None,
) -> list[Trade]:
    """Execute ``trades`` at ``as_of`` through ``broker`` (paper broker by default).

    Bulk callers (a cycle over many portfolios) save three queries per portfolio by
    passing ``assets`` (symbol → Asset, loaded once) and a ``broker`` built once with
    the cycle's closes, e.g. ``PaperBroker(prices=closes, costs=...)``.

    Sells run before buys. Raises :class:`~common.errors.Unprocessable` (422, field
    ``trades``) when an asset is unknown, the broker refuses, a sell exceeds the open
    lots, or cash would go negative; nothing is written then. When ``decision`` is
    given, it is marked executed in the same transaction.
    """
    portfolio_row = portfolio_lock(portfolio=portfolio)
    ordered = [t for t in trades if t.side == SELL] + [t for t in trades if t.side == BUY]
    if len(ordered) != len(trades):
        raise _reject("every trade's side must be buy or sell", code="invalid_side")
    if not ordered:
        _mark_executed(decision)
        return []
    symbols = sorted({t.symbol for t in ordered})
    if assets is None or not set(symbols) <= set(assets):
        assets = {a.symbol: a for a in Asset.objects.filter(symbol__in=symbols)}
    else:
        assets = {s: assets[s] for s in symbols}
    unknown = sorted(set(symbols) - set(assets))
    if unknown:
        raise _reject(f"unknown symbols: {', '.join(unknown)}", code="unknown_symbol")

    if broker is None:
        broker = paper_broker_get(costs=cost_model_get(portfolio=portfolio_row))
    orders = [
        Order(t.symbol, t.side, t.quantity, client_ref=f"{portfolio_row.pk}:{portfolio_row.ledger_version}:{i}")
        for i, t in enumerate(ordered)
    ]
    try:
        fills = broker.execute(orders, as_of)
    except BrokerError as exc:
        raise _reject(f"the broker refused the orders: {exc}", code="broker_rejected") from exc
    if len(fills) != len(orders):
        raise _reject("the broker did not fill every order", code="broker_partial_fill")

    asset_ids = [assets[s].pk for s in symbols]
    lots = list(TaxLot.objects.filter(portfolio=portfolio_row, asset_id__in=asset_ids, quantity_open__gt=0))
    positions = {p.asset_id: p for p in Position.objects.filter(portfolio=portfolio_row, asset_id__in=asset_ids)}
    ledger = Ledger(portfolio_row, assets, lots, positions, broker_name=getattr(broker, "name", "broker"))
    for trade, fill in zip(ordered, fills, strict=True):
        ledger.apply(trade, fill, decision=decision, as_of=as_of)
    created = ledger.flush()
    _mark_executed(decision)
    if portfolio is not portfolio_row:
        portfolio.cash, portfolio.ledger_version = portfolio_row.cash, portfolio_row.ledger_version
    return created


def _mark_executed(decision: Decision | None) -> None:
    if decision is None:
        return
    decision.status = Decision.Status.EXECUTED
    decision.executed_at = timezone.now()
    decision.save(update_fields=["status", "executed_at"])


@dataclass(slots=True)
class OpenLot:
    """The part of a :class:`~portfolios.models.TaxLot` the ledger reads and moves.

    Bulk callers load lots as these (``TaxLot.objects.values_list(*OpenLot.FIELDS)``)
    instead of model instances; :class:`Ledger` accepts either (same attribute names).
    """

    pk: int
    asset_id: int
    acquired_on: date
    quantity_open: Decimal
    cost_basis_open: Decimal

    FIELDS: ClassVar[tuple[str, ...]] = ("pk", "asset_id", "acquired_on", "quantity_open", "cost_basis_open")


@dataclass(slots=True)
class PositionState:
    """A position's quantity (``pk`` None: not stored yet); :class:`Ledger` also accepts ``Position`` rows."""

    pk: int | None
    asset_id: int
    quantity: Decimal

    FIELDS: ClassVar[tuple[str, ...]] = ("pk", "asset_id", "quantity")


@dataclass(slots=True)
class TradeRecord:
    """A trade row to insert (the columns of :class:`~portfolios.models.Trade`)."""

    portfolio_id: int
    asset_id: int
    side: str
    quantity: Decimal
    price: Decimal
    market_price: Decimal
    commission: Decimal
    slippage: Decimal
    cash_flow: Decimal
    realized_gain: Decimal | None
    executed_at: datetime
    trade_date: date
    broker: str
    broker_ref: str
    decision: Decision | None
    reason: str
    tags: list[str]


@dataclass(slots=True)
class LotRecord:
    """A tax lot opened by the buy ``trades[trade_index]`` of the same ledger."""

    trade_index: int
    portfolio_id: int
    asset_id: int
    acquired_on: date
    quantity: Decimal
    cost_basis: Decimal


@dataclass(slots=True)
class ClosingRecord:
    """Shares of lot ``lot_id`` closed by the sell ``trades[trade_index]``."""

    trade_index: int
    lot_id: int
    quantity: Decimal
    proceeds: Decimal
    cost_basis: Decimal
    realized_gain: Decimal
    holding_period: str
    closed_on: date


class Ledger:
    """One portfolio's ledger moved in memory by fills; written later in one go.

    The public ledger arithmetic of the portfolios app, for the execution service here
    and for bulk callers (the autopilot's chunk path) that apply many portfolios'
    fills in memory and write all of them together:

    * ``Ledger(portfolio, assets, lots, positions, broker_name=...)`` — ``portfolio``
      a locked ``Portfolio`` row; ``assets`` symbol → ``Asset`` for every traded
      symbol; ``lots`` the open lots of the traded assets (``TaxLot`` rows or
      :class:`OpenLot`); ``positions`` asset id → ``Position`` or :class:`PositionState`;
    * :meth:`apply` one fill at a time (sells before buys) — raises
      :class:`~common.errors.Unprocessable` on a mismatched fill, too few shares in
      the open lots, or cash going negative; nothing is written before :meth:`flush`;
    * afterwards: ``trades`` (:class:`TradeRecord`), ``new_lots`` (:class:`LotRecord`),
      ``closings`` (:class:`ClosingRecord`), ``lots`` (pk → lot, quantities moved),
      ``touched_lots`` (pks of lots whose open quantity changed), ``positions`` (new
      ones have ``pk`` None), ``touched_positions`` (asset ids whose quantity moved) and
      ``cash``;
    * :meth:`flush` writes them with a constant number of queries; bulk callers write
      many ledgers at once with :func:`ledgers_flush`.
    """

    def __init__(
        self,
        portfolio: Portfolio,
        assets: Mapping[str, Asset],
        lots: Sequence[TaxLot | OpenLot],
        positions: dict[int, Position | PositionState],
        *,
        broker_name: str,
    ) -> None:
        self.portfolio = portfolio
        self.assets = assets
        self.lots = {lot.pk: lot for lot in lots}
        self.positions = positions
        self.broker_name = broker_name
        self.cash = portfolio.cash
        self.trades: list[TradeRecord] = []
        self.new_lots: list[LotRecord] = []
        self.closings: list[ClosingRecord] = []
        self.touched_lots: set[int] = set()
        self.touched_positions: set[int] = set()

    def _position(self, asset_id: int) -> Position | PositionState:
        position = self.positions.get(asset_id)
        if position is None:
            position = self.positions[asset_id] = PositionState(None, asset_id, Decimal(0))
        self.touched_positions.add(asset_id)
        return position

    def apply(self, trade: ProposedTrade, fill: Fill, *, decision: Decision | None, as_of: date) -> None:
        """Record ``fill`` of ``trade``: a trade, a new lot (buy) or lot closings (sell), cash."""
        asset_id = self.assets[trade.symbol].pk
        if fill.symbol != trade.symbol or fill.side != trade.side or fill.quantity != trade.quantity:
            raise _reject(f"the broker's fill does not match the order for {trade.symbol}", code="fill_mismatch")
        record = TradeRecord(
            self.portfolio.pk, asset_id, fill.side, fill.quantity, fill.price, fill.market_price,
            fill.commission, fill.slippage, fill.cash_flow, None, fill.executed_at, as_of,
            self.broker_name, fill.broker_ref, decision, trade.reason, list(trade.tags),
        )
        index = len(self.trades)
        self.trades.append(record)
        position = self._position(asset_id)
        if fill.side == BUY:
            cost = -fill.cash_flow  # gross + commission: the lot's tax basis
            self.new_lots.append(LotRecord(index, self.portfolio.pk, asset_id, as_of, fill.quantity, cost))
            position.quantity += fill.quantity
        else:
            record.realized_gain = self._close_lots(index, asset_id, trade, fill, as_of)
            position.quantity -= fill.quantity
        self.cash += fill.cash_flow
        if self.cash < 0 and not self.portfolio.allow_negative_cash:
            raise _reject(
                f"not enough cash: buying {trade.quantity} {trade.symbol} would leave {self.cash}",
                code="insufficient_cash",
                extra={"cash": str(self.cash)},
            )

    def _close_lots(self, index: int, asset_id: int, trade: ProposedTrade, fill: Fill, as_of: date) -> Decimal:
        open_lots = [
            _LotView(lot.pk, trade.symbol, lot.quantity_open, lot.cost_basis_open / lot.quantity_open, lot.acquired_on)
            for lot in self.lots.values()
            if lot.asset_id == asset_id and lot.quantity_open > 0
        ]
        try:
            picks = lots_select(
                lots=open_lots,
                symbol=trade.symbol,
                quantity=fill.quantity,
                method=self.portfolio.lot_method,
                lot_ids=trade.lot_ids,
            )
        except LotSelectionError as exc:
            raise _reject(str(exc), code="insufficient_shares", extra={"symbol": trade.symbol}) from exc
        total = Decimal(0)
        for realization in realized_gains(picks=picks, proceeds=fill.cash_flow, sold_on=as_of):
            lot = self.lots[realization.lot_id]
            if realization.quantity == lot.quantity_open:
                basis = lot.cost_basis_open  # the last shares take the rounding remainder
            else:
                basis = (lot.cost_basis_open * realization.quantity / lot.quantity_open).quantize(_QUANTUM)
            lot.quantity_open -= realization.quantity
            lot.cost_basis_open -= basis
            self.touched_lots.add(lot.pk)
            gain = realization.proceeds - basis
            total += gain
            self.closings.append(
                ClosingRecord(
                    index, lot.pk, realization.quantity, realization.proceeds, basis, gain,
                    realization.holding_period, as_of,
                )
            )
        return total

    def flush(self) -> list[Trade]:
        """Write everything (constant queries); returns the created trades."""
        trade_ids = ledgers_flush([(self, None)], now=timezone.now())
        return [
            Trade.from_db(DEFAULT_DB_ALIAS, ["id", *TRADE_COLUMNS], [pk, *_trade_row(t, None)])
            for pk, t in zip(trade_ids, self.trades, strict=True)
        ]


TRADE_COLUMNS = (
    "portfolio_id", "asset_id", "side", "quantity", "price", "market_price", "commission", "slippage",
    "cash_flow", "realized_gain", "executed_at", "trade_date", "broker", "broker_ref", "decision_id",
    "reason", "tags",
)
LOT_COLUMNS = (
    "portfolio_id", "asset_id", "opening_trade_id", "acquired_on", "quantity_original", "quantity_open",
    "cost_basis", "cost_basis_open",
)
CLOSING_COLUMNS = (
    "lot_id", "trade_id", "quantity", "proceeds", "cost_basis", "realized_gain", "holding_period", "closed_on",
)


def _trade_row(t: TradeRecord, decision_id: int | None) -> tuple:
    """``t`` as a tuple of :data:`TRADE_COLUMNS` (``decision_id`` None: the record's own decision)."""
    if decision_id is None and t.decision is not None:
        decision_id = t.decision.pk
    return (
        t.portfolio_id, t.asset_id, t.side, t.quantity, t.price, t.market_price, t.commission, t.slippage,
        t.cash_flow, t.realized_gain, t.executed_at, t.trade_date, t.broker, t.broker_ref, decision_id,
        t.reason, t.tags,
    )


def ledgers_flush(ledgers: Sequence[tuple[Ledger, int | None]], *, now: datetime) -> list[int]:
    """Write the records of many ledgers together, one bulk write per table; returns the
    new trades' ids in order.

    Each ledger comes with the id of the decision its trades belong to (``None``: the
    decision each record was applied with, if any). Rows go through
    :mod:`common.bulk_write` (``COPY`` on PostgreSQL); the portfolios get their new cash
    and ledger version, in the database and on the ``Portfolio`` objects.
    """
    trades = [_trade_row(t, decision_id) for ledger, decision_id in ledgers for t in ledger.trades]
    trade_ids = rows_insert(Trade, TRADE_COLUMNS, trades, returning_ids=True)
    new_lots, touched, closings, existing, fresh, portfolios = [], [], [], [], [], []
    offset = 0
    for ledger, _ in ledgers:
        for lot in ledger.new_lots:
            new_lots.append((lot.portfolio_id, lot.asset_id, trade_ids[offset + lot.trade_index], lot.acquired_on,
                             lot.quantity, lot.quantity, lot.cost_basis, lot.cost_basis))
        for c in ledger.closings:
            closings.append((c.lot_id, trade_ids[offset + c.trade_index], c.quantity, c.proceeds, c.cost_basis,
                             c.realized_gain, c.holding_period, c.closed_on))
        offset += len(ledger.trades)
        for pk in sorted(ledger.touched_lots):
            lot = ledger.lots[pk]
            touched.append((pk, lot.quantity_open, lot.cost_basis_open))
        for asset_id in sorted(ledger.touched_positions):
            position = ledger.positions[asset_id]
            if position.pk is None:
                fresh.append((ledger.portfolio.pk, asset_id, position.quantity, now))
            else:
                existing.append((position.pk, position.quantity))
        ledger.portfolio.cash = ledger.cash
        ledger.portfolio.ledger_version += 1
        ledger.portfolio.updated_at = now
        portfolios.append((ledger.portfolio.pk, ledger.cash, ledger.portfolio.ledger_version, now))
    rows_insert(TaxLot, LOT_COLUMNS, new_lots)
    rows_update(TaxLot, ("quantity_open", "cost_basis_open"), touched)
    rows_insert(LotClosing, CLOSING_COLUMNS, closings)
    rows_update(Position, ("quantity",), existing)
    rows_insert(Position, ("portfolio_id", "asset_id", "quantity", "updated_at"), fresh)
    rows_update(Portfolio, ("cash", "ledger_version", "updated_at"), portfolios)
    return trade_ids
