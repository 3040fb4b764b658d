"""Pure trade generation (no Django): cost model, targets → orders, rebalance plans.

Used by the live autopilot (through ``portfolios.services``) and by the backtest engine
on plain dataclasses.
"""

from portfolios.trading.costs import BUY, SELL, CostModel
from portfolios.trading.engine import (
    ProposedTrade,
    TradeGenerationError,
    TradeSettings,
    drift,
    portfolio_value,
    trades_generate,
    turnover,
    weights_current,
)

__all__ = [
    "BUY",
    "SELL",
    "CostModel",
    "ProposedTrade",
    "TradeGenerationError",
    "TradeSettings",
    "drift",
    "portfolio_value",
    "trades_generate",
    "turnover",
    "weights_current",
]
