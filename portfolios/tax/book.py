"""The one tax-lot arithmetic of every ledger: lots opened, closed and split, wash sales.

:class:`LotBook` holds one portfolio's open tax lots and its recent loss closings in
memory and moves them exactly (``Decimal``). The live ledger
(:class:`portfolios.services.execution.Ledger`, which writes what the book did) and
the backtester's :class:`~rebalancer.backtests.engine.ledger.PaperLedger` (which keeps
the book in memory) are both thin shells around it, so a backtest and the live
portfolio agree on every lot, gain, holding period and wash sale. Pure Python, no
Django.

Operations
----------
* :meth:`LotBook.buy` opens a lot (basis = what was paid, commission included);
* :meth:`LotBook.sell` closes lots (:func:`~portfolios.tax.lots.lots_select`: FIFO,
  LIFO, HIFO, tax-minimizing or named lots), splits the net proceeds over them pro rata
  (the last pick takes the rounding remainder, so the closings' proceeds add up to the
  sale's exactly), takes each lot's basis pro rata from its open basis (the last shares
  of a lot take its remaining basis, so no basis is ever lost to rounding) and
  classifies each closing short- or long-term by the anniversary rule
  (:func:`~portfolios.tax.lots.holding_period`);
* :meth:`LotBook.split` applies a stock split or reverse split ``numerator`` for
  ``denominator``: every open lot's quantity is multiplied, its total basis and its
  acquisition date are unchanged (so its basis per share is divided).

Wash sales (IRC §1091; IRS Publication 550, "Wash Sales")
-----------------------------------------------------------
A loss on a sale is **disallowed** when substantially identical shares (here: the same
symbol) are bought within 30 days before or after the sale. Implemented as the rule
reads:

* a loss closing is matched with **replacement shares** bought in the 30 days before
  the sale (open lots not sold by it) when it is made, and with shares bought in the
  30 days after it when they are bought (:meth:`LotBook.buy`) — "30 days" is calendar
  days, both ends included;
* only as many loss shares are washed as there are replacement shares; loss shares
  and replacement shares are matched in the order they were sold and bought, and each
  replacement share washes at most one loss share (a lot that absorbed a wash is
  marked ``wash_replacement``);
* the disallowed loss is **added to the basis** of the replacement shares, and the
  holding period of the sold shares is **added to theirs** (``holding_from`` moves
  back by the days the sold shares were held);
* when only part of a lot replaces, that part is split off as its own lot (same
  acquisition date and opening trade), so every lot has one basis per share and one
  holding period.

The closing keeps its economic ``gain`` (proceeds - basis); ``wash_disallowed`` is the
part of the loss that is not deductible now, so ``recognized_gain = gain +
wash_disallowed`` is what the tax report shows. Money is quantized to 4 places
(:data:`QUANTUM`), quantities to 8.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from portfolios.tax.lots import (
    DEFAULT_RATES,
    FIFO,
    LotSelectionError,
    TaxRates,
    holding_period,
    lots_select,
)

WASH_SALE_DAYS = 30
QUANTUM = Decimal("0.0001")
SHARES = Decimal("0.00000001")
ZERO = Decimal(0)


def _money(value: Decimal) -> Decimal:
    return value.quantize(QUANTUM, rounding=ROUND_HALF_EVEN)


@dataclass(slots=True, eq=False)
class BookLot:
    """One open tax lot: ``quantity`` shares still open with total ``basis``."""

    lot_id: Any
    symbol: str
    acquired_on: date
    quantity: Decimal
    basis: Decimal
    holding_from: date | None = None
    """Start of the holding period when a wash sale tacked one on (None: ``acquired_on``)."""
    wash_replacement: bool = False
    """These shares already absorbed a disallowed loss (a share washes one loss share)."""
    wash_adjustment: Decimal = ZERO
    """Disallowed loss added to ``basis`` (included in it)."""

    @property
    def cost_per_share(self) -> Decimal:
        return self.basis / self.quantity if self.quantity else ZERO

    @property
    def holding_start(self) -> date:
        return self.holding_from or self.acquired_on


@dataclass(slots=True, eq=False)
class BookClosing:
    """Shares of one lot closed by one sale, with what they realized."""

    closing_id: Any
    lot_id: Any
    symbol: str
    quantity: Decimal
    proceeds: Decimal
    basis: Decimal
    gain: Decimal
    """Economic gain: proceeds - basis (negative: a loss)."""
    holding_period: str
    closed_on: date
    lot_acquired_on: date
    lot_holding_start: date
    washed_quantity: Decimal = ZERO
    """Loss shares matched with replacement shares so far."""
    wash_disallowed: Decimal = ZERO
    """Part of the loss disallowed by the wash-sale rule (>= 0; moved to replacements)."""
    harvest: bool = False
    """Sold to harvest a tax loss."""

    @property
    def recognized_gain(self) -> Decimal:
        """The gain or loss reported for tax: the economic gain less the disallowed loss."""
        return self.gain + self.wash_disallowed

    @property
    def unwashed_quantity(self) -> Decimal:
        return self.quantity - self.washed_quantity if self.gain < 0 else ZERO


@dataclass(frozen=True, slots=True)
class WashMatch:
    """``quantity`` loss shares of ``closing`` washed by the replacement lot ``lot``."""

    closing: BookClosing
    lot: BookLot
    quantity: Decimal
    disallowed: Decimal
    holding_days: int
    """Days of the sold shares' holding period added to the replacement's."""
    matched_on: date


@dataclass(frozen=True, slots=True)
class LotPiece:
    """``piece`` was split off lot ``parent``: ``quantity`` shares with ``basis`` of its basis
    (before the piece absorbed a disallowed loss)."""

    parent: BookLot
    piece: BookLot
    quantity: Decimal
    basis: Decimal


@dataclass
class LotBook:
    """One portfolio's open lots and recent loss closings; see the module docstring.

    ``lots``: the open lots (any symbols); ``loss_closings``: closings at a loss in the
    last :data:`WASH_SALE_DAYS` with shares not washed yet (a later buy may wash them).
    ``new_id`` makes ids for lots split off and for closings (default: ``("piece",
    n)`` and ``("closing", n)`` tuples; a persistent ledger maps them to rows).
    """

    lots: Iterable[BookLot] = ()
    loss_closings: Iterable[BookClosing] = ()
    wash_sale_days: int = WASH_SALE_DAYS
    rates: TaxRates = DEFAULT_RATES
    new_id: Callable[[str], Any] | None = None
    by_symbol: dict[str, list[BookLot]] = field(init=False)
    recent_losses: dict[str, list[BookClosing]] = field(init=False)
    # What the book did, for a persistent ledger to write:
    opened: list[BookLot] = field(init=False, default_factory=list)
    pieces: list[LotPiece] = field(init=False, default_factory=list)
    touched: dict[int, BookLot] = field(init=False, default_factory=dict)
    closings: list[BookClosing] = field(init=False, default_factory=list)
    rewashed: dict[int, BookClosing] = field(init=False, default_factory=dict)
    washes: list[WashMatch] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.by_symbol = {}
        for lot in self.lots:
            self.by_symbol.setdefault(lot.symbol, []).append(lot)
        self.recent_losses = {}
        for closing in self.loss_closings:
            self.recent_losses.setdefault(closing.symbol, []).append(closing)
        for own in self.recent_losses.values():
            own.sort(key=lambda c: c.closed_on)
        self._counter = itertools.count(1)
        self._fresh: set[int] = set()  # id() of lots the book created (inserted, not updated)
        self._new_closings: set[int] = set()
        self.lots = ()  # the book owns them now (by_symbol)
        self.loss_closings = ()

    def events_clear(self) -> None:
        """Forget what the book did so far (a ledger that wrote it, or keeps no record)."""
        self.opened, self.pieces, self.closings, self.washes = [], [], [], []
        self.touched, self.rewashed = {}, {}
        self._fresh, self._new_closings = set(), set()

    # -- reads -----------------------------------------------------------------
    def open_lots(self, symbol: str | None = None) -> list[BookLot]:
        if symbol is not None:
            return list(self.by_symbol.get(symbol, ()))
        return [lot for own in self.by_symbol.values() for lot in own]

    def quantity(self, symbol: str) -> Decimal:
        return sum((lot.quantity for lot in self.by_symbol.get(symbol, ())), ZERO)

    def _id(self, kind: str) -> Any:
        if self.new_id is not None:
            return self.new_id(kind)
        return (kind, next(self._counter))

    def _touch(self, lot: BookLot) -> None:
        if id(lot) not in self._fresh:
            self.touched[id(lot)] = lot

    # -- buys -------------------------------------------------------------------
    def buy(
        self, *, symbol: str, quantity: Decimal, basis: Decimal, on: date, lot_id: Any = None
    ) -> list[BookLot]:
        """Open a lot of ``quantity`` shares costing ``basis`` (commission included).

        A loss closing of ``symbol`` in the last 30 days with unwashed shares is washed by
        the new shares (the new lot, or the part of it that replaces, gets the disallowed
        loss and the holding period). Returns the lots the purchase opened (one, or two
        when part of it replaces).
        """
        if quantity <= 0 or basis < 0:
            raise ValueError(f"a lot needs a positive quantity and a basis >= 0 (got {quantity}, {basis})")
        lot = BookLot(lot_id if lot_id is not None else self._id("lot"), symbol, on, quantity, basis)
        self.by_symbol.setdefault(symbol, []).append(lot)
        self.opened.append(lot)
        self._fresh.add(id(lot))
        opened = [lot]
        start = on - timedelta(days=self.wash_sale_days)
        for closing in self._losses(symbol, start, on):
            if lot.wash_replacement:
                break  # the whole new lot already replaces an earlier loss
            take = min(closing.unwashed_quantity, lot.quantity)
            if take <= 0:
                continue
            replacement = self._carve(lot, take, new=True)
            if replacement is not lot:
                opened.append(replacement)
            self._wash(closing, replacement, take, on)  # the rest of ``lot`` may wash the next loss
        return opened

    def _losses(self, symbol: str, start: date, end: date) -> list[BookClosing]:
        own = self.recent_losses.get(symbol)
        if not own:
            return []
        own[:] = [c for c in own if c.closed_on >= start and c.unwashed_quantity > 0]
        return [c for c in own if c.closed_on <= end]

    # -- sells ------------------------------------------------------------------
    def sell(
        self,
        *,
        symbol: str,
        quantity: Decimal,
        proceeds: Decimal,
        on: date,
        method: str = FIFO,
        lot_ids: Sequence[Any] = (),
        harvest: bool = False,
    ) -> list[BookClosing]:
        """Close ``quantity`` shares of ``symbol`` sold for net ``proceeds`` on ``on``.

        Raises :class:`~portfolios.tax.lots.LotSelectionError` (nothing changed) when the
        open lots hold fewer shares or ``lot_ids`` names foreign lots.
        """
        own = self.by_symbol.get(symbol, [])
        price = proceeds / quantity if quantity > 0 else ZERO
        picks = lots_select(
            lots=own, symbol=symbol, quantity=quantity, method=method, lot_ids=lot_ids,
            price=price, sold_on=on, rates=self.rates,
        )
        by_id = {lot.lot_id: lot for lot in own}
        total_q = sum((p.quantity for p in picks), ZERO)
        left = proceeds
        out: list[BookClosing] = []
        for i, pick in enumerate(picks):
            lot = by_id[pick.lot_id]
            share = left if i == len(picks) - 1 else _money(proceeds * pick.quantity / total_q)
            left -= share
            if pick.quantity == lot.quantity:
                basis = lot.basis  # the last shares take the rounding remainder
            else:
                basis = _money(lot.basis * pick.quantity / lot.quantity)
            closing = BookClosing(
                closing_id=self._id("closing"), lot_id=lot.lot_id, symbol=symbol,
                quantity=pick.quantity, proceeds=share, basis=basis, gain=share - basis,
                holding_period=holding_period(lot.holding_start, on), closed_on=on,
                lot_acquired_on=lot.acquired_on, lot_holding_start=lot.holding_start, harvest=harvest,
            )
            lot.quantity -= pick.quantity
            lot.basis -= basis
            self._touch(lot)
            out.append(closing)
        self.by_symbol[symbol] = [lot for lot in own if lot.quantity > 0]
        self.closings.extend(out)
        self._new_closings.update(id(c) for c in out)
        for closing in out:
            if closing.gain < 0:
                self.recent_losses.setdefault(symbol, []).append(closing)
                self._wash_with_earlier_buys(closing, on)
        return out

    def _wash_with_earlier_buys(self, closing: BookClosing, on: date) -> None:
        start = on - timedelta(days=self.wash_sale_days)
        candidates = sorted(
            (
                lot for lot in self.by_symbol.get(closing.symbol, ())
                # the rest of the lot sold is not its own replacement
                if start <= lot.acquired_on <= on and not lot.wash_replacement and lot.quantity > 0
                and lot.lot_id != closing.lot_id
            ),
            key=lambda lot: (lot.acquired_on, str(lot.lot_id)),
        )
        for lot in candidates:
            take = min(closing.unwashed_quantity, lot.quantity)
            if take <= 0:
                break
            replacement = self._carve(lot, take, new=False)
            self._wash(closing, replacement, take, on)

    # -- wash-sale mechanics ----------------------------------------------------
    def _carve(self, lot: BookLot, quantity: Decimal, *, new: bool) -> BookLot:
        """``lot`` itself when all of it replaces, else a piece of ``quantity`` split off it."""
        if quantity >= lot.quantity:
            return lot
        basis = _money(lot.basis * quantity / lot.quantity)
        piece = BookLot(
            self._id("piece"), lot.symbol, lot.acquired_on, quantity, basis, lot.holding_from,
        )
        lot.quantity -= quantity
        lot.basis -= basis
        self.by_symbol[lot.symbol].append(piece)
        self._fresh.add(id(piece))
        if new:
            self.opened.append(piece)
        else:
            self.pieces.append(LotPiece(lot, piece, quantity, basis))
            self._touch(lot)
        return piece

    def _wash(self, closing: BookClosing, lot: BookLot, quantity: Decimal, on: date) -> None:
        loss = -closing.gain
        if closing.washed_quantity + quantity >= closing.quantity:
            disallowed = loss - closing.wash_disallowed  # the last shares take the remainder
        else:
            disallowed = _money(loss * quantity / closing.quantity)
        held = max(0, (closing.closed_on - closing.lot_holding_start).days)  # 0 for a back-dated sale
        closing.washed_quantity += quantity
        closing.wash_disallowed += disallowed
        lot.basis += disallowed
        lot.wash_adjustment += disallowed
        lot.holding_from = lot.acquired_on - timedelta(days=held)
        lot.wash_replacement = True
        self._touch(lot)
        if id(closing) not in self._new_closings:
            self.rewashed[id(closing)] = closing
        self.washes.append(WashMatch(closing, lot, quantity, disallowed, held, on))

    # -- corporate actions ------------------------------------------------------
    def split(self, *, symbol: str, numerator: Decimal, denominator: Decimal) -> list[tuple[BookLot, Decimal, Decimal]]:
        """Apply a ``numerator``-for-``denominator`` split to the open lots of ``symbol``.

        Quantities are multiplied (rounded half-even to 8 places); total basis, acquisition
        date and holding period are unchanged. Returns (lot, quantity before, after).
        """
        if numerator <= 0 or denominator <= 0:
            raise ValueError("a split ratio needs a positive numerator and denominator")
        out = []
        for lot in self.by_symbol.get(symbol, ()):
            before = lot.quantity
            lot.quantity = (before * numerator / denominator).quantize(SHARES, rounding=ROUND_HALF_EVEN)
            self._touch(lot)
            out.append((lot, before, lot.quantity))
        return out


__all__ = [
    "WASH_SALE_DAYS",
    "BookClosing",
    "BookLot",
    "LotBook",
    "LotPiece",
    "LotSelectionError",
    "WashMatch",
]
