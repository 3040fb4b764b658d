"""The broker interface: orders go in, fills come out (pure Python, no Django).

Execution services (``portfolios.services.execution``) talk only to :class:`Broker`,
so a real broker adapter can replace :class:`~portfolios.brokers.paper.PaperBroker`
without touching the ledger code. A broker must fill all orders or raise
:class:`BrokerError` (the ledger applies a batch all-or-nothing).
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
