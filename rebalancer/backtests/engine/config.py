"""The pure description of a backtest request (no Django): what to replay and how."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from portfolios.policy import PolicyLimits, policy_limits
from portfolios.tax import TaxRates  # one definition: rates, and the yearly loss deduction
from rebalancer.autopilot.types import (
    AutonomyConfig,
    BandSettings,
    OverlaySettings,
    TaxConfig,
    TradeConfig,
)


@dataclass(frozen=True)
class BacktestConfig:
    """A portfolio configuration replayed over ``[start, end]`` for each strategy.

    Every field of the autopilot's :class:`AutonomyConfig` the pipeline reads is here,
    so the replay runs the pipeline with exactly these settings. ``calendar`` and
    ``rebalance_threshold`` are the trigger settings; ``trade`` the costs and sizing;
    ``tax`` loss harvesting; ``limits`` the pre-trade checks and the risk override.
    """

    symbols: tuple[str, ...]
    start: date
    end: date
    initial_cash: Decimal = Decimal("100000")
    strategies: tuple[str, ...] = ("equal_weight",)
    benchmark: str | None = None
    risk_tier: str = "balanced"
    rebalance_threshold: float = 0.05
    calendar: str = "monthly"
    lookback_days: int = 252
    trade: TradeConfig = field(default_factory=TradeConfig)
    tax: TaxConfig = field(default_factory=TaxConfig)
    tax_rates: TaxRates = field(default_factory=TaxRates)
    limits: PolicyLimits | None = None
    """The portfolio's limits; ``None``: the tier's (``policy_limits(tier=risk_tier)``)."""
    overlay: OverlaySettings = field(default_factory=OverlaySettings)
    band: BandSettings = field(default_factory=BandSettings)
    strategy_options: tuple[tuple[str, object], ...] = ()
    retrain_every: str = "never"
    check_invariants: bool = False
    baselines: bool = True

    def autonomy(self, strategy: str) -> AutonomyConfig:
        """The autopilot settings of this configuration for one strategy."""
        return AutonomyConfig(
            mode="autopilot",
            strategy=strategy,
            risk_tier=self.risk_tier,
            universe=tuple(self.symbols),
            rebalance_threshold=self.rebalance_threshold,
            calendar=self.calendar,  # type: ignore[arg-type]
            limits=self.resolved_limits(),
            trade=self.trade,
            tax=replace(self.tax, short_term_rate=self.tax_rates.short_term,
                        long_term_rate=self.tax_rates.long_term),
            lookback_days=self.lookback_days,
            overlay=self.overlay,
            band=self.band,
            strategy_options=dict(self.strategy_options),
        )

    def resolved_limits(self) -> PolicyLimits:
        if self.limits is not None:
            return self.limits
        return policy_limits(tier=self.risk_tier, cash_buffer=self.trade.cash_buffer)
