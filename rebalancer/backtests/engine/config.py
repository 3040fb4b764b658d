"""The pure description of a backtest request (no Django): what to replay and how."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from portfolios.tax import TaxRates  # one definition: rates, and the yearly loss deduction
from rebalancer.autopilot.types import AutonomyConfig, RiskLimits, TaxConfig, TradeConfig


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
    limits: RiskLimits = field(default_factory=RiskLimits)
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
            limits=self.limits,
            trade=self.trade,
            tax=self.tax,
            lookback_days=self.lookback_days,
        )
