"""Risk aversion per investor risk tier (the ``delta`` of ``mu'w - delta/2 w'Sigma w``).

A market portfolio with a 6% excess return and 16% volatility implies delta ~ 2.3
(``(E[R_m] - r_f) / sigma_m^2``); the balanced tier sits near it, the others scale it
so that the tiers' max-utility portfolios span low-volatility to concentrated growth.
"""

from __future__ import annotations

from .exceptions import OptimizationError

RISK_AVERSION_BY_TIER: dict[str, float] = {
    "conservative": 10.0,
    "moderate": 5.0,
    "balanced": 2.5,
    "growth": 1.5,
    "aggressive": 0.75,
}


def risk_aversion_for_tier(tier: str) -> float:
    """Risk aversion delta for ``tier`` (conservative/moderate/balanced/growth/aggressive)."""
    try:
        return RISK_AVERSION_BY_TIER[tier]
    except KeyError:
        known = ", ".join(RISK_AVERSION_BY_TIER)
        raise OptimizationError(
            f"unknown risk tier {tier!r}; use one of {known}", field="risk_tier"
        ) from None
