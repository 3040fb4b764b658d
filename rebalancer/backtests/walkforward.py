"""Walk-forward retraining of RL agents inside a backtest (no database writes).

At each retraining date the replay hands :func:`walk_forward_retrainer`'s hook the
returns known at that close; it trains a fresh agent of the requested algorithm on them
(in memory, with the same engine classes and sizing ``mlagents`` uses for production
training) and registers it under a strategy name private to the run, which the replay
then uses until the next retraining date. Production agents are never touched: the
registry entry is a :class:`WalkForwardAgentStrategy` over the in-memory agent.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from portfolios.strategies import (
    StrategyContext,
    StrategyError,
    StrategyResult,
    register,
    unregister,
)

_RUNS = itertools.count(1)


class WalkForwardAgentStrategy:
    """An in-memory agent as a strategy (the same inference as ``mlagents.strategies``)."""

    per_portfolio = True  # the agent reads current weights

    def __init__(self, name: str, agent, universe: Sequence[str], trained_until: date) -> None:
        self.name = name
        self.agent = agent
        self.universe = list(universe)
        self.trained_until = trained_until

    def target_weights(self, ctx: StrategyContext) -> StrategyResult:
        from mlagents.rl.inference import InferenceError, decide

        missing = [s for s in self.universe if s not in ctx.returns.columns]
        if missing:
            raise StrategyError(f"{self.name}: no returns for {', '.join(missing)}")
        returns = ctx.returns[self.universe].dropna()
        weights = np.array([float(ctx.current_weights.get(s, 0.0)) for s in self.universe])
        current = np.append(weights, max(0.0, 1.0 - weights.sum()))
        current = current / current.sum()
        try:
            decision = decide(self.agent, returns.to_numpy(), current, self.universe)
        except InferenceError as exc:
            raise StrategyError(f"{self.name}: {exc}") from exc
        target = {s: float(w) for s, w in zip(self.universe, decision.weights[:-1], strict=True)}
        return StrategyResult(
            weights=target,
            confidence=float(np.clip(decision.confidence, 0.0, 1.0)),
            explanation=(
                f"Walk-forward {self.name} agent trained on data up to {self.trained_until}; "
                f"cash {decision.weights[-1]:.1%}."
            ),
            strategy=self.name,
            details={"trained_until": self.trained_until.isoformat(), "per_portfolio": True},
        )


class WalkForwardRetrainer:
    """The replay ``retrain`` hook of :func:`walk_forward_retrainer`; ``close()`` removes
    its strategy from the registry (the report calls it when the replay is over)."""

    def __init__(self, *, algorithm: str, symbols: Sequence[str], episodes: int, seed: int, min_days: int):
        self.name = f"walkforward:{algorithm}:{next(_RUNS)}"
        self.algorithm, self.universe = algorithm, list(symbols)
        self.episodes, self.seed, self.min_days = episodes, seed, min_days

    def __call__(self, as_of: date, returns: pd.DataFrame) -> str | None:
        from mlagents.rl.env import VecPortfolioEnv
        from mlagents.services import DEFAULT_ENV, agent_engine_build  # production sizing

        history = returns.reindex(columns=self.universe).dropna()
        if len(history) < max(
            self.min_days,
            DEFAULT_ENV.window + DEFAULT_ENV.episode_length * DEFAULT_ENV.decision_interval + 2,
        ):
            return None
        values = history.to_numpy(dtype=float)
        probe = VecPortfolioEnv(values, DEFAULT_ENV)
        agent, num_envs = agent_engine_build(
            algorithm=self.algorithm, n_assets=len(self.universe), obs_dim=probe.obs_dim,
            env_config=DEFAULT_ENV, episodes=self.episodes, seed=self.seed,
            asset_classes=["equity"] * len(self.universe),
        )
        agent.train(VecPortfolioEnv(values, DEFAULT_ENV, num_envs=num_envs, seed=self.seed))
        name, universe = self.name, self.universe
        register(name, lambda agent=agent: WalkForwardAgentStrategy(name, agent, universe, as_of))
        return name

    def close(self) -> None:
        unregister(self.name)


def walk_forward_retrainer(
    *, algorithm: str, symbols: Sequence[str], episodes: int, seed: int = 0, min_days: int = 120
) -> WalkForwardRetrainer:
    """A replay ``retrain`` hook training ``algorithm`` on the history known at each date.

    The hook returns ``None`` (keep the current strategy) while fewer than ``min_days``
    complete rows of returns exist. The strategy name is ``walkforward:<algorithm>:<run>``;
    call the hook's ``close()`` when the replay is over.
    """
    return WalkForwardRetrainer(
        algorithm=algorithm, symbols=symbols, episodes=episodes, seed=seed, min_days=min_days
    )
