"""A portfolio's limits: its tier, its investment horizon and its overrides, resolved once.

:func:`policy_limits` is the only way limits are made: ``rebalance/predict``, the
autopilot, backtests, the evaluation, risk alerts, the risk page and the targets API all
call it (the Django side through ``portfolios.selectors.policy_limits_get``), so a
holding the autopilot buys is never flagged by the alerts it triggers.

**The horizon rule.** An investor's horizon in years ``h`` scales the tier's risk budget
by ``f(h) = clip(0.6 + 0.04 h, 0.6, 1.1)``: ten years is the tier as written (``f = 1``),
five years 0.8, two years or less 0.68-0.64, and 12.5 years or more 1.1. ``f`` multiplies
the volatility target, the VaR limit, the drawdown threshold and the highest equity and
alternatives weights (the risky sleeves' ceilings; their floors follow if they would
exceed them). Money needed soon should not ride a full equity allocation; money left
for decades can take a little more.

**Overrides** (:class:`LimitOverrides`, the portfolio's ``PortfolioLimits`` row) replace
the tier's value field by field; ``asset_class_bounds`` keys are sleeves (``equity``,
``bonds``, ``alternatives``, ``cash``) or asset classes (``bond``, ``crypto``...): a class
that is a sleeve on its own (equity, bond, cash) sets that sleeve's range, the others
bound their class inside the alternatives sleeve.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from .tiers import SLEEVE_OF_CLASS, SLEEVES, TIERS, Tier, sleeve_of

HORIZON_BASE = 0.6
HORIZON_SLOPE = 0.04
HORIZON_RANGE = (0.6, 1.1)
DEFAULT_HORIZON_YEARS = 10
DEFAULT_MAX_AVG_CORRELATION = 0.80
"""Average pairwise correlation of the holdings above which the alerts warn."""

SLEEVE_ALIASES: Mapping[str, str] = MappingProxyType(
    {"equity": "equity", "bond": "bonds", "bonds": "bonds", "cash": "cash", "alternatives": "alternatives"}
)
"""Keys of ``asset_class_bounds`` that name a sleeve (the others name an asset class)."""


class LimitsError(ValueError):
    """Limits that cannot hold together; ``field`` names the offending one."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def horizon_factor(years: int | float | None) -> float:
    """``clip(0.6 + 0.04 * years, 0.6, 1.1)`` (1.0 at ten years; see the module docstring)."""
    if years is None:
        years = DEFAULT_HORIZON_YEARS
    lo, hi = HORIZON_RANGE
    return float(min(hi, max(lo, HORIZON_BASE + HORIZON_SLOPE * float(years))))


@dataclass(frozen=True)
class LimitOverrides:
    """Per-portfolio replacements of tier values; ``None`` keeps the tier's."""

    max_position: float | None = None
    max_asset_class: float | None = None
    """Caps every sleeve and asset class (on top of their own ranges)."""
    max_holdings: int | None = None
    asset_class_bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    max_var_95: float | None = None
    max_drawdown: float | None = None
    max_turnover: float | None = None
    volatility_target: float | None = None
    max_avg_correlation: float | None = None


@dataclass(frozen=True)
class PolicyLimits:
    """Every limit of one portfolio, resolved (see :func:`policy_limits`)."""

    tier: str
    horizon_years: float
    horizon_factor: float
    volatility_target: float
    """Annualised; the overlay scales the risky sleeve down toward it."""
    sleeve_ranges: Mapping[str, tuple[float, float]]
    """``(lowest, highest)`` per sleeve of :data:`~.tiers.SLEEVES`."""
    class_ranges: Mapping[str, tuple[float, float]]
    """``(lowest, highest)`` of single asset classes inside their sleeve (crypto, ...)."""
    max_position: float
    """Largest weight of one risky asset (see :meth:`position_cap`)."""
    max_var_95: float
    max_drawdown: float
    derisk_exposure: float
    min_exposure: float
    cash_buffer: float
    risk_aversion: float
    max_holdings: int | None = None
    max_turnover: float | None = None
    max_avg_correlation: float = DEFAULT_MAX_AVG_CORRELATION
    excluded_symbols: tuple[str, ...] = ()

    def sleeve_range(self, sleeve: str) -> tuple[float, float]:
        return self.sleeve_ranges[sleeve]

    def position_cap(self, asset_class: str) -> float:
        """The highest weight of one asset: ``max_position`` for a risky one (equity,
        alternatives); a bond or money-market fund may fill its sleeve (a conservative
        investor can hold 40 % in one Treasury fund — capping it would push them into
        riskier assets)."""
        from .tiers import RISKY_SLEEVES

        cap = self.class_cap(asset_class)
        return min(cap, self.max_position) if sleeve_of(asset_class) in RISKY_SLEEVES else cap

    def class_cap(self, asset_class: str) -> float:
        """The highest weight an asset class may have (its own range within its sleeve's)."""
        sleeve_hi = self.sleeve_ranges[sleeve_of(asset_class)][1]
        own = self.class_ranges.get(asset_class)
        return min(sleeve_hi, own[1]) if own else sleeve_hi

    def with_exclusions(self, symbols) -> PolicyLimits:
        return replace(self, excluded_symbols=tuple(sorted(set(self.excluded_symbols) | set(symbols))))


def _checked_range(name: str, pair) -> tuple[float, float]:
    try:
        lo, hi = (float(pair[0]), float(pair[1]))
    except (TypeError, ValueError, IndexError):
        raise LimitsError(f"{name} must be two numbers [lowest, highest]", field=name) from None
    if not 0.0 <= lo <= hi <= 1.0:
        raise LimitsError(f"{name} must satisfy 0 <= lowest <= highest <= 1, got [{lo}, {hi}]", field=name)
    return lo, hi


def _fraction(name: str, value: float, *, allow_zero: bool = False) -> float:
    value = float(value)
    if not (0.0 <= value <= 1.0) or (value == 0.0 and not allow_zero):
        raise LimitsError(f"{name} must be a fraction in (0, 1], got {value}", field=name)
    return value


def policy_limits(
    *,
    tier: str | Tier,
    horizon_years: float | None = None,
    overrides: LimitOverrides | None = None,
    cash_buffer: float = 0.02,
    excluded_symbols=(),
) -> PolicyLimits:
    """The resolved limits of a portfolio: ``tier`` scaled by the horizon, then overridden.

    Raises :class:`LimitsError` (with the field) when an override is out of range or the
    sleeve floors add up to more than the whole portfolio.
    """
    t = _tier_of(tier)
    o = overrides or LimitOverrides()
    f = horizon_factor(horizon_years)
    ranges, classes = _overridden_ranges(_horizon_scaled_ranges(t, f), t, o)
    buffer = _fraction("cash_buffer", cash_buffer, allow_zero=True)
    cash_lo, cash_hi = ranges["cash"]
    ranges["cash"] = (max(cash_lo, buffer), max(cash_hi, buffer))
    _check_floors(ranges)
    holdings = _checked_holdings(o.max_holdings)
    return PolicyLimits(
        tier=t.name,
        horizon_years=float(horizon_years if horizon_years is not None else DEFAULT_HORIZON_YEARS),
        horizon_factor=f,
        volatility_target=_fraction("volatility_target", o.volatility_target)
        if o.volatility_target is not None else t.volatility_target * f,
        sleeve_ranges=MappingProxyType(ranges),
        class_ranges=MappingProxyType(classes),
        max_position=_fraction("max_position", o.max_position) if o.max_position is not None else t.max_position,
        max_var_95=_fraction("max_var_95", o.max_var_95) if o.max_var_95 is not None else t.max_var_95 * f,
        max_drawdown=_fraction("max_drawdown", o.max_drawdown) if o.max_drawdown is not None else t.max_drawdown * f,
        derisk_exposure=t.derisk_exposure,
        min_exposure=t.min_exposure,
        cash_buffer=buffer,
        risk_aversion=t.risk_aversion,
        max_holdings=holdings,
        max_turnover=_fraction("max_turnover", o.max_turnover) if o.max_turnover is not None else None,
        max_avg_correlation=_fraction("max_avg_correlation", o.max_avg_correlation)
        if o.max_avg_correlation is not None else DEFAULT_MAX_AVG_CORRELATION,
        excluded_symbols=tuple(sorted(set(excluded_symbols))),
    )


def _tier_of(tier: str | Tier) -> Tier:
    t = tier if isinstance(tier, Tier) else TIERS.get(tier)
    if t is None:
        raise LimitsError(f"unknown risk tier {tier!r}; use one of {', '.join(TIERS)}", field="risk_tolerance")
    return t


def _horizon_scaled_ranges(t: Tier, f: float) -> dict[str, tuple[float, float]]:
    """The tier's sleeve ranges with the risky sleeves' highest weights scaled by the horizon."""
    ranges = {s: t.sleeve_range(s) for s in SLEEVES}
    for sleeve in ("equity", "alternatives"):
        lo, hi = ranges[sleeve]
        hi = min(1.0, hi * f)
        ranges[sleeve] = (min(lo, hi), hi)
    return ranges


def _overridden_ranges(
    ranges: dict[str, tuple[float, float]], t: Tier, o: LimitOverrides
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """Sleeve and asset-class ranges after the overrides' bounds and their ``max_asset_class``."""
    classes = {c: (0.0, cap) for c, cap in t.class_caps.items()}
    for key, pair in sorted((o.asset_class_bounds or {}).items()):
        bounds = _checked_range(f"asset_class_bounds.{key}", pair)
        if key in SLEEVE_ALIASES:
            ranges[SLEEVE_ALIASES[key]] = bounds
        elif key in SLEEVE_OF_CLASS:
            classes[key] = bounds
        else:
            raise LimitsError(f"unknown asset class {key!r} in asset_class_bounds", field=f"asset_class_bounds.{key}")
    if o.max_asset_class is not None:
        cap = _fraction("max_asset_class", o.max_asset_class)
        for sleeve in ("equity", "bonds", "alternatives"):
            lo, hi = ranges[sleeve]
            ranges[sleeve] = (min(lo, cap), min(hi, cap))
        classes = {c: (min(lo, cap), min(hi, cap)) for c, (lo, hi) in classes.items()}
    return ranges, classes


def _check_floors(ranges: Mapping[str, tuple[float, float]]) -> None:
    floors = sum(lo for lo, _ in ranges.values())
    if floors > 1.0 + 1e-9:
        raise LimitsError(
            f"the sleeves' lowest weights add up to {floors:.0%}, more than the whole portfolio",
            field="asset_class_bounds",
        )


def _checked_holdings(holdings: int | None) -> int | None:
    if holdings is not None and (isinstance(holdings, bool) or int(holdings) != holdings or holdings < 1):
        raise LimitsError("max_holdings must be a whole number of at least 1", field="max_holdings")
    return int(holdings) if holdings is not None else None


def policy_limits_unconstrained(*, cash_buffer: float = 0.0, excluded_symbols=()) -> PolicyLimits:
    """Limits that bind nothing (every sleeve 0-100 %, no cap, no VaR or drawdown limit).

    For replays that must reproduce a plain fixed-weight rebalance (the peer tests
    against the bt library) and for the evaluation's reference runs; never a tier.
    """
    return PolicyLimits(
        tier="unconstrained", horizon_years=float(DEFAULT_HORIZON_YEARS), horizon_factor=1.0,
        volatility_target=1.0,
        sleeve_ranges=MappingProxyType({"equity": (0.0, 1.0), "bonds": (0.0, 1.0), "alternatives": (0.0, 1.0),
                                        "cash": (cash_buffer, 1.0)}),
        class_ranges=MappingProxyType({}), max_position=1.0, max_var_95=1.0, max_drawdown=1.0,
        derisk_exposure=1.0, min_exposure=0.0, cash_buffer=cash_buffer, risk_aversion=2.5,
        excluded_symbols=tuple(sorted(set(excluded_symbols))),
    )
