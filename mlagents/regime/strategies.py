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

HYBRID_AGENTS = ("agent:primal_dual", "agent:ppo")
"""Agents the hybrid tries, in this order, when the settings name none (the first promoted one
wins): the default menu's (DQN, off the menu, only when named)."""


def _policy_rules():
    from mlagents.regime.selectors import regime_policy_rules_get

    return regime_policy_rules_get()


def _regime_at(as_of: dt.date):
    from mlagents.regime.selectors import regime_state_get

    return regime_state_get(market="default", as_of=as_of)


def registered_agent(ctx: StrategyContext) -> tuple[Mapping[str, float], str]:
    """The target weights of the hybrid's agent and its name.

    ``ctx.options["hybrid_agent"]`` names one (``agent:*``); without it the first agent of
    :data:`HYBRID_AGENTS` with a promoted model is used. StrategyError (with why) when none
    can decide.
    """
    wanted = ctx.options.get("hybrid_agent")
    names = (str(wanted),) if wanted else HYBRID_AGENTS
    reasons = []
    for name in names:
        if not name.startswith("agent:"):
            raise StrategyError(f"the hybrid strategy blends an RL agent (agent:*), not {name!r}")
        try:
            return strategy_get(name).target_weights(ctx).weights, name
        except StrategyError as exc:
            reasons.append(f"{name}: {exc}")
    raise StrategyError("no promoted agent can decide (" + "; ".join(reasons) + ")")


def strategies_register() -> None:
    register("regime_adaptive", lambda: AdaptiveStrategy(rules=_policy_rules, regime_at=_regime_at))
    register("hybrid", lambda: HybridStrategy(registered_agent))
