"""The broker interfaces: orders go in, fills come out (pure Python, no Django).

Two kinds of broker:

* :class:`Broker` — fills at once. Execution services (``portfolios.services.execution``)
  talk only to it (the paper broker); it must fill all orders or raise
  :class:`BrokerError` (the ledger applies a batch all-or-nothing).
* :class:`OrderBroker` — a real broker (``portfolios.brokers.alpaca``): an order is
  submitted, then accepted, partially filled, filled, canceled, expired or rejected over
  time; ``portfolios.services.orders`` records each state and each fill as it arrives.
  Its values (:class:`OrderTicket`, :class:`BrokerOrder`, :class:`BrokerPosition`,
  :class:`BrokerAccountState`, :class:`MarketClock`, :class:`MarketDay`) are the SDK's
  answers translated to ``Decimal`` and aware datetimes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable


class BrokerError(Exception):
    """The broker refused or could not fill an order; ``symbol`` names it when known."""

    def __init__(self, message: str, *, symbol: str | None = None) -> None:
        super().__init__(message)
        self.symbol = symbol


@dataclass(frozen=True)
class Order:
    """A market order for ``quantity`` (> 0) shares; ``client_ref`` makes it idempotent."""

    symbol: str
    side: str  # "buy" | "sell"
    quantity: Decimal
    client_ref: str = ""


@dataclass(frozen=True)
class Fill:
    """How an order filled: price after slippage, commission and slippage in money."""

    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    """Fill price per share, slippage included."""
    market_price: Decimal
    """The reference price (the close) the fill was made against."""
    commission: Decimal
    slippage: Decimal
    """Money lost to slippage: |price - market_price| x quantity."""
    cash_flow: Decimal
    """Signed cash impact: negative for buys, positive for sells, commission included."""
    executed_at: datetime
    broker_ref: str


@runtime_checkable
class Broker(Protocol):
    name: str

    def execute(self, orders: Sequence[Order], as_of: date) -> list[Fill]:
        """Fill every order at ``as_of`` (one fill per order, same order) or raise BrokerError."""
        ...


# --- order-routing brokers (a real broker: orders live, fill over time, can fail) -------


class BrokerUnavailable(BrokerError):
    """The broker could not be reached or answered 5xx/429: nothing is known; try again later."""


class BrokerRejected(BrokerError):
    """The broker refused the request (4xx): ``code`` is its error code when it gave one."""

    def __init__(self, message: str, *, symbol: str | None = None, code: str = "", status: int | None = None) -> None:
        super().__init__(message, symbol=symbol)
        self.code = code
        self.status = status


class BrokerAuthError(BrokerRejected):
    """The broker does not accept the credentials (401, or 403 without an order-level code)."""


class BrokerOrderNotFound(BrokerError):
    """No order with that id (or client order id) at the broker."""


@dataclass(frozen=True)
class OrderTicket:
    """An order as it is sent: ``client_order_id`` makes a resubmission find the same order."""

    client_order_id: str
    symbol: str
    side: str  # "buy" | "sell"
    quantity: Decimal
    order_type: str = "market"  # "market" | "limit"
    limit_price: Decimal | None = None
    time_in_force: str = "day"


@dataclass(frozen=True)
class BrokerOrder:
    """The broker's view of one order at one moment (polled, or carried by a trade update).

    ``filled_quantity`` and ``filled_avg_price`` are cumulative over the order's fills;
    ``status`` is the broker's own word (``new``, ``partially_filled``, ``pending_cancel``...).
    """

    broker_order_id: str
    client_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    status: str
    filled_quantity: Decimal
    filled_avg_price: Decimal | None
    order_type: str = "market"
    limit_price: Decimal | None = None
    submitted_at: datetime | None = None
    updated_at: datetime | None = None
    filled_at: datetime | None = None


@dataclass(frozen=True)
class FillEvent:
    """One fill as a trade-update stream reports it (polling only sees the cumulative order)."""

    quantity: Decimal
    price: Decimal
    executed_at: datetime
    fill_ref: str
    """The broker's execution id."""


@dataclass(frozen=True)
class BrokerPosition:
    """Shares of one symbol the broker holds for the account (negative: short)."""

    symbol: str
    quantity: Decimal
    avg_entry_price: Decimal
    current_price: Decimal | None = None


@dataclass(frozen=True)
class BrokerAccountState:
    """The account's money as the broker reports it."""

    account_number: str
    status: str
    currency: str
    cash: Decimal
    buying_power: Decimal
    equity: Decimal
    trading_blocked: bool = False


@dataclass(frozen=True)
class MarketClock:
    """The broker's clock: is the market open now, and when it next opens and closes (aware)."""

    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime


@dataclass(frozen=True)
class MarketDay:
    """One trading session of the broker's calendar (aware open and close; early closes included)."""

    date: date
    open: datetime
    close: datetime


@runtime_checkable
class OrderBroker(Protocol):
    """A broker whose orders live on after submission (Alpaca); see ``portfolios.services.orders``.

    ``order_submit`` is idempotent by ``client_order_id``: submitting a ticket whose id the
    broker already knows returns that order instead of a second one.
    """

    name: str

    def account(self) -> BrokerAccountState: ...

    def clock(self) -> MarketClock: ...

    def calendar(self, start: date, end: date) -> list[MarketDay]: ...

    def order_submit(self, ticket: OrderTicket) -> BrokerOrder: ...

    def order_get(self, broker_order_id: str) -> BrokerOrder: ...

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None: ...

    def order_cancel(self, broker_order_id: str) -> None: ...

    def positions(self) -> list[BrokerPosition]: ...
