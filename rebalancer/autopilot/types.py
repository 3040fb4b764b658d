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
from typing import Any, Literal, Protocol

import pandas as pd

from portfolios.policy import PolicyLimits, policy_limits
from portfolios.policy.projection import Adjustment
from portfolios.strategies import RegimeState, StrategyResult

TRADING_DAYS = 252

Mode = Literal["advise", "autopilot"]
Calendar = Literal["none", "monthly", "quarterly"]
KillSwitchMode = Literal["off", "halt", "defensive"]
"""``off``: autonomy runs normally. ``halt``: no trade is generated or executed by any
cycle (decisions are recorded as skipped with the reason). ``defensive``: every cycle
that runs moves its portfolio to the defensive allocation (see
:attr:`AutonomyConfig.defensive_strategy`), whatever its triggers."""

TriggerKind = Literal[
    "drift", "calendar", "cash", "risk_overlay", "regime_change", "kill_switch", "manual", "review"
]
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
    policy: PolicyState | None = None
    """What the previous cycle decided and must remember (targets, the overlay's state);
    ``None`` for a portfolio's first cycle."""
    net_flows: float = 0.0
    """External deposits minus withdrawals since the previous cycle (not performance)."""
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
    returns_array: Any = None
    """Optional: ``returns`` as a complete (no NaN) ``(T, N)`` array, so the core slices it
    without pandas (the backtest replay's fast path); ``returns_dates`` and
    ``returns_columns`` (symbol -> column) go with it."""
    returns_dates: Any = None
    returns_columns: Mapping[str, int] | None = None


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
    taxable: bool = True
    """Gains are taxed (the cost gate counts the avoidable tax of a sale)."""
    min_correlation: float = 0.8
    """A harvest's replacement must correlate at least this much with the harvested symbol
    (daily returns over the look-back); without one the loss is not harvested. The same
    bar as tax-aware trimming's substitutes. Chosen on 2007-2012 (docs/benchmarks/tax.md):
    at 0.5 harvesting into loosely related stocks cost risk parity more in tracking than
    it saved in tax."""
    tracking_penalty: float = 2.0
    """A harvest must save in tax its trading costs plus this many standard deviations of
    the return difference with its replacement over the wash-sale window."""
    short_term_rate: float = 0.35
    """Estimated tax rate on short-term gains (the cost gate's tax estimate)."""
    long_term_rate: float = 0.15
    loss_deduction_limit: float = 3000.0
    """Net loss deductible from ordinary income per year: with the year's realized gains, how
    much harvested loss is usable this year (harvests beyond it are not made)."""


@dataclass(frozen=True)
class OverlaySettings:
    """How the risk overlay controls exposure (defaults chosen on the evaluation's tuning
    windows: docs/EVIDENCE.md has the grid that was tried)."""

    volatility_targeting: bool = True
    """Scale the risky sleeve down toward the tier's volatility target."""
    halflife_days: float = 20.0
    """Halflife of the EWMA volatility forecast, in trading days."""
    exposure_band: float = 0.10
    """The targeting multiplier changes only when the new one is this far from the old."""
    drawdown_rule: bool = True
    """De-risk once per episode when the drawdown passes the tier's limit."""
    min_stay_days: int = 21
    """Trading days a de-risked portfolio stays de-risked at least."""
    recovery_rise: float = 0.10
    """Re-risk when the strategy's own sleeve has risen this much from its trough since the breach."""
    episode_end_drawdown: float = 0.02
    """A breach episode ends when the portfolio is back within this of its peak."""


@dataclass(frozen=True)
class BandSettings:
    """The no-trade band and the cost gate (defaults chosen on the evaluation's tuning windows)."""

    relative: float = 0.5
    """Band half-width as a fraction of the target: min(5 points, 50 % of the target)."""
    floor: float = 0.005
    """Smallest band half-width (tiny targets)."""
    inner: float = 0.5
    """An asset out of its band trades to ``target ± inner * band`` (0: all the way)."""
    cost_gate: bool = True
    """Trade only when the risk reduction is worth the costs and the avoidable taxes."""
    horizon_years: float = 1.0
    """How long an uncorrected drift is assumed to last (the benefit's horizon)."""
    deferral_value: float = 0.2
    """Share of a long-term gain's tax counted as a cost (the value of deferring it)."""
    on_review: str = "band"
    """``band``: a review trades only what is outside its band (like any day); ``full``: a
    review trades every asset to its target (a scheduled full rebalance)."""


@dataclass(frozen=True)
class OverlayState:
    """The overlay's memory between cycles (JSON-able through :func:`policy_state_to_dict`)."""

    exposure: float = 1.0
    """The multiplier on the risky sleeve in force (targeting, drawdown cut and VaR cap)."""
    derisked: bool = False
    entered_on: date | None = None
    episode: bool = False
    """A drawdown episode is under way (its one de-risk used)."""
    index: float = 1.0
    """The portfolio's performance index (external flows removed)."""
    peak: float = 1.0
    last_value: float | None = None
    shadow: float = 1.0
    """Index of the strategy's own targets (what the portfolio would do without the overlay)."""
    trough: float | None = None
    """Lowest ``shadow`` since the de-risk."""
    days_derisked: int = 0


@dataclass(frozen=True)
class PolicyState:
    """What a cycle remembers for the next one: the reviewed targets and the overlay."""

    targets: Mapping[str, float] = field(default_factory=dict)
    """The strategic targets of the last review (projected, before the overlay)."""
    reviewed_on: date | None = None
    key: str = ""
    """Fingerprint of the strategy, universe and limits the targets were made for."""
    strategy: str = ""
    confidence: float = 0.0
    regime: str | None = None
    """The regime the targets were reviewed in."""
    regime_candidate: str | None = None
    """The regime the detector has called on the last ``regime_days`` cycles in a row."""
    regime_days: int = 0
    overlay: OverlayState = field(default_factory=OverlayState)
    last_date: date | None = None


@dataclass(frozen=True)
class AutonomyConfig:
    """One portfolio's autonomy settings as the engine needs them."""

    mode: Mode = "advise"
    strategy: str = "optimizer:max_sharpe"
    risk_tier: str = "balanced"
    universe: tuple[str, ...] = ()
    """Symbols the strategy may hold; empty = held symbols plus ``target_weights``."""
    rebalance_threshold: float = 0.05
    """The no-trade band's absolute half-width: an asset trades when it is more than
    ``min(rebalance_threshold, band.relative * target)`` away from its target."""
    calendar: Calendar = "quarterly"
    """How often the strategy's targets are reviewed (refreshed)."""
    target_weights: Mapping[str, float] = field(default_factory=dict)
    """The portfolio's own TargetAllocation (used by the ``target_allocation`` strategy
    and as the drift reference when set)."""
    limits: PolicyLimits = field(default_factory=lambda: policy_limits(tier="balanced"))
    """The portfolio's resolved limits (tier, horizon, overrides): ``portfolios.policy``."""
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
    overlay: OverlaySettings = field(default_factory=lambda: OverlaySettings())
    band: BandSettings = field(default_factory=lambda: BandSettings())
    strategy_options: Mapping[str, Any] = field(default_factory=dict)
    """Options the strategy reads from ``ctx.options`` (e.g. ``hybrid_agent``, ``hybrid_alpha``)."""


@dataclass(frozen=True)
class Trigger:
    """Why the cycle considered trading: ``value`` crossed ``threshold``."""

    kind: str
    message: str
    value: float | None = None
    threshold: float | None = None
    symbol: str | None = None
    """The asset it is about (a drift trigger's most drifted asset)."""


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
    source: str  # "kill_switch" | "pre_trade"
    allocation: str  # e.g. "optimizer:min_volatility + 50% cash" or "all cash"


@dataclass(frozen=True)
class OverlayRecord:
    """What the risk overlay did today and why."""

    multiplier: float
    """Fraction of the strategic risky sleeve held (1 = untouched)."""
    exposure: float
    """The volatility-targeting part of the multiplier."""
    forecast_volatility: float
    """Annualised forecast volatility of the strategic targets."""
    target_volatility: float
    derisked: bool
    drawdown: float
    var_forecast: float
    """One-day 95 % VaR forecast of the final targets."""
    final_volatility: float = 0.0
    """Annualised forecast volatility of the final targets (after the multiplier)."""
    events: tuple[str, ...] = ()
    """``derisk``, ``reenter``, ``exposure`` (a targeting move), ``var_cap``, ``episode_end``."""
    notes: tuple[str, ...] = ()


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
class CostGate:
    """The cost gate's numbers, in the portfolio's currency (a hold it decided says why)."""

    passed: bool
    benefit: float
    trading_cost: float
    tax_cost: float

    def __post_init__(self) -> None:
        # Plain Python numbers: the gate's arithmetic runs in numpy, and a numpy bool or float
        # in the decision's facts is not JSON (on PostgreSQL a gate-held review failed its
        # whole chunk of 500 and those portfolios' cycle on a day with deposits).
        object.__setattr__(self, "passed", bool(self.passed))
        for name in ("benefit", "trading_cost", "tax_cost"):
            object.__setattr__(self, name, float(getattr(self, name)))


@dataclass(frozen=True)
class DecisionFacts:
    """What the investor's settings did to the strategy's wish, in numbers: the limits the
    decision was made under and every adjustment (read by the plain-language explanation,
    ``rebalancer.autopilot.wording``). Weights are fractions of the portfolio."""

    strategy: str
    tier: str
    horizon_years: float
    horizon_factor: float
    calendar: str
    rebalance_threshold: float
    cash_buffer: float
    max_position: float
    volatility_target: float
    max_var_95: float
    max_drawdown: float
    derisk_exposure: float
    max_turnover: float | None
    sleeve_ranges: Mapping[str, tuple[float, float]]
    sleeves: Mapping[str, str]
    """Symbol -> sleeve (equity, bonds, alternatives, cash) of every symbol in the decision."""
    adjustments: tuple[Adjustment, ...] = ()
    """The projection's adjustments (empty on a day the reviewed targets stood as they were)."""
    swept: Mapping[str, float] = field(default_factory=dict)
    """Money-market fund -> weight of idle cash swept into it."""
    gate: CostGate | None = None


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
    raw_weights: Mapping[str, float] = field(default_factory=dict)
    """The strategy's own targets before the projection onto the limits."""
    strategic_weights: Mapping[str, float] = field(default_factory=dict)
    """The projected targets before the overlay."""
    projection_notes: tuple[str, ...] = ()
    overlay: OverlayRecord | None = None
    policy_state: PolicyState | None = None
    """The state the next cycle starts from (persist it with the cycle run)."""
    reviewed: bool = False
    """The strategy's targets were refreshed today."""
    wash_sale_blocks: tuple[str, ...] = ()
    """Symbols whose harvest or purchase the wash-sale rule stopped this cycle."""
    facts: DecisionFacts | None = None
    skip_kind: str | None = None
    """Why a skipped cycle skipped: ``halted``, ``data``, ``strategy``, ``infeasible``, ``trades``."""

    @property
    def trades_count(self) -> int:
        return len(self.trades)


def policy_state_to_dict(state: PolicyState | None) -> dict[str, Any]:
    """JSON-able form of a :class:`PolicyState` (stored on the cycle run)."""
    if state is None:
        return {}
    o = state.overlay
    return {
        "targets": {s: round(float(w), 8) for s, w in sorted(state.targets.items())},
        "reviewed_on": state.reviewed_on.isoformat() if state.reviewed_on else None,
        "key": state.key,
        "strategy": state.strategy,
        "confidence": round(float(state.confidence), 6),
        "regime": state.regime,
        "regime_candidate": state.regime_candidate,
        "regime_days": state.regime_days,
        "last_date": state.last_date.isoformat() if state.last_date else None,
        "overlay": {
            "exposure": round(o.exposure, 8), "derisked": o.derisked,
            "entered_on": o.entered_on.isoformat() if o.entered_on else None,
            "episode": o.episode, "index": o.index, "peak": o.peak, "last_value": o.last_value,
            "shadow": o.shadow, "trough": o.trough, "days_derisked": o.days_derisked,
        },
    }


def _date_or_none(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def policy_state_from_dict(data: Mapping[str, Any] | None) -> PolicyState | None:
    """The :class:`PolicyState` of :func:`policy_state_to_dict`'s output (``None`` when empty)."""
    if not data:
        return None
    o = dict(data.get("overlay") or {})
    overlay = OverlayState(
        exposure=float(o.get("exposure", 1.0)), derisked=bool(o.get("derisked", False)),
        entered_on=_date_or_none(o.get("entered_on")), episode=bool(o.get("episode", False)),
        index=float(o.get("index", 1.0)), peak=float(o.get("peak", 1.0)),
        last_value=None if o.get("last_value") is None else float(o["last_value"]),
        shadow=float(o.get("shadow", 1.0)),
        trough=None if o.get("trough") is None else float(o["trough"]),
        days_derisked=int(o.get("days_derisked", 0)),
    )
    return PolicyState(
        targets={str(s): float(w) for s, w in (data.get("targets") or {}).items()},
        reviewed_on=_date_or_none(data.get("reviewed_on")),
        key=str(data.get("key") or ""),
        strategy=str(data.get("strategy") or ""),
        confidence=float(data.get("confidence") or 0.0),
        regime=data.get("regime"),
        regime_candidate=data.get("regime_candidate"),
        regime_days=int(data.get("regime_days") or 0),
        overlay=overlay,
        last_date=_date_or_none(data.get("last_date")),
    )


class TargetsCache(Protocol):
    """Targets shared by portfolios with the same strategy, universe, tier and as-of date;
    pass the same mapping (a plain dict will do) to every ``cycle_decide`` call of one cycle.

    The cycle also keeps its window statistics and check results there, under keys of their
    own, so values are of several types (each reader knows the type of its own keys)."""

    def __contains__(self, key: object, /) -> bool: ...
    def __getitem__(self, key: tuple, /) -> Any: ...
    def __setitem__(self, key: tuple, value: Any, /) -> None: ...
    def get(self, key: tuple, default: Any = None, /) -> Any: ...


# --- what the cycle's two writers share (the DB shell; still no Django import here) -----


@dataclass(frozen=True)
class CycleRunResult:
    """What one portfolio's cycle did."""

    portfolio_id: int
    as_of: date
    status: str  # "done" | "already_done" | "failed" | "not_eligible"
    action: str = ""  # "rebalance" | "proposed" | "hold" | "skipped"
    decision_id: int | None = None
    trades_count: int = 0
    summary: str = ""
    error: str = ""


@dataclass
class CycleContext:
    """What every portfolio of one cycle shares: market view, kill switch, regime, targets.

    ``assets`` maps symbols to ``marketdata.models.Asset`` rows; the market view is loaded
    through the autopilot's selectors on first use (imported there, so that this module
    stays free of Django)."""

    as_of: date
    kill_switch: str
    regime: Any
    assets: dict[str, Any]
    markets: dict[frozenset, MarketView] = field(default_factory=dict)
    targets_cache: TargetsCache = field(default_factory=dict)

    def market_for(self, symbols: set[str]) -> MarketView:
        """The cycle's market view; loaded once for the union of every universe seen."""
        from rebalancer.autopilot import selectors

        key = frozenset(symbols)
        for loaded, view in self.markets.items():
            if key <= loaded:
                return view
        union = key | frozenset(self.assets)
        view = selectors.market_view_get(symbols=sorted(union), as_of=self.as_of, assets=self.assets)
        self.markets[frozenset(union)] = view
        return view


__all__ = [
    "TRADING_DAYS",
    "Action",
    "Adjustment",
    "AssetStatus",
    "AutonomyConfig",
    "BandSettings",
    "Calendar",
    "Check",
    "CostGate",
    "CycleContext",
    "CycleDecision",
    "CycleRunResult",
    "DecisionFacts",
    "HoldingsState",
    "KillSwitchMode",
    "Lot",
    "MarketView",
    "Metrics",
    "Mode",
    "OverlayRecord",
    "OverlaySettings",
    "OverlayState",
    "Override",
    "PolicyLimits",
    "PolicyState",
    "RegimeState",
    "TargetsCache",
    "TaxConfig",
    "TradeConfig",
    "TradeIntent",
    "Trigger",
    "TriggerKind",
    "policy_state_from_dict",
    "policy_state_to_dict",
]
