"""The transaction cost model shared by trade generation and the paper broker.

A fill costs a proportional **slippage** on the price (``slippage_bps`` basis points,
against the trader: buys pay more, sells receive less) plus a **commission** of
``commission_rate`` times the notional with a floor of ``commission_min`` per order.
Estimation (:mod:`portfolios.trading.engine`) and execution
(:class:`portfolios.brokers.PaperBroker`) use the same functions, so a plan made at
a close fills at exactly its estimate at that close — which is what keeps cash from
going negative. Money is quantized to :data:`MONEY` (4 places), prices to
:data:`PRICE` (6 places), quantities to :data:`QUANTITY` (8 places), as in the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal

MONEY = Decimal("0.0001")
PRICE = Decimal("0.000001")
QUANTITY = Decimal("0.00000001")
WHOLE = Decimal("1")
BPS = Decimal("10000")
ZERO = Decimal("0")

BUY = "buy"
SELL = "sell"
SIDES = (BUY, SELL)


def money(value: Decimal) -> Decimal:
    """Round a money amount to the ledger's 4 places (banker's rounding)."""
    return value.quantize(MONEY, rounding=ROUND_HALF_EVEN)


def quantity_floor(value: Decimal, *, fractional: bool) -> Decimal:
    """Round a share quantity down to the tradable step (8 places or whole shares)."""
    return value.quantize(QUANTITY if fractional else WHOLE, rounding=ROUND_DOWN)


@dataclass(frozen=True)
class CostModel:
    """Commission and slippage; ``Decimal`` so estimates equal fills to the cent."""

    commission_rate: Decimal = Decimal("0.0005")
    """Commission as a fraction of the order's notional (5 bps by default)."""
    commission_min: Decimal = Decimal("0")
    """Minimum commission per order, in the base currency."""
    slippage_bps: Decimal = Decimal("5")
    """Price impact against the trader, in basis points of the reference price."""

    @property
    def proportional_rate(self) -> float:
        """What trading one unit of value costs, as a fraction of it: commission plus slippage.

        The optimizer's ``transaction_cost`` (``k`` in ``k ||w - w0||_1``); the per-order
        minimum is a fixed cost and is left out.
        """
        return float(self.commission_rate + self.slippage_bps / BPS)

    def fill_price(self, price: Decimal, side: str) -> Decimal:
        """The price paid (buy) or received (sell) after slippage; rounded against the trader."""
        factor = self.slippage_bps / BPS
        if side == BUY:
            return (price * (1 + factor)).quantize(PRICE, rounding=ROUND_UP)
        return (price * (1 - factor)).quantize(PRICE, rounding=ROUND_DOWN)

    def commission(self, notional: Decimal) -> Decimal:
        if notional <= 0:
            return ZERO
        return max(money(notional * self.commission_rate), money(self.commission_min))

    def cash_flow(self, *, side: str, quantity: Decimal, fill_price: Decimal) -> Decimal:
        """Signed cash impact of a fill: negative for buys, positive for sells (net of commission)."""
        gross = money(quantity * fill_price)
        commission = self.commission(gross)
        return -gross - commission if side == BUY else gross - commission

    def slippage_cost(self, *, quantity: Decimal, price: Decimal, fill_price: Decimal) -> Decimal:
        """Money lost to slippage relative to the reference price (never negative)."""
        return money(abs(fill_price - price) * quantity)
