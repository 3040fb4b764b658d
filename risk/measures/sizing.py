"""Position sizing and hedging tools (brief 003): Kelly, volatility target, ATR size, hedge ratio.

Pure functions of floats; fractions are of capital.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from risk.measures.errors import RiskInputError


def _positive(value: float, name: str) -> float:
    v = float(value)
    if not (v > 0 and math.isfinite(v)):
        raise RiskInputError(f"{name} must be a positive number; got {value}", field=name)
    return v


def kelly_fraction(
    win_rate: float,
    avg_win: float,
    avg_loss: float,
    *,
    min_fraction: float = 0.01,
    max_fraction: float = 0.25,
    kelly_multiplier: float = 1.0,
) -> float:
    """Kelly bet ``f* = p - (1 - p) / (avg_win / avg_loss)``, capped to ``[min, max]``.

    ``kelly_multiplier`` (e.g. 0.5 for half Kelly) scales f* before the cap. Without an
    edge (``f* <= 0``) the answer is 0 — do not bet — rather than the floor: the floor
    is for sizing a trade that has an edge, not a reason to take one that does not.
    """
    p = float(win_rate)
    if not (0.0 <= p <= 1.0):
        raise RiskInputError("win_rate must lie in [0, 1]", field="win_rate")
    payoff = _positive(avg_win, "avg_win") / _positive(avg_loss, "avg_loss")
    if not (0 <= min_fraction <= max_fraction <= 1):
        raise RiskInputError("need 0 <= min_fraction <= max_fraction <= 1", field="max_fraction")
    f = (p - (1.0 - p) / payoff) * kelly_multiplier
    if f <= 0:
        return 0.0
    return min(max(f, min_fraction), max_fraction)


def volatility_target_leverage(
    realised_volatility: float,
    target_volatility: float = 0.15,
    *,
    min_leverage: float = 0.0,
    max_leverage: float = 2.0,
) -> float:
    """Leverage ``target / realised`` (both annualised), clipped to ``[min, max]``."""
    vol = _positive(realised_volatility, "realised_volatility")
    target = _positive(target_volatility, "target_volatility")
    if not (0 <= min_leverage <= max_leverage):
        raise RiskInputError("need 0 <= min_leverage <= max_leverage", field="max_leverage")
    return min(max(target / vol, min_leverage), max_leverage)


@dataclass(frozen=True)
class PositionSize:
    units: float
    notional: float
    stop_price: float
    risk_amount: float
    """Money lost if the stop is hit (units * stop distance)."""
    capped: bool
    """True when the notional cap, not the risk budget, set the size."""


def atr_position_size(
    account_balance: float,
    atr: float,
    entry_price: float,
    *,
    stop_loss_points: float | None = None,
    atr_multiple: float = 2.0,
    risk_per_trade: float = 0.01,
    max_position_fraction: float = 0.25,
) -> PositionSize:
    """Units such that hitting the stop loses ``risk_per_trade`` of the account.

    The stop sits ``stop_loss_points`` below entry, or ``atr_multiple * atr`` when not
    given; ``units = balance * risk_per_trade / stop distance``, then capped so that the
    notional stays within ``max_position_fraction`` of the account (long positions).
    """
    balance = _positive(account_balance, "account_balance")
    price = _positive(entry_price, "entry_price")
    distance = (
        _positive(stop_loss_points, "stop_loss_points")
        if stop_loss_points is not None
        else _positive(atr, "atr") * _positive(atr_multiple, "atr_multiple")
    )
    if distance >= price:
        raise RiskInputError("the stop would sit at or below zero", field="stop_loss_points")
    units = balance * risk_per_trade / distance
    cap_units = balance * max_position_fraction / price
    capped = units > cap_units
    units = min(units, cap_units)
    return PositionSize(units, units * price, price - distance, units * distance, capped)


def drawdown_hedge_ratio(
    drawdown: float,
    *,
    threshold: float = 0.05,
    full_hedge_drawdown: float = 0.20,
    max_hedge: float = 1.0,
) -> float:
    """Fraction of exposure to hedge given the current drawdown (positive fraction).

    0 up to ``threshold``; rises linearly to ``max_hedge`` at ``full_hedge_drawdown``; flat beyond.
    """
    dd = float(drawdown)
    if not (math.isfinite(dd) and dd >= 0):
        raise RiskInputError("drawdown must be a non-negative fraction", field="drawdown")
    if not (0 <= threshold < full_hedge_drawdown):
        raise RiskInputError("need 0 <= threshold < full_hedge_drawdown", field="threshold")
    if dd <= threshold:
        return 0.0
    return max_hedge * min(1.0, (dd - threshold) / (full_hedge_drawdown - threshold))
