"""The investment policy: risk tiers, the limits that follow from them, and the projection
of any strategy's targets onto those limits (pure Python/numpy, no Django).

- :mod:`.tiers` — the one table of risk tiers (:data:`TIERS`) and the sleeves asset
  classes belong to;
- :mod:`.limits` — :class:`PolicyLimits`, a tier with the portfolio's overrides and its
  investment horizon applied (:func:`policy_limits`); every consumer of limits (the
  autopilot, ``rebalance/predict``, backtests, risk alerts, the risk page, the targets
  API) reads them through this one function (in Django through
  ``portfolios.selectors.policy_limits_get``);
- :mod:`.projection` — :func:`project`, the closest weights (in relative terms) that
  satisfy a :class:`PolicyLimits` over a universe: feasible targets instead of vetoes.
"""

from .limits import (
    LimitOverrides,
    PolicyLimits,
    horizon_factor,
    policy_limits,
    policy_limits_unconstrained,
)
from .projection import Projection, ProjectionError, project
from .tiers import SLEEVES, TIERS, Tier, sleeve_of, tier_get

__all__ = [
    "SLEEVES",
    "TIERS",
    "LimitOverrides",
    "PolicyLimits",
    "Projection",
    "ProjectionError",
    "Tier",
    "horizon_factor",
    "policy_limits",
    "policy_limits_unconstrained",
    "project",
    "sleeve_of",
    "tier_get",
]
