"""Tax-loss harvesting inside the cycle: an adapter over ``portfolios.tax``.

The harvesting rules (loss threshold, correlated replacement in the same asset class,
the 30-day wash-sale rule against recent and pending buys) live in the portfolios
app's pure tax engine; this module feeds it the cycle's state and folds its orders
into the plan. It returns the trades and the loss realised by harvesting.
"""

from __future__ import annotations

from portfolios.trading import ProposedTrade
from rebalancer.autopilot.types import AutonomyConfig, HoldingsState, MarketView


def harvest_apply(
    *,
    trades: list[ProposedTrade],
    state: HoldingsState,
    market: MarketView,
    config: AutonomyConfig,
) -> tuple[list[ProposedTrade], float]:
    try:
        from portfolios.tax import harvest as tax_harvest  # landed by the portfolios helper
    except ImportError:
        return trades, 0.0
    return tax_harvest.harvest_apply(trades=trades, state=state, market=market, config=config)
