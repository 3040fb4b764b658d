"""Typed values that cross the autopilot's boundaries (no Django import).

The autonomous cycle is split in two so that the backtester can replay exactly the
code production runs:

* the **pure decision core** :func:`rebalancer.autopilot.engine.cycle_decide` takes a
  :class:`HoldingsState`, a :class:`MarketView`, an :class:`AutonomyConfig`, the kill
  switch and the market regime, and returns a :class:`CycleDecision` (triggers, the
  strategy's targets, the pre-trade checks, the risk override, the trades, the numbers
  before and after, and a plain-language summary). It never touches the database.
* the **DB shell** :func:`rebalancer.autopilot.services.cycle_run` loads those inputs
  from the ledger and market data, calls the core, and persists and executes its
  decision exactly once.

Units: weights are fractions of total portfolio value (cash included; whatever the
weights leave of 1.0 is cash); returns are simple daily returns; expected return and
volatility are annualised over 252 trading days; VaR is a positive one-day loss
fraction at 95 %. Money and quantities are floats here (engine side); the services
convert to ``Decimal`` at the ledger boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import pandas as pd

from portfolios.strategies import RegimeState, StrategyResult

TRADING_DAYS = 252

Mode = Literal["advise", "autopilot"]
Calendar = Literal["none", "monthly", "quarterly"]
KillSwitchMode = Literal["off", "halt", "defensive"]
"""``off``: autonomy runs normally. ``halt``: no trade is generated or executed by any
cycle (decisions are recorded as skipped with the reason). ``defensive``: every cycle
that runs moves its portfolio to the defensive allocation (see
:attr:`AutonomyConfig.defensive_strategy`), whatever its triggers."""

TriggerKind = Literal["drift", "calendar", "cash", "risk_limit", "regime_change", "kill_switch", "manual"]
Action = Literal["rebalance", "hold", "skipped"]
"""``rebalance``: trades were decided; ``hold``: the cycle ran but nothing needed to
trade (no trigger, or every trade fell under the minimum); ``skipped``: the cycle
refused to decide (stale data, halted by the kill switch, unusable strategy)."""


@dataclass(frozen=True)
class Lot:
    """One open tax lot (for loss harvesting and the wash-sale rule)."""

    symbol: str
    quantity: float
    cost_per_share: float
    acquired_on: date
    lot_id: int | None = None


@dataclass(frozen=True)
class HoldingsState:
    """What the portfolio holds at the close of ``as_of`` (an ORM-free snapshot).

    ``recent_buys`` lists purchases (symbol, date) within the last 30 days, for the
    wash-sale rule. ``value_history`` is the portfolio's total
    value by date (for the drawdown trigger); may be empty for a new portfolio.
    """

    as_of: date
    cash: float
    quantities: Mapping[str, float]
    lots: tuple[Lot, ...] = ()
    portfolio_id: int | None = None
    recent_buys: tuple[tuple[str, date], ...] = ()
    recent_loss_sales: tuple[tuple[str, date], ...] = ()
    """Sales at a loss (symbol, date) in the last 30 days (wash-sale rule)."""
    recent_harvests: tuple[tuple[str, date], ...] = ()
    """Tax-loss harvesting sales (symbol, date) in the last 30 days: those symbols are not
    bought back yet (that would wash the loss the harvest was for)."""
    value_history: pd.Series | None = None
    last_rebalanced_on: date | None = None
    realized_this_year: float = 0.0
    """Net gains realized (recognized) since 1 January: what a harvested loss can offset."""
    loss_carryover: float = 0.0
    """Capital loss carried into this year (a positive number)."""


@dataclass(frozen=True)
class AssetStatus:
    """Freshness/validity of one asset's price on ``as_of`` (``ok|stale|suspect|missing``)."""

    status: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class MarketView:
    """The market as seen at the close of ``as_of``; nothing after it (no look-ahead).

    ``returns``: simple daily returns, dates x symbols, ending on or before ``as_of``;
    covers at least every held and target symbol. ``prices``: close on ``as_of``.
    ``health``: per symbol; a symbol absent from ``health`` counts as ``ok`` when it has
    a price, ``missing`` otherwise. ``correlated``: for each symbol, candidate
    replacements for tax-loss harvesting, most correlated first (same asset class).
    """

    as_of: date
    returns: pd.DataFrame
    prices: Mapping[str, float]
    asset_classes: Mapping[str, str] = field(default_factory=dict)
    health: Mapping[str, AssetStatus] = field(default_factory=dict)
    correlated: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    trading_days: tuple[date, ...] = ()
    """Known trading days around ``as_of`` (for the calendar trigger); when empty,
    weekdays are used."""


@dataclass(frozen=True)
class RiskLimits:
    """Limits the pre-trade checks enforce and the risk-limit trigger watches.

    ``None`` switches a limit off. Fractions of portfolio value; VaR is one-day 95 %.
    """

    max_position: float | None = 0.35
    max_asset_class: float | None = 0.80
    max_var_95: float | None = 0.04
    max_drawdown: float | None = 0.25
    max_turnover: float | None = 1.0
    excluded_symbols: tuple[str, ...] = ()
    """ESG (or operator) exclusions: no buys, and targets must not hold them."""
    max_holdings: int | None = None
    """Most positions the targets may hold (the autonomy settings' ``constraints.max_holdings``)."""
    asset_class_bounds: tuple[tuple[str, float, float], ...] = ()
    """``(asset class, lowest, highest weight)`` from ``constraints.asset_class_bounds``, sorted by class."""


@dataclass(frozen=True)
class TradeConfig:
    """How targets become orders (mirrors ``portfolios.trading.TradeSettings``)."""

    min_trade_value: float = 50.0
    fractional: bool = True
    commission_rate: float = 0.0005
    commission_min: float = 0.0
    slippage_bps: float = 5.0
    cash_buffer: float = 0.02
    """Fraction of total value kept as cash."""


@dataclass(frozen=True)
class TaxConfig:
    """Tax-loss harvesting settings (switched on by the portfolio's ``tax_optimization``)."""

    enabled: bool = False
    loss_threshold: float = 0.05
    """Harvest a lot whose unrealised loss exceeds this fraction of its cost."""
    wash_sale_days: int = 30
    tracking_penalty: float = 2.0
    """A harvest must save in tax its trading costs plus this many standard deviations of
    the return difference with its replacement over the wash-sale window."""
    short_term_rate: float = 0.35
    long_term_rate: float = 0.15
    """Rates that value harvested losses and the short-term gains a trim would realize."""
    loss_deduction_limit: float = 3000.0
    """Net loss deductible from ordinary income per year: with the year's realized gains, how
    much harvested loss is usable this year (harvests beyond it are not made)."""

@dataclass(frozen=True)
class AutonomyConfig:
    """One portfolio's autonomy settings as the engine needs them."""

    mode: Mode = "advise"
    strategy: str = "optimizer:max_sharpe"
    risk_tier: str = "balanced"
    universe: tuple[str, ...] = ()
    """Symbols the strategy may hold; empty = held symbols plus ``target_weights``."""
    rebalance_threshold: float = 0.05
    """Drift trigger: max |current - target| weight beyond which the cycle trades."""
    calendar: Calendar = "quarterly"
    target_weights: Mapping[str, float] = field(default_factory=dict)
    """The portfolio's own TargetAllocation (used by the ``target_allocation`` strategy
    and as the drift reference when set)."""
    limits: RiskLimits = field(default_factory=RiskLimits)
    trade: TradeConfig = field(default_factory=TradeConfig)
    tax: TaxConfig = field(default_factory=TaxConfig)
    defensive_strategy: str = "optimizer:min_volatility"
    defensive_cash: float = 0.5
    """Fraction held in cash by the defensive allocation (the rest is min volatility)."""
    constraints: Any = None
    """``portfolios.optimization.Constraints`` or ``None`` (tier defaults)."""
    lookback_days: int = 252
    force: bool = False
    """Run the strategy even without a trigger (operator's "run now" / API predict)."""


@dataclass(frozen=True)
class Trigger:
    """Why the cycle considered trading: ``value`` crossed ``threshold``."""

    kind: str
    message: str
    value: float | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class Check:
    """One pre-trade check's outcome with its numbers."""

    name: str
    passed: bool
    value: float | None
    limit: float | None
    message: str


@dataclass(frozen=True)
class Override:
    """The risk override: why the cycle replaced the strategy's targets."""

    reason: str
    source: str  # "kill_switch" | "drawdown" | "var" | "pre_trade"
    allocation: str  # e.g. "optimizer:min_volatility + 50% cash" or "all cash"


@dataclass(frozen=True)
class Metrics:
    """Portfolio risk/return on the decision's return window (annualised; VaR one-day)."""

    expected_return: float
    volatility: float
    var_95: float
    cash_weight: float


@dataclass(frozen=True)
class TradeIntent:
    """One order the cycle decided; ``quantity`` > 0, side says the direction.

    ``price`` is the close; ``est_cost`` = commission + slippage estimate; ``value`` =
    quantity x price. ``lot_ids`` lists the lots a tax-aware sell closes (empty = FIFO
    by the ledger).
    """

    symbol: str
    side: str  # "buy" | "sell"
    quantity: float
    price: float
    value: float
    est_cost: float
    reason: str
    lot_ids: tuple[int, ...] = ()
    harvest: bool = False
    order: Any = field(default=None, compare=False, repr=False)
    """The exact ``portfolios.trading.ProposedTrade`` (Decimal) the broker executes."""


@dataclass(frozen=True)
class CycleDecision:
    """Everything one cycle decided for one portfolio and why."""

    as_of: date
    action: str  # Action
    triggers: tuple[Trigger, ...]
    strategy: str | None
    strategy_result: StrategyResult | None
    target_weights: Mapping[str, float]
    checks: tuple[Check, ...]
    override: Override | None
    trades: tuple[TradeIntent, ...]
    before: Metrics | None
    after: Metrics | None
    confidence: float
    summary: str
    skipped_reason: str | None = None
    current_weights: Mapping[str, float] = field(default_factory=dict)
    total_value: float = 0.0
    harvested_loss: float = 0.0
    notes: tuple[str, ...] = ()
    """Other facts worth recording (wash-sale substitutions, harvests not taken)."""
    wash_sale_blocks: tuple[str, ...] = ()
    """Symbols whose harvest or purchase the wash-sale rule stopped this cycle."""

    @property
    def trades_count(self) -> int:
        return len(self.trades)


TargetsCache = dict[tuple, StrategyResult]
"""Targets shared by portfolios with the same strategy, universe, tier and as-of date;
pass the same dict to every ``cycle_decide`` call of one cycle."""


__all__ = [
    "TRADING_DAYS",
    "Action",
    "AssetStatus",
    "AutonomyConfig",
    "Calendar",
    "Check",
    "CycleDecision",
    "HoldingsState",
    "KillSwitchMode",
    "Lot",
    "MarketView",
    "Metrics",
    "Mode",
    "Override",
    "RegimeState",
    "RiskLimits",
    "TargetsCache",
    "TaxConfig",
    "TradeConfig",
    "TradeIntent",
    "Trigger",
    "TriggerKind",
]
