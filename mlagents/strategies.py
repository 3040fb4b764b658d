"""RL agents as autopilot strategies: ``agent:ppo``, ``agent:primal_dual``, ``agent:dqn``.

Each call loads the active model of its algorithm (the engine agent is cached per
process, so a decision is a forward pass plus a gradient attribution) and explains how
its allocation differs from the optimizer's minimum-variance portfolio on the same
returns, and which inputs drove it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from portfolios.strategies import StrategyContext, StrategyError, StrategyResult, register

ALGORITHM_LABELS = {"ppo": "PPO", "primal_dual": "primal-dual", "dqn": "DQN"}


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
        target = {s: float(w) for s, w in zip(universe, decision.weights[:-1], strict=True)}
        for s in ctx.symbols:
            target.setdefault(s, 0.0)
        return StrategyResult(
            weights=target,
            confidence=float(np.clip(decision.confidence, 0.0, 1.0)),
            explanation=self._explain(model, decision, target, _baseline_weights(returns)),
            strategy=self.name,
            details={
                "agent_id": model.pk,
                "version": model.version,
                "cash": float(decision.weights[-1]),
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

    def _explain(self, model, decision, target: dict[str, float], baseline: pd.Series | None) -> str:
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
        parts.append(f"cash {decision.weights[-1] * 100:.1f} %")
        drivers = sorted(decision.attribution.items(), key=lambda kv: -kv[1])[:3]
        parts.append("driven by " + ", ".join(f"{name} ({share * 100:.0f} %)" for name, share in drivers))
        return "; ".join(parts) + "."


def register_agent_strategies() -> None:
    for algorithm in ("ppo", "primal_dual", "dqn"):
        register(f"agent:{algorithm}", lambda a=algorithm: AgentStrategy(a))
