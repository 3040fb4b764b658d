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
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import F
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
    WashSale,
)
from portfolios.prices import closes_on
from portfolios.services._locks import portfolio_lock
from portfolios.tax import WASH_SALE_DAYS, BookClosing, BookLot, LotBook, LotSelectionError
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
    quantity_original: Decimal | None = None
    """None: the lot was never partly sold (``quantity_open``)."""
    cost_basis: Decimal | None = None
    holding_from: date | None = None
    wash_adjustment: Decimal = Decimal(0)
    wash_replacement: bool = False
    opening_trade_id: int | None = None

    def __post_init__(self) -> None:
        if self.quantity_original is None:
            self.quantity_original = self.quantity_open
        if self.cost_basis is None:
            self.cost_basis = self.cost_basis_open

    FIELDS: ClassVar[tuple[str, ...]] = (
        "pk", "asset_id", "acquired_on", "quantity_open", "cost_basis_open", "quantity_original",
        "cost_basis", "holding_from", "wash_adjustment", "wash_replacement", "opening_trade_id",
    )


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
    """A tax lot to insert: opened by the buy ``trades[trade_index]`` of the same ledger, or
    (``trade_index`` None) split off the stored lot ``split_from`` by a wash sale."""

    trade_index: int | None
    portfolio_id: int
    asset_id: int
    acquired_on: date
    quantity: Decimal
    cost_basis: Decimal
    quantity_open: Decimal | None = None
    """Shares still open (None: all of ``quantity``)."""
    cost_basis_open: Decimal | None = None
    holding_from: date | None = None
    wash_adjustment: Decimal = Decimal(0)
    wash_replacement: bool = False
    split_from: int | None = None
    opening_trade_id: int | None = None


@dataclass(slots=True)
class ClosingRecord:
    """Shares of lot ``lot_id`` closed by the sell ``trades[trade_index]``.

    ``lot_id`` is a stored lot's pk, or ``("new", i)`` for ``new_lots[i]`` of the same ledger.
    """

    trade_index: int
    lot_id: Any
    quantity: Decimal
    proceeds: Decimal
    cost_basis: Decimal
    realized_gain: Decimal
    holding_period: str
    closed_on: date
    washed_quantity: Decimal = Decimal(0)
    wash_disallowed: Decimal = Decimal(0)


@dataclass(slots=True)
class WashRecord:
    """A wash-sale match to insert; ``closing`` and ``lot`` are stored pks or ``("new", i)``
    (``closings[i]`` / ``new_lots[i]`` of the same ledger)."""

    closing: Any
    lot: Any
    quantity: Decimal
    disallowed_loss: Decimal
    holding_days: int
    matched_on: date


def _book_closing(row: tuple, symbol: str) -> BookClosing:
    pk, lot_id, qty, proceeds, basis, gain, period, closed_on, acquired, holding_from, washed, disallowed = row
    return BookClosing(
        closing_id=pk, lot_id=lot_id, symbol=symbol, quantity=qty, proceeds=proceeds, basis=basis, gain=gain,
        holding_period=period, closed_on=closed_on, lot_acquired_on=acquired,
        lot_holding_start=holding_from or acquired, washed_quantity=washed, wash_disallowed=disallowed,
    )


LOSS_CLOSING_FIELDS = (
    "pk", "lot_id", "quantity", "proceeds", "cost_basis", "realized_gain", "holding_period", "closed_on",
    "lot__acquired_on", "lot__holding_from", "washed_quantity", "wash_disallowed",
)


def loss_closings_load(
    *, portfolio_ids: Sequence[int], asset_ids: Sequence[int], as_of: date
) -> dict[int, dict[int, list[tuple]]]:
    """Closings at a loss in the wash-sale window before ``as_of`` with shares not washed yet,
    as portfolio id → asset id → rows (:data:`LOSS_CLOSING_FIELDS`); one query.

    A later buy of the same asset washes them (:class:`Ledger` needs them for buys).
    """
    out: dict[int, dict[int, list[tuple]]] = {}
    rows = (
        LotClosing.objects.filter(
            lot__portfolio_id__in=list(portfolio_ids), lot__asset_id__in=list(asset_ids), realized_gain__lt=0,
            closed_on__gte=as_of - timedelta(days=WASH_SALE_DAYS), closed_on__lte=as_of,
        )
        .filter(washed_quantity__lt=F("quantity"))
        .order_by("closed_on", "pk")
        .values_list("lot__portfolio_id", "lot__asset_id", *LOSS_CLOSING_FIELDS)
    )
    for pid, asset_id, *row in rows:
        out.setdefault(pid, {}).setdefault(asset_id, []).append(tuple(row))
    return out


class Ledger:
    """One portfolio's ledger moved in memory by fills; written later in one go.

    The public ledger arithmetic of the portfolios app, for the execution service here
    and for bulk callers (the autopilot's chunk path) that apply many portfolios'
    fills in memory and write all of them together. The tax-lot arithmetic is
    :class:`portfolios.tax.LotBook`'s (the backtester's too): the portfolio's lot
    method (tax-minimizing by default) or the lots a trade names, the anniversary rule,
    and the wash-sale rule against buys 30 days before and after a loss sale.

    * ``Ledger(portfolio, assets, lots, positions, broker_name=..., loss_closings=None)`` —
      ``portfolio`` a locked ``Portfolio`` row; ``assets`` symbol → ``Asset`` for every
      traded symbol; ``lots`` the open lots of the traded assets (``TaxLot`` rows or
      :class:`OpenLot`); ``positions`` asset id → ``Position`` or :class:`PositionState`;
      ``loss_closings`` asset id → rows of :func:`loss_closings_load` (None: the ledger
      loads them itself with one query at its first buy);
    * :meth:`apply` one fill at a time (sells before buys) — raises
      :class:`~common.errors.Unprocessable` on a mismatched fill, too few shares in
      the open lots, or cash going negative; nothing is written before :meth:`flush`;
    * afterwards: ``trades`` (:class:`TradeRecord`), ``new_lots`` (:class:`LotRecord`),
      ``closings`` (:class:`ClosingRecord`), ``washes`` (:class:`WashRecord`),
      ``lots`` (pk → lot, quantities moved), ``touched_lots`` (pks of stored lots that
      changed), ``positions`` (new ones have ``pk`` None), ``touched_positions`` (asset
      ids whose quantity moved) and ``cash``;
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
        loss_closings: Mapping[int, Sequence[tuple]] | None = None,
    ) -> None:
        self.portfolio = portfolio
        self.assets = assets
        self.lots = {lot.pk: lot for lot in lots}
        self.positions = positions
        self.broker_name = broker_name
        self.cash = portfolio.cash
        self.trades: list[TradeRecord] = []
        self.touched_positions: set[int] = set()
        self._symbol_of = {asset.pk: symbol for symbol, asset in assets.items()}
        self._book_lots = {
            lot.pk: BookLot(
                lot.pk, self._symbol_of.get(lot.asset_id, str(lot.asset_id)), lot.acquired_on,
                lot.quantity_open, lot.cost_basis_open, lot.holding_from, lot.wash_replacement,
                lot.wash_adjustment,
            )
            for lot in lots
            if lot.quantity_open > 0
        }
        self._loss_closings = loss_closings
        self.book = LotBook(lots=list(self._book_lots.values()), new_id=self._new_id)
        if loss_closings is not None:
            self._losses_add(loss_closings)
        self._trade_of: dict[int, int] = {}  # id(book lot or closing) → trade index
        self._opened_as: dict[int, tuple[Decimal, Decimal, Decimal]] = {}
        self._ids = 0

    def _new_id(self, kind: str) -> tuple[str, int]:
        self._ids += 1
        return (kind, self._ids)

    def _losses_add(self, by_asset: Mapping[int, Sequence[tuple]]) -> None:
        for asset_id, rows in by_asset.items():
            symbol = self._symbol_of.get(asset_id)
            if symbol is None:
                continue
            own = self.book.recent_losses.setdefault(symbol, [])
            own.extend(_book_closing(row, symbol) for row in rows)
            own.sort(key=lambda c: c.closed_on)

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
        position = self._position(asset_id)
        if fill.side == BUY:
            if self._loss_closings is None:
                self._loss_closings = loss_closings_load(
                    portfolio_ids=[self.portfolio.pk], asset_ids=[a.pk for a in self.assets.values()], as_of=as_of
                ).get(self.portfolio.pk, {})
                self._losses_add(self._loss_closings)
            cost = -fill.cash_flow  # gross + commission: the lot's tax basis
            for lot in self.book.buy(symbol=trade.symbol, quantity=fill.quantity, basis=cost, on=as_of):
                self._trade_of[id(lot)] = index
                # what the lot was when opened: later fills of this ledger may sell or split it
                self._opened_as[id(lot)] = (lot.quantity, lot.basis, lot.wash_adjustment)
            position.quantity += fill.quantity
        else:
            record.realized_gain = self._close_lots(index, trade, fill, as_of)
            position.quantity -= fill.quantity
        self.trades.append(record)
        self.cash += fill.cash_flow
        if self.cash < 0 and not self.portfolio.allow_negative_cash:
            raise _reject(
                f"not enough cash: buying {trade.quantity} {trade.symbol} would leave {self.cash}",
                code="insufficient_cash",
                extra={"cash": str(self.cash)},
            )

    def _close_lots(self, index: int, trade: ProposedTrade, fill: Fill, as_of: date) -> Decimal:
        try:
            closings = self.book.sell(
                symbol=trade.symbol, quantity=fill.quantity, proceeds=fill.cash_flow, on=as_of,
                method=self.portfolio.lot_method, lot_ids=trade.lot_ids,
                harvest="tax_loss_harvest" in trade.tags,
            )
        except LotSelectionError as exc:
            raise _reject(str(exc), code="insufficient_shares", extra={"symbol": trade.symbol}) from exc
        for closing in closings:
            self._trade_of[id(closing)] = index
        for pk, book_lot in self._book_lots.items():  # keep the caller's lot objects in step
            lot = self.lots[pk]
            lot.quantity_open, lot.cost_basis_open = book_lot.quantity, book_lot.basis
        return sum((c.gain for c in closings), Decimal(0))

    # -- what the book did, as records ------------------------------------------
    def _new_lot_index(self) -> dict[Any, int]:
        """Book lot id → position in :attr:`new_lots` (lots opened by buys, then pieces split off)."""
        ids = [lot.lot_id for lot in self.book.opened] + [p.piece.lot_id for p in self.book.pieces]
        return {lot_id: i for i, lot_id in enumerate(ids)}

    @property
    def new_lots(self) -> list[LotRecord]:
        pid = self.portfolio.pk
        carved: dict[int, tuple[Decimal, Decimal]] = {}
        for piece in self.book.pieces:
            q, b = carved.get(id(piece.parent), (Decimal(0), Decimal(0)))
            carved[id(piece.parent)] = (q + piece.quantity, b + piece.basis)
        out = []
        for lot in self.book.opened:
            quantity, basis, adjustment = self._opened_as.get(id(lot), (lot.quantity, lot.basis, lot.wash_adjustment))
            q_carved, b_carved = carved.get(id(lot), (Decimal(0), Decimal(0)))
            out.append(LotRecord(
                self._trade_of[id(lot)], pid, self.assets[lot.symbol].pk, lot.acquired_on, quantity - q_carved,
                basis - b_carved + lot.wash_adjustment - adjustment, quantity_open=lot.quantity,
                cost_basis_open=lot.basis, holding_from=lot.holding_from, wash_adjustment=lot.wash_adjustment,
                wash_replacement=lot.wash_replacement,
            ))
        for piece in self.book.pieces:
            child, parent = piece.piece, self.lots.get(piece.parent.lot_id)
            if parent is None:  # split off a lot this ledger opened: same trade, no stored parent
                trade_index, split_from, opening = self._trade_of[id(piece.parent)], None, None
                self._trade_of[id(child)] = trade_index
            else:
                trade_index, split_from, opening = None, parent.pk, parent.opening_trade_id
            out.append(LotRecord(
                trade_index, pid, self.assets[child.symbol].pk, child.acquired_on, piece.quantity,
                piece.basis + child.wash_adjustment, quantity_open=child.quantity, cost_basis_open=child.basis,
                holding_from=child.holding_from, wash_adjustment=child.wash_adjustment,
                wash_replacement=child.wash_replacement, split_from=split_from, opening_trade_id=opening,
            ))
        return out

    def _key(self, book_id: Any, index: Mapping[Any, int]) -> Any:
        """A stored pk as it is; a book id of a row this ledger inserts as ("new", i)."""
        return ("new", index[book_id]) if isinstance(book_id, tuple) else book_id

    @property
    def closings(self) -> list[ClosingRecord]:
        lots = self._new_lot_index()
        return [
            ClosingRecord(
                self._trade_of[id(c)], self._key(c.lot_id, lots), c.quantity, c.proceeds, c.basis, c.gain,
                c.holding_period, c.closed_on, c.washed_quantity, c.wash_disallowed,
            )
            for c in self.book.closings
        ]

    @property
    def washes(self) -> list[WashRecord]:
        lots = self._new_lot_index()
        closings = {c.closing_id: i for i, c in enumerate(self.book.closings)}
        return [
            WashRecord(
                self._key(w.closing.closing_id, closings), self._key(w.lot.lot_id, lots),
                w.quantity, w.disallowed, w.holding_days, w.matched_on,
            )
            for w in self.book.washes
        ]

    @property
    def touched_lots(self) -> set[int]:
        return {lot.lot_id for lot in self.book.touched.values() if lot.lot_id in self.lots}

    def lot_rows(self) -> tuple[list[tuple], list[tuple]]:
        """Updates of stored lots: (pk, open qty, open basis) rows, and full rows of lots a
        wash sale changed (pk, original qty, open qty, basis, open basis, holding from,
        wash adjustment, replacement)."""
        carved: dict[Any, tuple[Decimal, Decimal]] = {}
        for piece in self.book.pieces:
            q, b = carved.get(piece.parent.lot_id, (Decimal(0), Decimal(0)))
            carved[piece.parent.lot_id] = (q + piece.quantity, b + piece.basis)
        plain, full = [], []
        for book_lot in self.book.touched.values():
            pk = book_lot.lot_id
            lot = self.lots.get(pk)
            if lot is None:
                continue
            q_carved, b_carved = carved.get(pk, (Decimal(0), Decimal(0)))
            added = book_lot.wash_adjustment - lot.wash_adjustment
            if q_carved or added or book_lot.wash_replacement != lot.wash_replacement:
                full.append((
                    pk, lot.quantity_original - q_carved, book_lot.quantity, lot.cost_basis - b_carved + added,
                    book_lot.basis, book_lot.holding_from, book_lot.wash_adjustment, book_lot.wash_replacement,
                ))
            else:
                plain.append((pk, book_lot.quantity, book_lot.basis))
        return sorted(plain), sorted(full)

    def rewashed_rows(self) -> list[tuple]:
        """(pk, washed quantity, disallowed) of stored closings a buy of this ledger washed."""
        return sorted(
            (c.closing_id, c.washed_quantity, c.wash_disallowed)
            for c in self.book.rewashed.values()
            if not isinstance(c.closing_id, tuple)
        )

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
    "cost_basis", "cost_basis_open", "holding_from", "wash_adjustment", "wash_replacement", "split_from_id",
)
CLOSING_COLUMNS = (
    "lot_id", "trade_id", "quantity", "proceeds", "cost_basis", "realized_gain", "holding_period", "closed_on",
    "washed_quantity", "wash_disallowed",
)
LOT_WASH_COLUMNS = (
    "quantity_original", "quantity_open", "cost_basis", "cost_basis_open", "holding_from", "wash_adjustment",
    "wash_replacement",
)
WASH_COLUMNS = ("closing_id", "replacement_lot_id", "quantity", "disallowed_loss", "holding_days", "matched_on",
                "created_at")


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
    and ledger version, in the database and on the ``Portfolio`` objects. Wash sales
    (rare) add an insert of their matches and ask the lot and closing inserts for ids.
    """
    trades = [_trade_row(t, decision_id) for ledger, decision_id in ledgers for t in ledger.trades]
    trade_ids = rows_insert(Trade, TRADE_COLUMNS, trades, returning_ids=True)
    new_lots, plain, full, closings, rewashed, existing, fresh, portfolios = [], [], [], [], [], [], [], []
    washes: list[tuple[int, int, WashRecord]] = []  # (first new lot row, first closing row, match) per ledger
    offset = 0
    for ledger, _ in ledgers:
        first_lot, first_closing = len(new_lots), len(closings)
        for lot in ledger.new_lots:
            trade_id = trade_ids[offset + lot.trade_index] if lot.trade_index is not None else lot.opening_trade_id
            new_lots.append((
                lot.portfolio_id, lot.asset_id, trade_id, lot.acquired_on, lot.quantity,
                lot.quantity if lot.quantity_open is None else lot.quantity_open, lot.cost_basis,
                lot.cost_basis if lot.cost_basis_open is None else lot.cost_basis_open, lot.holding_from,
                lot.wash_adjustment, lot.wash_replacement, lot.split_from,
            ))
        for c in ledger.closings:
            lot_id = ("new", first_lot + c.lot_id[1]) if isinstance(c.lot_id, tuple) else c.lot_id
            closings.append([lot_id, trade_ids[offset + c.trade_index], c.quantity, c.proceeds, c.cost_basis,
                             c.realized_gain, c.holding_period, c.closed_on, c.washed_quantity, c.wash_disallowed])
        washes.extend((first_lot, first_closing, w) for w in ledger.washes)
        offset += len(ledger.trades)
        lot_plain, lot_full = ledger.lot_rows()
        plain.extend(lot_plain)
        full.extend(lot_full)
        rewashed.extend(ledger.rewashed_rows())
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
    closes_new = any(isinstance(row[0], tuple) for row in closings)
    lot_ids = rows_insert(TaxLot, LOT_COLUMNS, new_lots, returning_ids=bool(washes) or closes_new)
    for row in closings:  # a closing of a lot split off in the same flush
        if isinstance(row[0], tuple):
            row[0] = lot_ids[row[0][1]]
    closing_ids = rows_insert(LotClosing, CLOSING_COLUMNS, [tuple(r) for r in closings], returning_ids=bool(washes))
    wash_rows = []
    for first_lot, first_closing, w in washes:
        closing_id = closing_ids[first_closing + w.closing[1]] if isinstance(w.closing, tuple) else w.closing
        lot_id = lot_ids[first_lot + w.lot[1]] if isinstance(w.lot, tuple) else w.lot
        wash_rows.append((closing_id, lot_id, w.quantity, w.disallowed_loss, w.holding_days, w.matched_on, now))
    rows_insert(WashSale, WASH_COLUMNS, wash_rows)
    rows_update(TaxLot, ("quantity_open", "cost_basis_open"), plain)
    rows_update(TaxLot, LOT_WASH_COLUMNS, full)
    rows_update(LotClosing, ("washed_quantity", "wash_disallowed"), rewashed)
    rows_update(Position, ("quantity",), existing)
    rows_insert(Position, ("portfolio_id", "asset_id", "quantity", "updated_at"), fresh)
    rows_update(Portfolio, ("cash", "ledger_version", "updated_at"), portfolios)
    return trade_ids
