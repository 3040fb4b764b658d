"""Trade generation: from current holdings to target weights, with costs and minimums.

Pure Python on ``Decimal`` (no Django), shared by the live autopilot and the backtest
engine. :func:`trades_generate` implements the rules of issue 6:

* **sells before buys** — sells free the cash that buys then spend;
* **minimum trade value** — orders under ``min_trade_value`` are not worth their costs;
* **fractional or whole shares** by setting (quantities are floored to the step);
* **commission + slippage** from :class:`~portfolios.trading.costs.CostModel`, so the
  cash a plan spends is exactly what the paper broker charges at the same close;
* **cash buffer** — a fraction of total value stays in cash; buys never spend it;
* **never negative** — no sell exceeds the position; buys are sized to the cash left
  after sells and costs, scaled down proportionally when cash is short.

Weights are fractions of total value (holdings + cash); what they leave of 1.0 is cash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from portfolios.trading.costs import (
    BUY,
    SELL,
    ZERO,
    CostModel,
    money,
    quantity_floor,
)

WEIGHT_TOLERANCE = 1e-6


class TradeGenerationError(ValueError):
    """Inputs trade generation cannot work with; ``field`` names the offending input."""

    def __init__(self, message: str, *, field: str, symbols: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.field = field
        self.symbols = symbols


@dataclass(frozen=True)
class TradeSettings:
    """How targets become orders; every amount in the portfolio's base currency."""

    min_trade_value: Decimal = Decimal("50")
    """Orders with a smaller notional are skipped (not worth their commission)."""
    fractional_shares: bool = True
    """Trade in steps of 1e-8 shares; otherwise whole shares only."""
    cash_buffer: Decimal = Decimal("0.02")
    """Fraction of total value always left in cash (0.02 = 2 %)."""
    commission_rate: Decimal = Decimal("0.0005")
    """Commission as a fraction of notional."""
    commission_min: Decimal = Decimal("0")
    """Minimum commission per order."""
    slippage_bps: Decimal = Decimal("5")
    """Slippage against the trader, basis points of the close."""

    def __post_init__(self) -> None:
        # Accept floats/ints from engine-side configs; store exact Decimals.
        for name in ("min_trade_value", "cash_buffer", "commission_rate", "commission_min", "slippage_bps"):
            value = getattr(self, name)
            if not isinstance(value, Decimal):
                object.__setattr__(self, name, Decimal(str(value)))

    @property
    def cost_model(self) -> CostModel:
        return CostModel(
            commission_rate=Decimal(self.commission_rate),
            commission_min=Decimal(self.commission_min),
            slippage_bps=Decimal(self.slippage_bps),
        )


@dataclass(frozen=True)
class ProposedTrade:
    """One order of a plan with its estimated fill; JSON-able via :meth:`to_dict`."""

    symbol: str
    side: str  # "buy" | "sell"
    quantity: Decimal
    est_price: Decimal
    """Estimated fill price per share, slippage included."""
    est_cost: Decimal
    """Estimated transaction cost: commission + slippage, in money."""
    reason: str
    price: Decimal = ZERO
    """The reference (close) price the estimate was made at."""
    est_commission: Decimal = ZERO
    est_cash_flow: Decimal = ZERO
    """Signed cash impact: negative for buys, positive for sells."""
    lot_ids: tuple[int, ...] = ()
    """Specific tax lots to close (sells only); empty = the portfolio's lot method."""
    tags: tuple[str, ...] = field(default=())
    """Machine-readable labels, e.g. ``("tax_loss_harvest",)``."""

    @property
    def notional(self) -> Decimal:
        return money(self.quantity * self.est_price)

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "side": self.side,
            "quantity": str(self.quantity),
            "est_price": str(self.est_price),
            "est_cost": str(self.est_cost),
            "reason": self.reason,
            "price": str(self.price),
            "est_commission": str(self.est_commission),
            "est_cash_flow": str(self.est_cash_flow),
            "lot_ids": list(self.lot_ids),
            "tags": list(self.tags),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProposedTrade:
        return cls(
            symbol=str(data["symbol"]),
            side=str(data["side"]),
            quantity=Decimal(str(data["quantity"])),
            est_price=Decimal(str(data.get("est_price", "0"))),
            est_cost=Decimal(str(data.get("est_cost", "0"))),
            reason=str(data.get("reason", "")),
            price=Decimal(str(data.get("price", "0"))),
            est_commission=Decimal(str(data.get("est_commission", "0"))),
            est_cash_flow=Decimal(str(data.get("est_cash_flow", "0"))),
            lot_ids=tuple(int(i) for i in data.get("lot_ids", ())),
            tags=tuple(str(t) for t in data.get("tags", ())),
        )


def portfolio_value(
    *, quantities: Mapping[str, Decimal], prices: Mapping[str, Decimal], cash: Decimal
) -> Decimal:
    """Cash plus the market value of every position (prices required for held symbols)."""
    _require_prices(quantities, prices)
    return cash + sum((q * prices[s] for s, q in quantities.items() if q), ZERO)


def weights_current(
    *, quantities: Mapping[str, Decimal], prices: Mapping[str, Decimal], cash: Decimal
) -> dict[str, float]:
    """Weight of each held symbol in total value (cash is what the weights leave of 1)."""
    total = portfolio_value(quantities=quantities, prices=prices, cash=cash)
    if total <= 0:
        return {s: 0.0 for s, q in quantities.items() if q}
    return {s: float(q * prices[s] / total) for s, q in quantities.items() if q}


def drift(current: Mapping[str, float], target: Mapping[str, float]) -> float:
    """The largest absolute deviation of any symbol's weight from its target."""
    symbols = set(current) | set(target)
    return max((abs(current.get(s, 0.0) - target.get(s, 0.0)) for s in symbols), default=0.0)


def turnover(current: Mapping[str, float], target: Mapping[str, float]) -> float:
    """One-way turnover: half the sum of absolute weight changes."""
    symbols = set(current) | set(target)
    return 0.5 * sum(abs(current.get(s, 0.0) - target.get(s, 0.0)) for s in symbols)


def trades_generate(
    *,
    quantities: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    cash: Decimal,
    target_weights: Mapping[str, float],
    settings: TradeSettings,
) -> list[ProposedTrade]:
    """Orders that move ``quantities`` + ``cash`` towards ``target_weights``, sells first.

    ``quantities`` are shares held per symbol, ``prices`` the reference close per symbol
    (required for every held or targeted symbol), ``target_weights`` fractions of total
    value (non-negative, summing to at most 1). Symbols held but absent from the targets
    are sold out. Raises :class:`TradeGenerationError` on unusable inputs.
    """
    _validate(quantities=quantities, prices=prices, target_weights=target_weights)
    costs = settings.cost_model
    held = {s: Decimal(q) for s, q in quantities.items() if q > 0}
    total = cash + sum((q * prices[s] for s, q in held.items()), ZERO)
    if total <= 0:
        return []
    buffer = money(total * Decimal(settings.cash_buffer))
    weights = _scaled_weights(target_weights, total=total, buffer=buffer)
    current_w = {s: q * prices[s] / total for s, q in held.items()}

    sells = _sells(held, prices, weights, current_w, total, settings, costs)
    cash_after_sells = cash + sum((t.est_cash_flow for t in sells), ZERO)
    buys = _buys(
        held, prices, weights, current_w, total, cash_after_sells - buffer, settings, costs
    )
    return sells + buys


def _validate(
    *,
    quantities: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    target_weights: Mapping[str, float],
) -> None:
    negative = tuple(sorted(s for s, q in quantities.items() if q < 0))
    if negative:
        raise TradeGenerationError(
            f"negative quantities for {', '.join(negative)}", field="quantities", symbols=negative
        )
    bad_weights = tuple(sorted(s for s, w in target_weights.items() if not w >= 0))
    if bad_weights:
        raise TradeGenerationError(
            f"target weights must be non-negative numbers: {', '.join(bad_weights)}",
            field="target_weights",
            symbols=bad_weights,
        )
    weight_sum = sum(float(w) for w in target_weights.values())
    if weight_sum > 1 + WEIGHT_TOLERANCE:
        raise TradeGenerationError(
            f"target weights sum to {weight_sum:.6f}; they must sum to at most 1 (the rest is cash)",
            field="target_weights",
        )
    needed = {s for s, q in quantities.items() if q > 0} | {
        s for s, w in target_weights.items() if w > 0
    }
    _require_prices(dict.fromkeys(needed, Decimal(1)), prices)


def _require_prices(quantities: Mapping[str, Decimal], prices: Mapping[str, Decimal]) -> None:
    missing = tuple(
        sorted(s for s, q in quantities.items() if q and not (s in prices and prices[s] > 0))
    )
    if missing:
        raise TradeGenerationError(
            f"no positive price for {', '.join(missing)}", field="prices", symbols=missing
        )


def _scaled_weights(
    target_weights: Mapping[str, float], *, total: Decimal, buffer: Decimal
) -> dict[str, Decimal]:
    """Targets as Decimal fractions, scaled down so that the cash buffer stays invested in cash."""
    weights = {s: Decimal(str(w)) for s, w in target_weights.items() if w > 0}
    invested = sum(weights.values(), ZERO)
    ceiling = (total - buffer) / total
    if invested > ceiling and invested > 0:
        weights = {s: w * ceiling / invested for s, w in weights.items()}
    return weights


def _pct(value: Decimal | float) -> str:
    return f"{float(value) * 100:.1f}%"


def _sells(
    held: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    weights: Mapping[str, Decimal],
    current_w: Mapping[str, Decimal],
    total: Decimal,
    settings: TradeSettings,
    costs: CostModel,
) -> list[ProposedTrade]:
    trades = []
    for symbol in sorted(held):
        current = held[symbol]
        target_w = weights.get(symbol, ZERO)
        if target_w == 0:
            quantity = current  # an exit sells everything, fractions included
            reason = f"Sell all: {symbol} is not in the target allocation (was {_pct(current_w[symbol])})."
        else:
            target_q = target_w * total / prices[symbol]
            if target_q >= current:
                continue
            quantity = quantity_floor(current - target_q, fractional=settings.fractional_shares)
            reason = (
                f"Sell to trim {symbol} from {_pct(current_w[symbol])} to its target "
                f"{_pct(target_w)} of the portfolio."
            )
        trade = _priced(symbol, SELL, quantity, prices[symbol], reason, costs)
        if quantity <= 0 or trade.notional < settings.min_trade_value or trade.est_cash_flow <= 0:
            continue
        trades.append(trade)
    return trades


def _buys(
    held: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    weights: Mapping[str, Decimal],
    current_w: Mapping[str, Decimal],
    total: Decimal,
    available: Decimal,
    settings: TradeSettings,
    costs: CostModel,
) -> list[ProposedTrade]:
    wants: dict[str, Decimal] = {}
    for symbol, target_w in weights.items():
        gap = target_w * total / prices[symbol] - held.get(symbol, ZERO)
        if gap > 0:
            wants[symbol] = gap
    if not wants or available <= 0:
        return []
    # Scale every buy by the same factor when the cash (after the buffer) falls short,
    # so that no target is starved because of the order symbols are visited in.
    rate = 1 + Decimal(settings.commission_rate)
    need = sum(
        (q * costs.fill_price(prices[s], BUY) * rate for s, q in wants.items()), ZERO
    ) + Decimal(settings.commission_min) * len(wants)
    factor = min(Decimal(1), available / need) if need > 0 else Decimal(1)
    trades = []
    # Largest shortfall (in money) first, so that rounding leftovers go to the biggest gaps.
    for symbol in sorted(wants, key=lambda s: (-wants[s] * prices[s], s)):
        quantity = quantity_floor(wants[symbol] * factor, fractional=settings.fractional_shares)
        quantity = _affordable(quantity, prices[symbol], available, settings, costs)
        if quantity <= 0:
            continue
        target_w = weights[symbol]
        reason = (
            f"Buy to raise {symbol} from {_pct(current_w.get(symbol, ZERO))} to its target "
            f"{_pct(target_w)} of the portfolio."
        )
        trade = _priced(symbol, BUY, quantity, prices[symbol], reason, costs)
        if trade.notional < settings.min_trade_value:
            continue
        available += trade.est_cash_flow
        trades.append(trade)
    return trades


def _affordable(
    quantity: Decimal,
    price: Decimal,
    available: Decimal,
    settings: TradeSettings,
    costs: CostModel,
) -> Decimal:
    """Shrink ``quantity`` until its buy (fill price + commission) fits in ``available``."""
    fill = costs.fill_price(price, BUY)
    rate = 1 + Decimal(settings.commission_rate)
    for _ in range(8):
        if quantity <= 0:
            return ZERO
        cost = -costs.cash_flow(side=BUY, quantity=quantity, fill_price=fill)
        if cost <= available:
            return quantity
        # Largest quantity whose proportional and minimum commissions both fit.
        room = min(available / rate, available - Decimal(settings.commission_min))
        quantity = min(
            quantity_floor(room / fill, fractional=settings.fractional_shares),
            quantity - (Decimal("0.00000001") if settings.fractional_shares else Decimal(1)),
        )
    return ZERO


def _priced(
    symbol: str, side: str, quantity: Decimal, price: Decimal, reason: str, costs: CostModel
) -> ProposedTrade:
    fill = costs.fill_price(price, side)
    gross = money(quantity * fill)
    commission = costs.commission(gross)
    slippage = costs.slippage_cost(quantity=quantity, price=price, fill_price=fill)
    return ProposedTrade(
        symbol=symbol,
        side=side,
        quantity=quantity,
        est_price=fill,
        est_cost=commission + slippage,
        reason=reason,
        price=price,
        est_commission=commission,
        est_cash_flow=costs.cash_flow(side=side, quantity=quantity, fill_price=fill),
    )
