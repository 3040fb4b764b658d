"""The one table of risk tiers (conservative ... aggressive) and the sleeves of asset classes.

Every limit the product applies to a portfolio starts here: the autopilot's projection
and risk overlay, ``rebalance/predict``, the backtests and the evaluation, the risk
alerts, the risk page's recommendations, the targets API and the admin all read a
tier through :func:`portfolios.policy.limits.policy_limits` (overrides and the investment
horizon on top). Fractions are of total portfolio value (cash included); volatility is
annualised over 252 trading days; VaR is the one-day 95 % loss forecast by the risk
overlay's volatility model (a positive fraction).

**Sleeves.** The tier fixes a range for each of four sleeves — ``equity``, ``bonds``,
``alternatives`` (commodities, real estate, crypto) and ``cash`` (uninvested cash plus
money-market funds, the ``cash`` asset class). An asset class the table does not know
counts as equity (the riskiest assumption). Within alternatives, ``class_caps`` bound
single classes (crypto above all).

**Why these numbers.** The equity ranges follow the usual adviser glide of 10-35 %
equity for a conservative investor up to 70-100 % for an aggressive one; the volatility
targets (5 % ... 16 %) are roughly what those mixes of equity and bonds have had in
calm markets, so the overlay (``rebalancer.autopilot.overlay``) cuts exposure only when
markets are turbulent. The drawdown thresholds are where the overlay de-risks once per
episode; the VaR limits sit about 1.5 times above the VaR implied by the volatility
target, so they bind only when the forecast jumps. The default strategy and the overlay
settings were chosen by the walk-forward evaluation (``python manage.py evaluate``,
docs/EVIDENCE.md) on windows ending before 2013.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

SLEEVES = ("equity", "bonds", "alternatives", "cash")
"""The sleeves a tier gives ranges for, riskiest first."""

SLEEVE_OF_CLASS: Mapping[str, str] = MappingProxyType(
    {
        "equity": "equity",
        "bond": "bonds",
        "commodity": "alternatives",
        "real_estate": "alternatives",
        "crypto": "alternatives",
        "cash": "cash",
    }
)
RISKY_SLEEVES = ("equity", "alternatives")
"""Sleeves the risk overlay scales (bonds and cash are the safe side)."""


def sleeve_of(asset_class: str) -> str:
    """The sleeve of an asset class; unknown classes count as equity."""
    return SLEEVE_OF_CLASS.get(str(asset_class), "equity")


@dataclass(frozen=True)
class Tier:
    """One risk tier. Ranges are ``(lowest, highest)`` fractions of portfolio value."""

    name: str
    label: str
    volatility_target: float
    """Annualised volatility the overlay scales the risky sleeve down toward."""
    equity: tuple[float, float]
    bonds: tuple[float, float]
    alternatives: tuple[float, float]
    cash: tuple[float, float]
    """Uninvested cash plus money-market funds; the lowest is raised to the portfolio's
    cash buffer (an autonomy setting) when that is higher."""
    max_position: float
    """Largest weight of a single asset."""
    max_var_95: float
    """Largest one-day 95 % VaR of the targets (forecast), a positive loss fraction."""
    max_drawdown: float
    """A fall of the portfolio this far below its peak de-risks it once (see the overlay)."""
    derisk_exposure: float
    """Fraction of the risky sleeve kept while de-risked after a drawdown breach."""
    min_exposure: float
    """Lowest fraction of the risky sleeve the volatility targeting goes down to."""
    risk_aversion: float
    """``delta`` of mean-variance utility ``mu'w - delta/2 w'Sigma w`` (max utility, multi-objective)."""
    class_caps: Mapping[str, float] = field(default_factory=dict)
    """Caps on single asset classes inside a sleeve (e.g. crypto)."""

    def sleeve_range(self, sleeve: str) -> tuple[float, float]:
        return getattr(self, sleeve)


def _tier(**kwargs) -> Tier:
    kwargs["class_caps"] = MappingProxyType(dict(kwargs.get("class_caps", {})))
    return Tier(**kwargs)


TIERS: Mapping[str, Tier] = MappingProxyType(
    {
        t.name: t
        for t in (
            _tier(
                name="conservative", label="Conservative", volatility_target=0.05,
                equity=(0.10, 0.35), bonds=(0.30, 0.80), alternatives=(0.0, 0.10), cash=(0.02, 0.65),
                max_position=0.20, max_var_95=0.008, max_drawdown=0.10, derisk_exposure=0.5,
                min_exposure=0.4, risk_aversion=10.0, class_caps={"crypto": 0.0},
            ),
            _tier(
                name="moderate", label="Moderate", volatility_target=0.075,
                equity=(0.25, 0.50), bonds=(0.20, 0.65), alternatives=(0.0, 0.15), cash=(0.02, 0.55),
                max_position=0.25, max_var_95=0.012, max_drawdown=0.15, derisk_exposure=0.5,
                min_exposure=0.4, risk_aversion=5.0, class_caps={"crypto": 0.02},
            ),
            _tier(
                name="balanced", label="Balanced", volatility_target=0.10,
                equity=(0.40, 0.70), bonds=(0.10, 0.50), alternatives=(0.0, 0.20), cash=(0.02, 0.45),
                max_position=0.25, max_var_95=0.016, max_drawdown=0.20, derisk_exposure=0.5,
                min_exposure=0.4, risk_aversion=2.5, class_caps={"crypto": 0.05},
            ),
            _tier(
                name="growth", label="Growth", volatility_target=0.13,
                equity=(0.55, 0.85), bonds=(0.0, 0.35), alternatives=(0.0, 0.25), cash=(0.02, 0.35),
                max_position=0.30, max_var_95=0.020, max_drawdown=0.25, derisk_exposure=0.5,
                min_exposure=0.4, risk_aversion=1.5, class_caps={"crypto": 0.075},
            ),
            _tier(
                name="aggressive", label="Aggressive", volatility_target=0.16,
                equity=(0.70, 1.00), bonds=(0.0, 0.20), alternatives=(0.0, 0.30), cash=(0.02, 0.25),
                max_position=0.35, max_var_95=0.025, max_drawdown=0.30, derisk_exposure=0.5,
                min_exposure=0.4, risk_aversion=0.75, class_caps={"crypto": 0.10},
            ),
        )
    }
)
TIER_NAMES = tuple(TIERS)
"""Tier names from the most to the least cautious."""


def tier_get(name: str) -> Tier:
    """The tier called ``name``; ``KeyError`` naming the known ones otherwise."""
    try:
        return TIERS[name]
    except KeyError:
        raise KeyError(f"unknown risk tier {name!r}; use one of {', '.join(TIERS)}") from None
