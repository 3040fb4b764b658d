"""The strategy registry: every way of proposing target weights, behind one protocol.

The autopilot (``rebalancer.autopilot``) asks a strategy for target weights given a
:class:`StrategyContext`. Optimizer objectives register here from ``portfolios``;
RL agents (``agent:ppo``, ``agent:primal_dual``, ``agent:dqn``), the regime-adaptive
policy and the hybrid strategy register from ``mlagents`` — one ``register`` call each.
This module sits in ``portfolios`` (below ``mlagents`` and ``rebalancer``) so that
both can import it without breaking the layering; it imports no Django.

Weights are floats over the context's symbols; whatever they leave of 1.0 is cash.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, runtime_checkable

import pandas as pd

RISK_TIERS = ("conservative", "moderate", "balanced", "growth", "aggressive")


class StrategyError(Exception):
    """A strategy could not produce targets (unknown name, unusable inputs)."""


@dataclass(frozen=True)
class RegimeState:
    """The market regime as the detector sees it on ``as_of`` (causal)."""

    regime: str  # "bull" | "bear" | "sideways"
    confidence: float  # probability of the reported regime, in [0, 1]
    probabilities: Mapping[str, float] = field(default_factory=dict)
    changed: bool = False  # the regime differs from the previous trading day's


@dataclass(frozen=True)
class StrategyContext:
    """Everything a strategy may look at; nothing after ``as_of`` (no look-ahead).

    ``returns`` holds simple daily returns of adjusted close, dates x symbols, ending
    on or before ``as_of``. ``current_weights`` maps symbol -> weight of portfolio value
    (cash is whatever the weights leave of 1.0). ``constraints`` is the optimizer's
    constraint specification (``portfolios.optimization`` types) or ``None``. ``limits``
    is the portfolio's resolved :class:`portfolios.policy.PolicyLimits` (tier, horizon,
    overrides, exclusions) or ``None`` (a strategy then reads ``risk_tier``'s defaults):
    strategies that cannot put constraints into their own solve (RL agents) project their
    output onto it, so the autopilot's projection and checks find nothing to change.
    """

    as_of: date
    symbols: tuple[str, ...]
    returns: pd.DataFrame
    current_weights: Mapping[str, float]
    risk_tier: str = "balanced"
    constraints: Any = None
    regime: RegimeState | None = None
    asset_classes: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    limits: Any = None


@dataclass(frozen=True)
class StrategyResult:
    """Target weights with the strategy's confidence and a plain-language reason."""

    weights: Mapping[str, float]
    confidence: float
    explanation: str
    strategy: str
    details: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Strategy(Protocol):
    name: str

    def target_weights(self, ctx: StrategyContext) -> StrategyResult: ...


_REGISTRY: dict[str, Callable[[], Strategy]] = {}


def register(name: str, factory: Callable[[], Strategy]) -> None:
    """Register a strategy factory under ``name`` (re-registering replaces it)."""
    _REGISTRY[name] = factory


def unregister(name: str) -> None:
    """Remove ``name`` from the registry (no error if absent): for strategies that live
    only as long as a job, e.g. a backtest's walk-forward agents."""
    _REGISTRY.pop(name, None)


def strategy_get(name: str) -> Strategy:
    """Return a fresh strategy for ``name``; raise :class:`StrategyError` if unknown."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise StrategyError(f"unknown strategy {name!r}; known strategies: {known}") from None
    return factory()


def strategy_names() -> list[str]:
    return sorted(_REGISTRY)


def shared_target_key(ctx: StrategyContext, strategy: str) -> tuple:
    """Key under which targets may be shared by many portfolios in one cycle.

    Portfolios with the same strategy, universe, risk tier and as-of date get the same
    targets unless the strategy depends on current weights (it then opts out by
    setting ``options["per_portfolio"]``).
    """
    return (strategy, ctx.as_of, ctx.symbols, ctx.risk_tier)
