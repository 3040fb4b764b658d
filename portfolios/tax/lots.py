"""Tax lots: which lots a sale closes (FIFO, LIFO, HIFO, tax-minimizing, specific) and what
it realizes.

Pure Python on ``Decimal`` (no Django). A lot is anything with ``lot_id``, ``symbol``,
``quantity`` (open shares), ``cost_per_share`` and ``acquired_on`` (and optionally
``holding_from``, the start of its holding period when a wash sale tacked an older
lot's holding period onto it) — the ledger's rows, the autopilot's ``Lot``, the
backtester's lots or :class:`Lot` here. The live ledger
(``portfolios.services.execution``) and the backtester
(``rebalancer.backtests.engine.ledger``) both close lots through
:class:`portfolios.tax.book.LotBook`, which calls these functions: one arithmetic.

**Holding period** (IRC §1222, IRS Publication 544 "Holding Period"): the holding
period starts the day *after* the acquisition and includes the day of the sale; a
lot is **long-term** when held *more than one year*, i.e. sold after the anniversary
of its acquisition: bought 2020-01-10 and sold 2021-01-10 is short-term, sold
2021-01-11 long-term. A lot bought on 29 February is long-term from 1 March of the
next year (its one-year period, 1 March to 28 February, ends on the 28th).

**Tax-minimizing selection** (``tax_min``, the default for taxable accounts): the lots
whose sale costs the least tax per share go first — the tax per share is the gain per
share (sale price minus cost per share) times the rate of its holding period
(:class:`TaxRates`: short-term at the ordinary rate, long-term at the lower rate), so
short-term losses go first, then long-term losses, then long-term gains, and
short-term gains last (larger losses and smaller gains first within each). Ties:
oldest first.
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
TAX_MIN = "tax_min"
SPECIFIC = "specific"
LOT_METHODS = (FIFO, LIFO, HIFO, TAX_MIN, SPECIFIC)
SHORT = "short"
LONG = "long"


@dataclass(frozen=True)
class TaxRates:
    """Marginal rates for estimated tax and the tax-minimizing lot choice (fractions).

    ``short_term`` is the ordinary-income rate (short-term gains and the yearly
    deduction of net losses against ordinary income); ``long_term`` the rate on
    long-term gains; ``loss_deduction_limit`` the net capital loss deductible against
    ordinary income per year (US: 3,000; 0 switches it off).
    """

    short_term: float = 0.35
    long_term: float = 0.15
    loss_deduction_limit: float = 3000.0

    def rate(self, holding: str) -> float:
        return self.long_term if holding == LONG else self.short_term


DEFAULT_RATES = TaxRates()


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
    holding_from: date | None = None
    """Start of the holding period when a wash sale moved it (None: ``acquired_on``)."""


@dataclass(frozen=True)
class LotPick:
    """``quantity`` shares of lot ``lot_id`` closed by a sale."""

    lot_id: Any
    quantity: Decimal
    cost_per_share: Decimal
    acquired_on: date
    holding_from: date | None = None


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


def anniversary(acquired_on: date) -> date:
    """The last day of the one-year holding period of a lot bought on ``acquired_on``."""
    try:
        return acquired_on.replace(year=acquired_on.year + 1)
    except ValueError:  # bought on 29 February: the period 1 March - 28 February
        return date(acquired_on.year + 1, 2, 28)


def holding_period(acquired_on: date, sold_on: date) -> str:
    """``"long"`` if held more than one year (sold after the anniversary), else ``"short"``."""
    return LONG if sold_on > anniversary(acquired_on) else SHORT


def holding_start(lot: Any) -> date:
    """The date a lot's holding period counts from (``holding_from`` if a wash sale set it)."""
    return getattr(lot, "holding_from", None) or lot.acquired_on


def lots_order(
    lots: Iterable[LotLike],
    method: str,
    *,
    price: Decimal | None = None,
    sold_on: date | None = None,
    rates: TaxRates = DEFAULT_RATES,
) -> list[LotLike]:
    """Lots in the order a sale consumes them under ``method`` (ties: oldest, then id).

    ``tax_min`` needs the sale ``price`` (per share, net) and date ``sold_on``.
    """
    def key_fifo(lot: LotLike) -> tuple:
        return (lot.acquired_on, str(lot.lot_id))

    items = list(lots)
    if method == FIFO:
        return sorted(items, key=key_fifo)
    if method == LIFO:
        return sorted(items, key=key_fifo, reverse=True)
    if method == HIFO:
        return sorted(items, key=lambda lot: (-_d(lot.cost_per_share), *key_fifo(lot)))
    if method == TAX_MIN:
        if price is None or sold_on is None:
            raise ValueError("the tax_min lot method needs the sale price and date")
        sale = _d(price)

        def tax_per_share(lot: LotLike) -> Decimal:
            rate = rates.rate(holding_period(holding_start(lot), sold_on))
            return (sale - _d(lot.cost_per_share)) * Decimal(str(rate))

        return sorted(items, key=lambda lot: (tax_per_share(lot), *key_fifo(lot)))
    raise ValueError(f"unknown lot method {method!r}; use one of {', '.join(LOT_METHODS)}")


def lots_select(
    *,
    lots: Sequence[LotLike],
    symbol: str,
    quantity: Decimal,
    method: str = FIFO,
    lot_ids: Sequence[Any] = (),
    price: Decimal | None = None,
    sold_on: date | None = None,
    rates: TaxRates = DEFAULT_RATES,
) -> list[LotPick]:
    """The lots (and shares of each) a sale of ``quantity`` ``symbol`` closes.

    ``method`` is ``fifo``/``lifo``/``hifo``/``tax_min`` (which needs ``price`` and
    ``sold_on``); with ``lot_ids`` (or ``method="specific"``) the named lots are
    consumed first in the given order, then the rest by FIFO. Raises
    :class:`LotSelectionError` when the open lots hold fewer shares.
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
        ordered = lots_order(own, method, price=price, sold_on=sold_on, rates=rates)
    picks = []
    remaining = quantity
    for lot in ordered:
        if remaining <= 0:
            break
        take = min(_d(lot.quantity), remaining)
        picks.append(
            LotPick(lot.lot_id, take, _d(lot.cost_per_share), lot.acquired_on, getattr(lot, "holding_from", None))
        )
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
                holding_period=holding_period(pick.holding_from or pick.acquired_on, sold_on),
            )
        )
    return out
