"""Register the regime-adaptive and hybrid strategies in the autopilot's registry.

Called from :meth:`RegimeConfig.ready`. Both strategies look other strategies up at
call time (optimizers registered by the autopilot, agents by the RL app), so the
order in which apps register does not matter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from mlagents.regime.engine.hybrid import HybridStrategy
from mlagents.regime.engine.policy import AdaptiveStrategy
from portfolios.strategies import StrategyContext, StrategyError, register, strategy_get

DEFAULT_HYBRID_AGENT = "agent:ppo"


def _policy_rules():
    from mlagents.regime.selectors import regime_policy_rules_get

    return regime_policy_rules_get()


def _regime_at(as_of: dt.date):
    from mlagents.regime.selectors import regime_state_get

    return regime_state_get(market="default", as_of=as_of)


def registered_agent(ctx: StrategyContext) -> Mapping[str, float]:
    """The target weights of the agent named by ``ctx.options["hybrid_agent"]`` (default
    ``agent:ppo``); StrategyError when no such agent is registered yet."""
    name = str(ctx.options.get("hybrid_agent", DEFAULT_HYBRID_AGENT))
    if not name.startswith("agent:"):
        raise StrategyError(f"the hybrid strategy blends an RL agent (agent:*), not {name!r}")
    try:
        agent = strategy_get(name)
    except StrategyError as exc:
        raise StrategyError(
            f"the hybrid strategy needs the agent {name!r}, which is not registered yet "
            f"(train one with `manage.py train_agent`): {exc}"
        ) from None
    return agent.target_weights(ctx).weights


def strategies_register() -> None:
    register("regime_adaptive", lambda: AdaptiveStrategy(rules=_policy_rules, regime_at=_regime_at))
    register("hybrid", lambda: HybridStrategy(registered_agent, agent_name=DEFAULT_HYBRID_AGENT))
