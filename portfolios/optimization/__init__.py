"""Portfolio construction engine: estimators, objectives, constraints, solvers, frontier.

Pure numpy / pandas / cvxpy (no Django). The public facade:

- :func:`optimize` -- one optimized portfolio (:class:`OptimizationResult`) for any of
  ``OBJECTIVES`` (the registry :data:`REGISTRY`: name -> function, typed options,
  description, transaction costs) under :class:`Constraints`;
- :func:`efficient_frontier` -- N frontier points (:class:`Frontier`), by an exact parametric
  active-set QP (linear constraints, and a turnover cap and transaction costs from current
  weights), a search over supports under cardinality, cvxpy as the fallback;
- estimators (annualised, ``frequency=252``): :func:`mean_historical_return`,
  :func:`ema_historical_return`, :func:`capm_return`, :func:`sample_cov`, :func:`ledoit_wolf`,
  :func:`exp_cov`, :func:`fix_nonpositive_semidefinite`;
- :func:`risk_aversion_for_tier`;
- exceptions :class:`OptimizationError`, :class:`InfeasibleConstraints` (``conflicts``),
  :class:`UnsupportedOptions`.
"""

from .constraints import Constraints, LinearForm, compile_constraints
from .estimators import (
    EXPECTED_RETURN_ESTIMATORS,
    RISK_MODELS,
    TRADING_DAYS_PER_YEAR,
    capm_return,
    ema_historical_return,
    exp_cov,
    expected_returns_estimate,
    fix_nonpositive_semidefinite,
    ledoit_wolf,
    mean_historical_return,
    returns_from_prices,
    risk_model_estimate,
    sample_cov,
)
from .exceptions import InfeasibleConstraints, OptimizationError, UnsupportedOptions
from .frontiers import MAX_POINTS as MAX_FRONTIER_POINTS
from .frontiers import efficient_frontier
from .optimizer import MULTI_OBJECTIVE_DEFAULTS, OBJECTIVES, optimize
from .plotting import frontier_png
from .registry import REGISTRY, STRATEGY_OBJECTIVES, ObjectiveSpec
from .results import Frontier, FrontierPoint, OptimizationResult
from .tiers import RISK_AVERSION_BY_TIER, risk_aversion_for_tier

__all__ = [
    "EXPECTED_RETURN_ESTIMATORS",
    "MAX_FRONTIER_POINTS",
    "MULTI_OBJECTIVE_DEFAULTS",
    "OBJECTIVES",
    "REGISTRY",
    "RISK_AVERSION_BY_TIER",
    "RISK_MODELS",
    "STRATEGY_OBJECTIVES",
    "TRADING_DAYS_PER_YEAR",
    "Constraints",
    "Frontier",
    "FrontierPoint",
    "InfeasibleConstraints",
    "LinearForm",
    "ObjectiveSpec",
    "OptimizationError",
    "OptimizationResult",
    "UnsupportedOptions",
    "capm_return",
    "compile_constraints",
    "efficient_frontier",
    "ema_historical_return",
    "exp_cov",
    "expected_returns_estimate",
    "fix_nonpositive_semidefinite",
    "frontier_png",
    "ledoit_wolf",
    "mean_historical_return",
    "optimize",
    "returns_from_prices",
    "risk_aversion_for_tier",
    "risk_model_estimate",
    "sample_cov",
]
