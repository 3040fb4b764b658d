"""RL agents as autopilot strategies: ``agent:ppo`` and ``agent:primal_dual`` (the default
menu) and ``agent:dqn`` (trainable, offered only when the operator opts in:
:data:`OPT_IN_AGENT_ALGORITHMS`).

Each call loads the active model of its algorithm (the engine agent is cached per
process, so a decision is a forward pass plus a gradient attribution), **projects the
agent's allocation onto the portfolio's investment policy** (position caps, sleeve and
asset-class ranges, cash buffer and ceiling, exclusions, number of holdings:
:func:`portfolios.policy.project`, the same projection the autopilot applies to every
strategy), and explains how its allocation differs from the optimizer's minimum-variance
portfolio on the same returns, and which inputs drove it.

Agents cannot put the tier's limits into their own decision (the network outputs any
point of the simplex), so the projection makes their targets feasible by construction:
the autopilot's projection then changes nothing and its position, sleeve, class and
holdings checks pass (a property test over random agent outputs,
``tests/mlagents/test_agent_projection.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from portfolios.policy import PolicyLimits, Projection, ProjectionError, policy_limits, project
from portfolios.strategies import StrategyContext, StrategyError, StrategyResult, register

ALGORITHM_LABELS = {"ppo": "PPO", "primal_dual": "primal-dual", "dqn": "DQN"}


def agent_targets_project(
    weights: Mapping[str, float],
    *,
    symbols: Sequence[str],
    asset_classes: Mapping[str, str],
    limits: PolicyLimits,
) -> Projection:
    """An agent's allocation (symbol -> weight, the rest cash) projected onto ``limits``
    over the strategy's ``symbols`` (raises :class:`ProjectionError` when nothing is
    investable)."""
    return project(
        {s: float(w) for s, w in weights.items()},
        limits=limits,
        asset_classes={s: asset_classes.get(s, "unknown") for s in symbols},
        universe=tuple(symbols),
    )


def _limits_of(ctx: StrategyContext) -> PolicyLimits:
    """The portfolio's limits, or its tier's defaults when the caller gives none."""
    return ctx.limits if ctx.limits is not None else policy_limits(tier=ctx.risk_tier)


def _baseline_weights(returns: pd.DataFrame) -> pd.Series | None:
    """The min-variance portfolio on the trailing year, the optimizer baseline to explain against."""
    from portfolios.optimization import OptimizationError, optimize, sample_cov

    tail = returns.dropna().tail(252)
    if len(tail) < 30:
        return None
    try:
        return optimize(objective="min_volatility", expected_returns=None, cov=sample_cov(tail)).weights
    except OptimizationError:
        return None


class AgentStrategy:
    per_portfolio = True  # the agent reads current weights: targets differ per portfolio

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.name = f"agent:{algorithm}"

    def target_weights(self, ctx: StrategyContext) -> StrategyResult:
        from mlagents.rl.inference import InferenceError, decide
        from mlagents.selectors import agent_active_get, agent_engine_get

        model = agent_active_get(algorithm=self.algorithm)
        if model is None:
            raise StrategyError(
                f"no active {self.algorithm} agent; train one with "
                f"`python manage.py train_agent --algo {self.algorithm}` (it is activated only if it "
                "beats the baselines on its validation window)"
            )
        universe = list(model.universe)
        missing = [s for s in universe if s not in ctx.returns.columns]
        extra = [s for s in ctx.symbols if s not in universe and ctx.current_weights.get(s, 0.0) > 0]
        if missing or extra:
            raise StrategyError(
                f"{self.name} v{model.version} was trained on {', '.join(universe)}; "
                + (f"missing returns for {', '.join(missing)}" if missing else f"the portfolio also holds {', '.join(extra)}")
            )
        returns = ctx.returns[universe].dropna()
        weights = np.array([float(ctx.current_weights.get(s, 0.0)) for s in universe])
        current = np.append(weights, max(0.0, 1.0 - weights.sum()))
        current = current / current.sum()
        regimes = self._regimes(model, ctx)
        try:
            decision = decide(agent_engine_get(agent=model), returns.to_numpy(), current, universe, regimes=regimes)
        except InferenceError as exc:
            raise StrategyError(f"{self.name}: {exc}") from exc
        raw = {s: float(w) for s, w in zip(universe, decision.weights[:-1], strict=True)}
        limits = _limits_of(ctx)
        classes = {**dict(zip(universe, model.asset_classes or [], strict=False)), **dict(ctx.asset_classes)}
        try:
            projection = agent_targets_project(raw, symbols=ctx.symbols, asset_classes=classes, limits=limits)
        except ProjectionError as exc:
            raise StrategyError(f"{self.name}: {exc}") from exc
        target = {s: float(projection.weights.get(s, 0.0)) for s in ctx.symbols}
        cash = max(0.0, 1.0 - sum(target.values()))
        return StrategyResult(
            weights=target,
            confidence=float(np.clip(decision.confidence, 0.0, 1.0)),
            explanation=self._explain(model, decision, target, cash, projection, limits, _baseline_weights(returns)),
            strategy=self.name,
            details={
                "agent_id": model.pk,
                "version": model.version,
                "cash": cash,
                "raw_weights": raw,
                "raw_cash": float(decision.weights[-1]),
                "projection": list(projection.changes + projection.relaxed),
                "attribution": decision.attribution,
                "action": decision.action_name,
                "per_portfolio": True,
            },
        )

    def _regimes(self, model, ctx: StrategyContext) -> np.ndarray | None:
        """Regime probabilities for an agent trained with them: the context's, else the
        detector's call on ``as_of``; a clear error when neither exists."""
        labels = (model.hyperparameters or {}).get("regime_labels") or []
        if not labels:
            return None
        regime = ctx.regime
        if regime is None or not regime.probabilities:
            from mlagents.regime.selectors import regime_state_get

            regime = regime_state_get(as_of=ctx.as_of)
        if regime is None or not regime.probabilities:
            raise StrategyError(
                f"{self.name} v{model.version} uses market-regime probabilities and the detector has "
                f"no call on {ctx.as_of}; run the regime detection first"
            )
        return np.array([float(regime.probabilities.get(k, 0.0)) for k in labels])

    def _explain(self, model, decision, target: dict[str, float], cash: float, projection: Projection,
                 limits: PolicyLimits, baseline: pd.Series | None) -> str:
        label = ALGORITHM_LABELS.get(self.algorithm, self.algorithm)
        test = "" if model.test_sharpe_ratio is None else f", test Sharpe {model.test_sharpe_ratio:.2f}"
        parts = [f"{label} agent v{model.version} (validation Sharpe {model.sharpe_ratio or 0:.2f}{test})"]
        if decision.action_name:
            parts.append(f"chose '{decision.action_name}'")
        if baseline is not None:
            diff = {s: target[s] - float(baseline.get(s, 0.0)) for s in baseline.index if s in target}
            over = sorted(diff.items(), key=lambda kv: -kv[1])[:2]
            under = sorted(diff.items(), key=lambda kv: kv[1])[:2]
            fmt = lambda kv: f"{kv[0]} {kv[1] * 100:+.1f} pp"  # noqa: E731
            parts.append(
                "vs the min-variance portfolio: over " + ", ".join(fmt(kv) for kv in over if kv[1] > 0.001)
                + "; under " + ", ".join(fmt(kv) for kv in under if kv[1] < -0.001)
            )
        if projection.moved > 1e-6:
            parts.append(
                f"held to the {limits.tier} limits (moved {projection.moved * 100:.1f} % of the portfolio: "
                + "; ".join(projection.changes[:3]) + ")"
            )
        parts.append(f"cash {cash * 100:.1f} %")
        drivers = sorted(decision.attribution.items(), key=lambda kv: -kv[1])[:3]
        parts.append("driven by " + ", ".join(f"{name} ({share * 100:.0f} %)" for name, share in drivers))
        return "; ".join(parts) + "."


DEFAULT_AGENT_ALGORITHMS = ("ppo", "primal_dual")
"""Agents on the default strategy menu (``agent:ppo``, ``agent:primal_dual``)."""
OPT_IN_AGENT_ALGORITHMS = ("dqn",)
"""Agents trainable but offered only when the operator opts in (``MLAGENTS_OPT_IN_AGENTS``):
DQN's test-window Sharpe ratio varies across training seeds far beyond 0.15
(docs/RL_EVALUATION.md), so the algorithm is not a product an investor should get by default."""


def register_agent_strategies(opt_in: Sequence[str] | None = None) -> list[str]:
    """Register the default menu's agent strategies, and the opt-in ones named in ``opt_in``
    (default: ``settings.MLAGENTS_OPT_IN_AGENTS``); return the names registered."""
    if opt_in is None:
        from django.conf import settings

        opt_in = getattr(settings, "MLAGENTS_OPT_IN_AGENTS", ())
    wanted = {a.strip().lower() for a in opt_in}
    algorithms = [*DEFAULT_AGENT_ALGORITHMS, *(a for a in OPT_IN_AGENT_ALGORITHMS if a in wanted)]
    for algorithm in algorithms:
        register(f"agent:{algorithm}", lambda a=algorithm: AgentStrategy(a))
    return [f"agent:{a}" for a in algorithms]
