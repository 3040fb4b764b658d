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

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from . import objectives
from .constraints import Constraints
from .estimators import TRADING_DAYS_PER_YEAR
from .exceptions import InfeasibleConstraints, OptimizationError, UnsupportedOptions
from .objectives import MULTI_OBJECTIVE_DEFAULTS
from .problem import align_inputs
from .results import OptimizationResult
from .tiers import risk_aversion_for_tier

__all__ = ["MULTI_OBJECTIVE_DEFAULTS", "OBJECTIVES", "OPTION_USERS", "optimize"]

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

# The objectives that read each option, and its default. optimize() refuses an option set
# for an objective that would ignore it; one at its default (or None, or empty) changes
# nothing and passes, since callers such as the API send kelly_fraction and cvar_beta on
# every request. ``risk_tier`` is context, accepted by all (it sets risk_aversion where one
# is read); ``frequency`` only annualises a covariance estimated from ``returns``.
# Issue 22 turns these rows into one typed option class per objective.
OPTION_USERS: dict[str, tuple[frozenset[str], Any]] = {
    "target_return": (frozenset({"efficient_return", "min_cvar"}), None),
    "target_volatility": (frozenset({"efficient_risk"}), None),
    "risk_aversion": (frozenset({"max_utility", "multi_objective", "black_litterman"}), None),
    "views": (frozenset({"black_litterman"}), None),
    "kelly_fraction": (frozenset({"kelly"}), objectives.KELLY_FRACTION),
    "cvar_beta": (frozenset({"min_cvar", "multi_objective"}), objectives.CVAR_BETA),
    "drawdown_horizon": (frozenset({"multi_objective"}), objectives.DRAWDOWN_HORIZON),
    "risk_budgets": (frozenset({"risk_parity"}), None),
    "market_weights": (frozenset({"black_litterman"}), None),
    "tau": (frozenset({"black_litterman"}), objectives.TAU),
    "bl_objective": (frozenset({"black_litterman"}), objectives.BL_OBJECTIVES[0]),
    **{
        name: (frozenset({"multi_objective"}), default)
        for name, default in MULTI_OBJECTIVE_DEFAULTS.items()
    },
}

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
    """Optimize a portfolio; returns and risks are annual figures, CVaR is of daily losses.

    ``expected_returns`` (symbol -> annual return) and ``cov`` (annualised covariance) are
    estimates from :mod:`.estimators` or the caller's own; without ``cov``, ``returns`` are
    annualised with ``options["frequency"]`` (252). ``returns`` (daily simple returns, NaN
    before a listing) are the scenarios of ``min_cvar`` and the multi-objective's CVaR terms
    (complete rows), and the correlation HRP clusters on (pairwise-complete).
    ``risk_aversion`` defaults to :func:`risk_aversion_for_tier` of ``options["risk_tier"]``
    ("balanced"); an explicit ``risk_aversion`` wins over the tier.
    Options: ``kelly_fraction`` (0.5), ``cvar_beta`` (0.95), ``drawdown_horizon`` (21),
    ``risk_budgets`` (symbol -> budget), ``market_weights``, ``tau`` and ``bl_objective``
    (Black-Litterman), the multi-objective weights (``MULTI_OBJECTIVE_DEFAULTS``).
    ``OPTION_USERS`` says which objectives read each; setting one for another objective is
    refused rather than ignored, as are constraints an objective cannot honour.

    Raises :class:`InfeasibleConstraints` (with the conflicts), :class:`UnsupportedOptions`
    (an option or constraint the objective does not use, naming it) or
    :class:`OptimizationError` (bad inputs, or every solver failed).
    """
    if objective not in OBJECTIVES:
        raise OptimizationError(
            f"unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}",
            field="objective",
        )
    if not np.isfinite(risk_free_rate):
        raise OptimizationError("risk_free_rate must be a finite number", field="risk_free_rate")
    frequency = int(options.pop("frequency", TRADING_DAYS_PER_YEAR))
    if cov is not None and frequency != TRADING_DAYS_PER_YEAR:
        raise UnsupportedOptions(
            "frequency annualises a covariance estimated from returns; the cov given is used "
            "as it is (annualise it, or give returns without a cov)",
            field="frequency",
        )
    tier = options.pop("risk_tier", None)
    _refuse_ignored_options(
        objective,
        {
            "target_return": target_return,
            "target_volatility": target_volatility,
            "risk_aversion": risk_aversion,
            "views": views,
            **options,
        },
    )
    inp = align_inputs(
        expected_returns, cov, returns, constraints, current_weights, risk_free_rate, frequency
    )
    if objective in NEEDS_EXPECTED_RETURNS and inp.mu is None:
        raise OptimizationError(f"{objective} needs expected returns", field="expected_returns")
    if risk_aversion is None:
        risk_aversion = risk_aversion_for_tier(tier or "balanced")
    elif not risk_aversion > 0:
        raise OptimizationError("risk_aversion must be positive", field="risk_aversion")
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
    # Each takes the inputs and the options it reads (the rest land in its ``**_``).
    handlers: dict[str, Callable[..., OptimizationResult]] = {
        "min_volatility": objectives.min_volatility,
        "efficient_return": objectives.efficient_return,
        "efficient_risk": objectives.efficient_risk,
        "max_utility": objectives.max_utility,
        "min_cvar": objectives.min_cvar,
        "multi_objective": objectives.multi_objective,
        "kelly": objectives.kelly,
    }
    return handlers[objective](
        inp,
        target_return=target_return,
        target_volatility=target_volatility,
        risk_aversion=risk_aversion,
        **options,
    )


def _refuse_ignored_options(objective: str, given: Mapping[str, Any]) -> None:
    """Raise for an unknown option, or one set for an objective that does not read it."""
    for name, value in given.items():
        if name not in OPTION_USERS:
            raise OptimizationError(
                f"unknown option {name!r}; the options are {', '.join(sorted(OPTION_USERS))}",
                field=name,
            )
        users, default = OPTION_USERS[name]
        if objective not in users and not _is_unset(value, default):
            raise UnsupportedOptions(
                f"{name} is not used by {objective}; it applies to "
                + ", ".join(o for o in OBJECTIVES if o in users),
                field=name,
            )


def _is_unset(value: Any, default: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value == default
    if hasattr(value, "__len__"):
        return len(value) == 0
    return default is not None and bool(np.isscalar(value) and value == default)
