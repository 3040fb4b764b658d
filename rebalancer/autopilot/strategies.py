"""Strategies the autopilot registers: the optimizer objectives and two simple rules.

Registered by :meth:`rebalancer.autopilot.apps.AutopilotConfig.ready` with
``portfolios.strategies.register`` (one call each), so the pipeline, the backtester
and ``rebalance/predict`` resolve them by name:

* ``optimizer:<objective>`` for the objectives the engine's registry marks as strategies
  (``STRATEGY_OBJECTIVES``: ``min_volatility``, ``max_sharpe``, ``risk_parity``, ``hrp``,
  ``min_cvar``, ``max_utility`` with the risk tier's aversion, ``multi_objective``) — :class:`OptimizerStrategy`, the cvxpy engine of
  ``portfolios.optimization`` on the context's return window;
* ``equal_weight`` — 1/N over the universe;
* ``target_allocation`` — the portfolio's own TargetAllocation, passed by the pipeline
  as ``ctx.options["target_weights"]`` (per portfolio, never shared).

No Django import: the registry and these classes are used by pure code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from portfolios.optimization.registry import REGISTRY, STRATEGY_OBJECTIVES
from portfolios.strategies import StrategyContext, StrategyError, StrategyResult, register

# The objectives registered as ``optimizer:<name>`` and their plain words: the engine's
# registry (``portfolios.optimization.registry``), the one list of objectives.
OPTIMIZER_OBJECTIVES = STRATEGY_OBJECTIVES
OBJECTIVE_WORDS: Mapping[str, str] = {name: REGISTRY[name].description for name in STRATEGY_OBJECTIVES}


def _clean(weights: Mapping[str, float], symbols: tuple[str, ...]) -> dict[str, float]:
    """Drop dust and negatives below 1e-6, keep the context's symbols only."""
    out = {s: float(weights.get(s, 0.0)) for s in symbols}
    return {s: w for s, w in out.items() if w > 1e-6}


# Those that refuse transaction costs and take exclusions and the cash buffer only.
BUDGETED_OBJECTIVES = tuple(n for n in STRATEGY_OBJECTIVES if not REGISTRY[n].transaction_costs)


@dataclass
class OptimizerStrategy:
    """An objective of ``portfolios.optimization.optimize`` as a strategy."""

    objective: str
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"optimizer:{self.objective}"

    def _solve(self, returns, constraints, extra):
        from portfolios.optimization import optimize
        from portfolios.optimization.estimators import mean_historical_return, sample_cov

        return optimize(
            objective=self.objective,
            expected_returns=mean_historical_return(returns),
            cov=sample_cov(returns),
            returns=returns,
            constraints=constraints,
            **extra,
        )

    def _window(self, ctx: StrategyContext):
        """The context's returns on every symbol, complete rows only (at least 20)."""
        returns = ctx.returns.reindex(columns=list(ctx.symbols)).dropna(how="any")
        if returns.shape[0] < 20:
            raise StrategyError(
                f"{self.name} needs at least 20 days of returns for every symbol; "
                f"got {returns.shape[0]}"
            )
        return returns

    def _constraints(self, ctx: StrategyContext):
        """The context's constraints as this objective takes them."""
        from portfolios.optimization import Constraints

        constraints = ctx.constraints
        if constraints is not None and self.objective in BUDGETED_OBJECTIVES:
            # Risk parity and HRP take exclusions and the cash buffer only; the projection
            # onto the tier's limits makes their weights feasible afterwards.
            constraints = Constraints(excluded=constraints.excluded, cash_buffer=constraints.cash_buffer)
        return constraints

    def _solve_or_relax(self, returns, constraints, extra):
        """The optimizer's result and a note; limits it cannot meet are solved without
        (the projection applies them afterwards). Raises :class:`StrategyError`."""
        from portfolios.optimization.exceptions import (
            InfeasibleConstraints,
            OptimizationError,
            UnsupportedOptions,
        )

        try:
            return self._solve(returns, constraints, extra), ""
        except (InfeasibleConstraints, UnsupportedOptions) as exc:
            if constraints is None:
                raise StrategyError(f"{self.name}: {exc.message}") from exc
            note = " The optimizer could not meet every limit directly; the projection onto them did."
            try:
                return self._solve(returns, None, extra), note
            except OptimizationError as again:
                raise StrategyError(f"{self.name}: {again.message}") from again
        except OptimizationError as exc:
            raise StrategyError(f"{self.name}: {exc.message}") from exc

    def _explanation(self, ctx: StrategyContext, returns, result, note: str) -> str:
        expected = result.expected_return
        return (
            f"The optimizer chose {OBJECTIVE_WORDS.get(self.objective, self.objective)} "
            f"over {len(ctx.symbols)} assets using {returns.shape[0]} days of history "
            + (f"(expected return {expected:.1%} a year, " if expected is not None else "(")
            + f"volatility {result.volatility:.1%})."
            + note
        )

    def target_weights(self, ctx: StrategyContext) -> StrategyResult:
        # The optimization engine is imported in the steps: it is heavy (cvxpy) and
        # registration must stay cheap at app start.
        returns = self._window(ctx)
        # The engine maps the tier to a risk aversion (max_utility, multi_objective).
        extra = {"risk_tier": ctx.risk_tier}
        result, note = self._solve_or_relax(returns, self._constraints(ctx), extra)
        expected = result.expected_return
        return StrategyResult(
            weights=_clean(dict(result.weights), ctx.symbols),
            # A deterministic optimizer is as sure as its inputs allow; the pipeline's
            # confidence is lowered by short histories rather than by the solver.
            confidence=float(min(1.0, returns.shape[0] / 252)),
            explanation=self._explanation(ctx, returns, result, note),
            strategy=self.name,
            details={
                "objective": self.objective,
                "expected_return": float(expected) if expected is not None else None,
                "volatility": float(result.volatility),
                "sharpe_ratio": float(result.sharpe_ratio)
                if result.sharpe_ratio is not None
                else None,
                "observations": int(returns.shape[0]),
                **extra,
            },
        )


@dataclass
class EqualWeightStrategy:
    """1/N of the invested value in every symbol of the universe."""

    name: str = "equal_weight"

    def target_weights(self, ctx: StrategyContext) -> StrategyResult:
        if not ctx.symbols:
            raise StrategyError("equal_weight needs at least one symbol in the universe")
        weight = 1.0 / len(ctx.symbols)
        return StrategyResult(
            weights={s: weight for s in ctx.symbols},
            confidence=1.0,
            explanation=f"Equal weights: {weight:.1%} in each of {len(ctx.symbols)} assets.",
            strategy=self.name,
        )


@dataclass
class TargetAllocationStrategy:
    """The portfolio's own target allocation (set by the investor)."""

    name: str = "target_allocation"
    per_portfolio: bool = True  # targets differ per portfolio: never shared

    def target_weights(self, ctx: StrategyContext) -> StrategyResult:
        targets = dict(ctx.options.get("target_weights") or {})
        if not targets:
            raise StrategyError(
                "target_allocation needs the portfolio's target allocation; set targets first"
            )
        weights = {s: float(w) for s, w in targets.items() if float(w) > 0}
        total = float(np.sum(list(weights.values())))
        if total > 1.0 + 1e-9:
            weights = {s: w / total for s, w in weights.items()}
        return StrategyResult(
            weights=weights,
            confidence=1.0,
            explanation="Your own target allocation.",
            strategy=self.name,
        )


def strategies_register() -> None:
    """Register every strategy of this module (idempotent: re-registering replaces)."""
    for objective in OPTIMIZER_OBJECTIVES:
        register(
            f"optimizer:{objective}",
            lambda objective=objective: OptimizerStrategy(objective=objective),
        )
    register("equal_weight", EqualWeightStrategy)
    register("target_allocation", TargetAllocationStrategy)
