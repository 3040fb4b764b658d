"""``optimize``: every objective behind one call, on aligned numpy inputs.

Objectives (``OBJECTIVES``): ``min_volatility``; ``max_sharpe`` (Cornuejols-Tutuncu
homogenisation, or Dinkelbach's iteration on a mixed-integer SOCP when cardinality or
minimum positions are asked); ``efficient_return`` (min variance at a target return);
``efficient_risk`` (max return at a target volatility); ``max_utility`` (``mu'w -
delta/2 w'Sigma w``, delta from the risk tier); ``min_cvar`` (Rockafellar-Uryasev over
historical scenarios); ``risk_parity`` (risk budgeting); ``hrp``; ``black_litterman``;
``multi_objective``; ``kelly`` (fractional). Constraints are compiled by
:mod:`.constraints`; solvers are called through :mod:`.solvers` with a fallback chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from . import objectives
from .constraints import Constraints
from .estimators import TRADING_DAYS_PER_YEAR
from .exceptions import InfeasibleConstraints, OptimizationError
from .objectives import MULTI_OBJECTIVE_DEFAULTS
from .problem import align_inputs
from .results import OptimizationResult
from .tiers import risk_aversion_for_tier

__all__ = ["MULTI_OBJECTIVE_DEFAULTS", "OBJECTIVES", "optimize"]

OBJECTIVES = (
    "min_volatility",
    "max_sharpe",
    "efficient_return",
    "efficient_risk",
    "max_utility",
    "min_cvar",
    "risk_parity",
    "hrp",
    "black_litterman",
    "multi_objective",
    "kelly",
)
NEEDS_EXPECTED_RETURNS = {
    "max_sharpe",
    "efficient_return",
    "efficient_risk",
    "max_utility",
    "multi_objective",
    "kelly",
}
NEEDS_SCENARIOS = {"min_cvar"}

# ---------------------------------------------------------------------------- facade


def optimize(
    *,
    objective: str,
    expected_returns: pd.Series | None,
    cov: pd.DataFrame | None,
    returns: pd.DataFrame | None = None,
    constraints: Constraints | None = None,
    risk_free_rate: float = 0.0,
    target_return: float | None = None,
    target_volatility: float | None = None,
    risk_aversion: float | None = None,
    views: Any = None,
    current_weights: Mapping[str, float] | pd.Series | None = None,
    **options: Any,
) -> OptimizationResult:
    """Optimize a portfolio; every figure annualised with ``options["frequency"]`` (252).

    ``expected_returns`` (symbol -> annual return) and ``cov`` (annualised covariance) are
    estimates from :mod:`.estimators` or the caller's own; ``returns`` (daily simple returns)
    are the scenarios of ``min_cvar`` and the multi-objective's CVaR terms. ``risk_aversion``
    defaults to :func:`risk_aversion_for_tier` of ``options["risk_tier"]`` ("balanced").
    Options: ``kelly_fraction`` (0.5), ``cvar_beta`` (0.95), ``risk_budgets`` (symbol ->
    budget), ``market_weights`` and ``tau`` (Black-Litterman), ``bl_objective``, the
    multi-objective weights (``MULTI_OBJECTIVE_DEFAULTS``).

    Raises :class:`InfeasibleConstraints` (with the conflicts), :class:`UnsupportedOptions`
    or :class:`OptimizationError` (bad inputs, or every solver failed).
    """
    if objective not in OBJECTIVES:
        raise OptimizationError(
            f"unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}",
            field="objective",
        )
    if not np.isfinite(risk_free_rate):
        raise OptimizationError("risk_free_rate must be a finite number", field="risk_free_rate")
    frequency = int(options.pop("frequency", TRADING_DAYS_PER_YEAR))
    inp = align_inputs(
        expected_returns, cov, returns, constraints, current_weights, risk_free_rate, frequency
    )
    if objective in NEEDS_EXPECTED_RETURNS and inp.mu is None:
        raise OptimizationError(f"{objective} needs expected returns", field="expected_returns")
    if risk_aversion is None:
        risk_aversion = risk_aversion_for_tier(options.pop("risk_tier", None) or "balanced")
    elif not risk_aversion > 0:
        raise OptimizationError("risk_aversion must be positive", field="risk_aversion")
    options.pop("risk_tier", None)
    if objective == "max_sharpe":
        if inp.mu is not None and (inp.mu[inp.form.upper > 0] <= risk_free_rate).all():
            raise InfeasibleConstraints(
                [
                    f"no eligible asset has an expected return above the risk-free rate {risk_free_rate:.6g}; "
                    "max_sharpe needs one (use min_volatility or a lower risk-free rate)"
                ]
            )
        return objectives.max_sharpe(inp)
    if objective in ("risk_parity", "hrp"):
        return objectives.budgeted(inp, objective, **options)
    if objective == "black_litterman":
        return objectives.black_litterman(inp, views=views, risk_aversion=risk_aversion, **options)
    handler = {
        "min_volatility": objectives.min_volatility,
        "efficient_return": objectives.efficient_return,
        "efficient_risk": objectives.efficient_risk,
        "max_utility": objectives.max_utility,
        "min_cvar": objectives.min_cvar,
        "multi_objective": objectives.multi_objective,
        "kelly": objectives.kelly,
    }[objective]
    return handler(
        inp,
        target_return=target_return,
        target_volatility=target_volatility,
        risk_aversion=risk_aversion,
        **options,
    )
