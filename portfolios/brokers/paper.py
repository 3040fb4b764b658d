"""The paper broker: fills every order at the close, with slippage and commission.

Deterministic and side-effect free: the same orders at the same close always fill at
the same prices, and ``broker_ref`` is derived from the order's ``client_ref`` (or its
position in the batch), so a re-run after a crash produces identical fills.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal

from portfolios.brokers.base import BrokerError, Fill, Order
from portfolios.trading.costs import SIDES, CostModel, money

# US market close, 16:00 New York ≈ 21:00 UTC (ignoring daylight saving time).
CLOSE_TIME_UTC = time(21, 0)


class PaperBroker:
    """Simulated execution at the close of ``as_of``.

    ``prices`` is either a mapping symbol → close (the close of the ``as_of`` the
    broker is used for) or a callable ``(symbols, as_of) -> mapping`` that looks the
    closes up (``marketdata.selectors.latest_prices_get`` wrapped by the services).
    """

    name = "paper"

    def __init__(
        self,
        *,
        prices: Mapping[str, Decimal] | Callable[[Sequence[str], date], Mapping[str, Decimal]],
        costs: CostModel | None = None,
    ) -> None:
        self._prices = prices
        self.costs = costs or CostModel()

    def _closes(self, symbols: Sequence[str], as_of: date) -> Mapping[str, Decimal]:
        if callable(self._prices):
            return self._prices(symbols, as_of)
        return self._prices

    def execute(self, orders: Sequence[Order], as_of: date) -> list[Fill]:
        closes = self._closes(sorted({o.symbol for o in orders}), as_of)
        executed_at = datetime.combine(as_of, CLOSE_TIME_UTC, tzinfo=UTC)
        fills = []
        for index, order in enumerate(orders):
            if order.side not in SIDES:
                raise BrokerError(f"unknown side {order.side!r}", symbol=order.symbol)
            if not order.quantity > 0:
                raise BrokerError(f"quantity must be positive, got {order.quantity}", symbol=order.symbol)
            close = closes.get(order.symbol)
            if close is None or not Decimal(close) > 0:
                raise BrokerError(f"no close for {order.symbol} on {as_of}", symbol=order.symbol)
            close = Decimal(close)
            price = self.costs.fill_price(close, order.side)
            gross = money(order.quantity * price)
            fills.append(
                Fill(
                    symbol=order.symbol,
                    side=order.side,
                    quantity=order.quantity,
                    price=price,
                    market_price=close,
                    commission=self.costs.commission(gross),
                    slippage=self.costs.slippage_cost(
                        quantity=order.quantity, price=close, fill_price=price
                    ),
                    cash_flow=self.costs.cash_flow(
                        side=order.side, quantity=order.quantity, fill_price=price
                    ),
                    executed_at=executed_at,
                    broker_ref=_ref(order, index, as_of),
                )
            )
        return fills


def _ref(order: Order, index: int, as_of: date) -> str:
    seed = order.client_ref or f"{as_of.isoformat()}:{index}:{order.symbol}:{order.side}:{order.quantity}"
    return "paper-" + hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()[:16]
