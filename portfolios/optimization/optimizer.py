"""``optimize``: every objective behind one call, on aligned numpy inputs.

Objectives (``OBJECTIVES``): ``min_volatility``; ``max_sharpe`` (Cornuejols-Tutuncu
homogenisation, or Dinkelbach's iteration on a mixed-integer SOCP when cardinality or
minimum positions are asked); ``efficient_return`` (min variance at a target return);
``efficient_risk`` (max return at a target volatility); ``max_utility`` (``mu'w -
delta/2 w'Sigma w``, delta from the risk tier); ``min_cvar`` (Rockafellar-Uryasev over
historical scenarios); ``risk_parity`` (risk budgeting); ``hrp``; ``black_litterman``;
``multi_objective``; ``kelly`` (fractional). Constraints are compiled by
:mod:`.constraints`; solvers are called through :mod:`.solvers` with a fallback chain.
The objectives, their typed options and their functions are one table,
:data:`.registry.REGISTRY`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .constraints import Constraints
from .estimators import TRADING_DAYS_PER_YEAR
from .exceptions import InfeasibleConstraints, OptimizationError, UnsupportedOptions
from .objectives import MULTI_OBJECTIVE_DEFAULTS
from .problem import Inputs, align_inputs
from .registry import (
    CONTEXT_OPTIONS,
    OBJECTIVES,
    REGISTRY,
    ObjectiveOptions,
    ObjectiveSpec,
    closest,
    option_defaults,
)
from .results import OptimizationResult
from .tiers import risk_aversion_for_tier

__all__ = ["MULTI_OBJECTIVE_DEFAULTS", "OBJECTIVES", "OPTION_USERS", "optimize"]

# The objectives that read each option, and its default, from the registry's option
# classes. optimize() refuses an option set for an objective that would ignore it; one at
# its default (or None, or empty) changes nothing and passes, since callers such as the
# API send kelly_fraction and cvar_beta on every request. ``risk_tier`` and ``frequency``
# (``CONTEXT_OPTIONS``) are accepted by all.
OPTION_USERS: dict[str, tuple[frozenset[str], Any]] = option_defaults()

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
    spec = _spec_of(objective)
    if not np.isfinite(risk_free_rate):
        raise OptimizationError("risk_free_rate must be a finite number", field="risk_free_rate")
    frequency = _annualisation_frequency(options.pop("frequency", TRADING_DAYS_PER_YEAR), cov)
    tier = options.pop("risk_tier", None)
    given = {
        "target_return": target_return,
        "target_volatility": target_volatility,
        "risk_aversion": risk_aversion,
        "views": views,
        **options,
    }
    if risk_aversion is not None and not risk_aversion > 0:
        raise OptimizationError("risk_aversion must be positive", field="risk_aversion")
    typed = objective_options(spec, given, risk_tier=tier)
    inp = align_inputs(
        expected_returns, cov, returns, constraints, current_weights, risk_free_rate, frequency
    )
    if spec.needs_expected_returns and inp.mu is None:
        raise OptimizationError(f"{objective} needs expected returns", field="expected_returns")
    if objective == "max_sharpe":
        _refuse_sharpe_without_excess_return(inp, risk_free_rate)
    return spec.run(inp, typed)


def _spec_of(objective: str) -> ObjectiveSpec:
    """The registry's entry of ``objective``; an unknown name suggests the closest one."""
    spec = REGISTRY.get(objective)
    if spec is None:
        suggestion = closest(objective, OBJECTIVES)
        raise OptimizationError(
            f"unknown objective {objective!r}"
            + (f" (did you mean {suggestion!r}?)" if suggestion else "")
            + f"; use one of {', '.join(OBJECTIVES)}",
            field="objective",
        )
    return spec


def _annualisation_frequency(frequency: Any, cov: pd.DataFrame | None) -> int:
    """Periods per year that annualise ``returns``; refused with a ``cov``, used as it is."""
    periods = int(frequency)
    if cov is not None and periods != TRADING_DAYS_PER_YEAR:
        raise UnsupportedOptions(
            "frequency annualises a covariance estimated from returns; the cov given is used "
            "as it is (annualise it, or give returns without a cov)",
            field="frequency",
        )
    return periods


def _refuse_sharpe_without_excess_return(inp: Inputs, risk_free_rate: float) -> None:
    """No Sharpe ratio is positive when no eligible asset beats the risk-free rate."""
    if inp.mu is not None and (inp.mu[inp.form.upper > 0] <= risk_free_rate).all():
        raise InfeasibleConstraints(
            [
                f"no eligible asset has an expected return above the risk-free rate {risk_free_rate:.6g}; "
                "max_sharpe needs one (use min_volatility or a lower risk-free rate)"
            ]
        )


def objective_options(
    spec: ObjectiveSpec, given: Mapping[str, Any], *, risk_tier: str | None = None
) -> ObjectiveOptions:
    """The typed options of ``spec`` from keyword arguments, refusing any it would not read.

    An unknown name raises :class:`OptimizationError` naming it and the closest valid one; a
    name another objective reads raises :class:`UnsupportedOptions` unless it is unset (None,
    empty or its default). ``risk_aversion`` defaults to the tier's (``risk_tier``, "balanced").
    """
    own = spec.option_names()
    values: dict[str, Any] = {}
    for name, value in given.items():
        if name in own:
            if value is not None:
                values[name] = value
            continue
        _refuse_foreign(spec, name, value)
    if "risk_aversion" in own and "risk_aversion" not in values:
        values["risk_aversion"] = risk_aversion_for_tier(risk_tier or "balanced")
    return spec.options(**values)


def _refuse_foreign(spec: ObjectiveSpec, name: str, value: Any) -> None:
    """Raise for an unknown option, or one set for an objective that does not read it."""
    if name not in OPTION_USERS:
        valid = (*spec.option_names(), *CONTEXT_OPTIONS)
        suggestion = closest(name, valid) or closest(name, [*OPTION_USERS, *CONTEXT_OPTIONS])
        raise OptimizationError(
            f"unknown option {name!r} for {spec.name}"
            + (f" (did you mean {suggestion!r}?)" if suggestion else "")
            + f"; {spec.name} reads {', '.join(valid)}",
            field=name,
        )
    users, default = OPTION_USERS[name]
    if not _is_unset(value, default):
        raise UnsupportedOptions(
            f"{name} is not used by {spec.name}; it applies to "
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
