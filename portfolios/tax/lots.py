"""Tax lots: which lots a sale closes (FIFO, LIFO, HIFO, specific) and what it realizes.

Pure Python on ``Decimal`` (no Django). A lot is anything with ``lot_id``, ``symbol``,
``quantity`` (open shares), ``cost_per_share`` and ``acquired_on`` — the ledger's rows
converted by ``portfolios.selectors``, the autopilot's ``Lot`` or :class:`Lot` here.
Holding period: **long** when the lot was held more than one year (sold after the
anniversary of its acquisition), otherwise **short**.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

FIFO = "fifo"
LIFO = "lifo"
HIFO = "hifo"
SPECIFIC = "specific"
LOT_METHODS = (FIFO, LIFO, HIFO, SPECIFIC)
SHORT = "short"
LONG = "long"


class LotSelectionError(ValueError):
    """The lots cannot cover the sale (too few shares, unknown or foreign lot ids)."""

    def __init__(self, message: str, *, symbol: str, requested: Decimal, available: Decimal) -> None:
        super().__init__(message)
        self.symbol = symbol
        self.requested = requested
        self.available = available


class LotLike(Protocol):
    lot_id: Any
    symbol: str
    quantity: Any
    cost_per_share: Any
    acquired_on: date


@dataclass(frozen=True)
class Lot:
    """One open tax lot: ``quantity`` shares still open, bought at ``cost_per_share``."""

    lot_id: int | None
    symbol: str
    quantity: Decimal
    cost_per_share: Decimal
    acquired_on: date


@dataclass(frozen=True)
class LotPick:
    """``quantity`` shares of lot ``lot_id`` closed by a sale."""

    lot_id: Any
    quantity: Decimal
    cost_per_share: Decimal
    acquired_on: date


@dataclass(frozen=True)
class Realization:
    """The gain or loss one picked lot realizes (``gain`` < 0 is a loss)."""

    lot_id: Any
    quantity: Decimal
    proceeds: Decimal
    cost: Decimal
    gain: Decimal
    holding_period: str  # "short" | "long"


def _d(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def holding_period(acquired_on: date, sold_on: date) -> str:
    """``"long"`` if held more than one year (sold after the first anniversary)."""
    try:
        anniversary = acquired_on.replace(year=acquired_on.year + 1)
    except ValueError:  # bought on 29 February
        anniversary = date(acquired_on.year + 1, 3, 1)
    return LONG if sold_on > anniversary else SHORT


def lots_order(lots: Iterable[LotLike], method: str) -> list[LotLike]:
    """Lots in the order a sale consumes them under ``method`` (ties: oldest, then id)."""
    def key_fifo(lot: LotLike) -> tuple:
        return (lot.acquired_on, str(lot.lot_id))

    items = list(lots)
    if method == FIFO:
        return sorted(items, key=key_fifo)
    if method == LIFO:
        return sorted(items, key=key_fifo, reverse=True)
    if method == HIFO:
        return sorted(items, key=lambda lot: (-_d(lot.cost_per_share), *key_fifo(lot)))
    raise ValueError(f"unknown lot method {method!r}; use one of {', '.join(LOT_METHODS)}")


def lots_select(
    *,
    lots: Sequence[LotLike],
    symbol: str,
    quantity: Decimal,
    method: str = FIFO,
    lot_ids: Sequence[Any] = (),
) -> list[LotPick]:
    """The lots (and shares of each) a sale of ``quantity`` ``symbol`` closes.

    ``method`` is ``fifo``/``lifo``/``hifo``; with ``lot_ids`` (or ``method="specific"``)
    the named lots are consumed first in the given order, then the rest by FIFO.
    Raises :class:`LotSelectionError` when the open lots hold fewer shares.
    """
    quantity = _d(quantity)
    own = [lot for lot in lots if lot.symbol == symbol and _d(lot.quantity) > 0]
    available = sum((_d(lot.quantity) for lot in own), Decimal(0))
    if quantity > available:
        raise LotSelectionError(
            f"selling {quantity} {symbol} but only {available} are held in open lots",
            symbol=symbol,
            requested=quantity,
            available=available,
        )
    if lot_ids or method == SPECIFIC:
        by_id = {lot.lot_id: lot for lot in own}
        unknown = [i for i in lot_ids if i not in by_id]
        if unknown:
            raise LotSelectionError(
                f"lots {unknown} are not open lots of {symbol}",
                symbol=symbol,
                requested=quantity,
                available=available,
            )
        named = [by_id[i] for i in lot_ids]
        ordered = named + [lot for lot in lots_order(own, FIFO) if lot.lot_id not in set(lot_ids)]
    else:
        ordered = lots_order(own, method)
    picks = []
    remaining = quantity
    for lot in ordered:
        if remaining <= 0:
            break
        take = min(_d(lot.quantity), remaining)
        picks.append(LotPick(lot.lot_id, take, _d(lot.cost_per_share), lot.acquired_on))
        remaining -= take
    return picks


def realized_gains(
    *, picks: Sequence[LotPick], proceeds: Decimal, sold_on: date, quantum: Decimal = Decimal("0.0001")
) -> list[Realization]:
    """Split a sale's net ``proceeds`` over its picked lots pro rata by shares.

    The last pick takes the rounding remainder, so the realizations' proceeds sum to
    ``proceeds`` exactly. Cost is shares x cost per share, rounded to ``quantum``.
    """
    total_q = sum((p.quantity for p in picks), Decimal(0))
    out = []
    left = _d(proceeds)
    for i, pick in enumerate(picks):
        share = left if i == len(picks) - 1 else (proceeds * pick.quantity / total_q).quantize(quantum)
        left -= share
        cost = (pick.quantity * pick.cost_per_share).quantize(quantum)
        out.append(
            Realization(
                lot_id=pick.lot_id,
                quantity=pick.quantity,
                proceeds=share,
                cost=cost,
                gain=share - cost,
                holding_period=holding_period(pick.acquired_on, sold_on),
            )
        )
    return out
