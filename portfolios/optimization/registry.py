"""The one table of objectives: name -> function, typed options, description, costs.

Every list of objectives reads :data:`REGISTRY`: :func:`.optimizer.optimize`, the API's
``objective`` enum (``OBJECTIVES``), the autopilot's ``optimizer:<name>`` strategies
(:data:`STRATEGY_OBJECTIVES`, the objectives that need nothing but a return window) and the
docs (``docs/OBJECTIVES.md``, checked against this table by a test).

Each objective's options are a frozen dataclass validated on construction, with the
keywords the objective function reads (no ``**kwargs`` anywhere): ``optimize`` builds one
from its keyword arguments, so ``kelly_fracton=0.1`` is refused naming the option and the
closest valid one instead of running at the default.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any

from . import objectives
from .exceptions import OptimizationError
from .problem import Inputs
from .results import OptimizationResult

__all__ = [
    "CONTEXT_OPTIONS",
    "OBJECTIVES",
    "REGISTRY",
    "STRATEGY_OBJECTIVES",
    "ObjectiveSpec",
    "closest",
    "option_defaults",
]

CONTEXT_OPTIONS = ("risk_tier", "frequency")
"""Accepted by every objective: ``risk_tier`` sets ``risk_aversion`` where one is read,
``frequency`` annualises a covariance estimated from ``returns``."""


@dataclass(frozen=True)
class ObjectiveOptions:
    """The options of an objective without any (the base of every options class)."""

    def kwargs(self) -> dict[str, Any]:
        """The fields as the keywords of the objective function (shallow)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _positive(name: str, value: float | None, message: str) -> None:
    if value is None or not (math.isfinite(value) and value > 0):
        raise OptimizationError(message, field=name)


@dataclass(frozen=True)
class MinVolatilityOptions(ObjectiveOptions):
    pass


@dataclass(frozen=True)
class MaxSharpeOptions(ObjectiveOptions):
    """No options of its own: the risk-free rate is an input of every objective."""


@dataclass(frozen=True)
class HRPOptions(ObjectiveOptions):
    pass


@dataclass(frozen=True)
class EfficientReturnOptions(ObjectiveOptions):
    target_return: float | None = None

    def __post_init__(self) -> None:
        if self.target_return is None:
            raise OptimizationError("efficient_return needs target_return", field="target_return")


@dataclass(frozen=True)
class EfficientRiskOptions(ObjectiveOptions):
    target_volatility: float | None = None

    def __post_init__(self) -> None:
        _positive(
            "target_volatility",
            self.target_volatility,
            "efficient_risk needs a positive target_volatility",
        )


@dataclass(frozen=True)
class MaxUtilityOptions(ObjectiveOptions):
    risk_aversion: float = 1.0
    """Set by ``optimize`` from the risk tier when not given."""

    def __post_init__(self) -> None:
        _positive("risk_aversion", self.risk_aversion, "risk_aversion must be positive")


@dataclass(frozen=True)
class KellyOptions(ObjectiveOptions):
    kelly_fraction: float = objectives.KELLY_FRACTION

    def __post_init__(self) -> None:
        if not 0 < self.kelly_fraction <= 1:
            raise OptimizationError("kelly_fraction must be in (0, 1]", field="kelly_fraction")


@dataclass(frozen=True)
class MinCVaROptions(ObjectiveOptions):
    target_return: float | None = None
    cvar_beta: float = objectives.CVAR_BETA

    def __post_init__(self) -> None:
        if not 0.5 <= self.cvar_beta < 1:
            raise OptimizationError("cvar_beta must be in [0.5, 1)", field="cvar_beta")


@dataclass(frozen=True)
class RiskParityOptions(ObjectiveOptions):
    risk_budgets: Mapping[str, float] | None = None
    """symbol -> budget (default equal); checked against the universe by the objective."""


@dataclass(frozen=True)
class BlackLittermanOptions(ObjectiveOptions):
    views: Sequence[Mapping[str, Any]] | None = None
    risk_aversion: float = 1.0
    market_weights: Mapping[str, float] | None = None
    tau: float = objectives.TAU
    bl_objective: str = objectives.BL_OBJECTIVES[0]

    def __post_init__(self) -> None:
        _positive("risk_aversion", self.risk_aversion, "risk_aversion must be positive")
        if self.bl_objective not in objectives.BL_OBJECTIVES:
            raise OptimizationError(
                f"unknown bl_objective {self.bl_objective!r}; use one of "
                + ", ".join(objectives.BL_OBJECTIVES),
                field="bl_objective",
            )


_MULTI = objectives.MULTI_OBJECTIVE_DEFAULTS


@dataclass(frozen=True)
class MultiObjectiveOptions(ObjectiveOptions):
    risk_aversion: float = 1.0
    cvar_beta: float = objectives.CVAR_BETA
    drawdown_horizon: int = objectives.DRAWDOWN_HORIZON
    return_weight: float = _MULTI["return_weight"]
    variance_weight: float = _MULTI["variance_weight"]
    """Negative: ``risk_aversion / 2`` (the tier's)."""
    cvar_weight: float = _MULTI["cvar_weight"]
    drawdown_weight: float = _MULTI["drawdown_weight"]
    turnover_weight: float = _MULTI["turnover_weight"]

    def __post_init__(self) -> None:
        _positive("risk_aversion", self.risk_aversion, "risk_aversion must be positive")
        weights = (self.return_weight, self.cvar_weight, self.drawdown_weight, self.turnover_weight)
        if any(not w >= 0 for w in weights):
            raise OptimizationError("multi-objective weights must be >= 0", field="options")


@dataclass(frozen=True)
class ObjectiveSpec:
    """One row of the registry."""

    name: str
    function: Callable[..., OptimizationResult]
    """``function(inputs, **options.kwargs())``."""
    options: type[ObjectiveOptions]
    description: str
    """Plain words for investors (the autopilot's explanations, the docs)."""
    transaction_costs: bool
    """Whether it honours ``Constraints.transaction_cost`` (else it refuses one)."""
    needs_expected_returns: bool = False
    needs_scenarios: bool = False
    strategy: bool = False
    """Registered as the autopilot strategy ``optimizer:<name>`` (needs only returns)."""

    def option_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self.options))

    def run(self, inp: Inputs, options: ObjectiveOptions) -> OptimizationResult:
        return self.function(inp, **options.kwargs())


def _spec(name: str, function: Callable[..., OptimizationResult], options: type[ObjectiveOptions],
          description: str, **flags: bool) -> ObjectiveSpec:
    return ObjectiveSpec(name, function, options, description, **flags)


REGISTRY: Mapping[str, ObjectiveSpec] = {
    spec.name: spec
    for spec in (
        _spec("min_volatility", objectives.min_volatility, MinVolatilityOptions,
              "the lowest-volatility mix", transaction_costs=True, strategy=True),
        _spec("max_sharpe", objectives.max_sharpe, MaxSharpeOptions,
              "the best expected return per unit of risk (maximum Sharpe ratio)",
              transaction_costs=True, needs_expected_returns=True, strategy=True),
        _spec("efficient_return", objectives.efficient_return, EfficientReturnOptions,
              "the lowest-volatility mix that reaches a target return",
              transaction_costs=True, needs_expected_returns=True),
        _spec("efficient_risk", objectives.efficient_risk, EfficientRiskOptions,
              "the highest expected return at a target volatility",
              transaction_costs=True, needs_expected_returns=True),
        _spec("max_utility", objectives.max_utility, MaxUtilityOptions,
              "the best trade-off between return and risk for your risk tolerance",
              transaction_costs=True, needs_expected_returns=True, strategy=True),
        _spec("min_cvar", objectives.min_cvar, MinCVaROptions,
              "the smallest expected loss on the worst 5% of days (minimum CVaR)",
              transaction_costs=True, needs_scenarios=True, strategy=True),
        _spec("risk_parity", objectives.risk_parity, RiskParityOptions,
              "an equal risk contribution from every holding (risk parity)",
              transaction_costs=False, strategy=True),
        _spec("hrp", objectives.hrp, HRPOptions,
              "a hierarchical risk parity mix that spreads risk across clusters of similar assets",
              transaction_costs=False, strategy=True),
        _spec("black_litterman", objectives.black_litterman, BlackLittermanOptions,
              "the market's implied returns blended with your views (Black-Litterman)",
              transaction_costs=True),
        _spec("multi_objective", objectives.multi_objective, MultiObjectiveOptions,
              "a balance of return, risk and diversification",
              transaction_costs=True, needs_expected_returns=True, strategy=True),
        _spec("kelly", objectives.kelly, KellyOptions,
              "fractional Kelly growth, the rest left in cash",
              transaction_costs=True, needs_expected_returns=True),
    )
}

OBJECTIVES: tuple[str, ...] = tuple(REGISTRY)
STRATEGY_OBJECTIVES: tuple[str, ...] = tuple(n for n, s in REGISTRY.items() if s.strategy)


def option_defaults() -> dict[str, tuple[frozenset[str], Any]]:
    """Every objective option: the objectives that read it, and its default (None: required)."""
    users: dict[str, set[str]] = {}
    defaults: dict[str, Any] = {}
    for spec in REGISTRY.values():
        for f in fields(spec.options):
            users.setdefault(f.name, set()).add(spec.name)
            default = None if f.default is MISSING else f.default
            # risk_aversion's field default is a placeholder: optimize always sets it.
            defaults.setdefault(f.name, None if f.name == "risk_aversion" else default)
    return {name: (frozenset(users[name]), defaults[name]) for name in users}


def closest(name: str, candidates: Sequence[str]) -> str | None:
    """The candidate nearest to ``name`` (difflib), if any is near enough."""
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None
