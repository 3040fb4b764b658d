"""Broker adapters behind one interface; the paper broker is the default (no Django)."""

from portfolios.brokers.base import Broker, BrokerError, Fill, Order
from portfolios.brokers.paper import PaperBroker

__all__ = ["Broker", "BrokerError", "Fill", "Order", "PaperBroker"]
