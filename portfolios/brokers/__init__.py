"""Broker adapters behind one interface; the paper broker is the default (no Django)."""

from portfolios.brokers.base import (
    Broker,
    BrokerAccountState,
    BrokerAuthError,
    BrokerError,
    BrokerOrder,
    BrokerOrderNotFound,
    BrokerPosition,
    BrokerRejected,
    BrokerUnavailable,
    Fill,
    FillEvent,
    MarketClock,
    MarketDay,
    Order,
    OrderBroker,
    OrderTicket,
)
from portfolios.brokers.paper import PaperBroker

__all__ = [
    "Broker",
    "BrokerAccountState",
    "BrokerAuthError",
    "BrokerError",
    "BrokerOrder",
    "BrokerOrderNotFound",
    "BrokerPosition",
    "BrokerRejected",
    "BrokerUnavailable",
    "Fill",
    "FillEvent",
    "MarketClock",
    "MarketDay",
    "Order",
    "OrderBroker",
    "OrderTicket",
    "PaperBroker",
]
