"""RL agents: the agent strategies offered beyond the default menu."""

from rebalancer.settings.base import env

# agent:ppo and agent:primal_dual are always offered to portfolios. DQN stays trainable
# (``train_agent --algo dqn``) but is off the default menu: its test-window Sharpe ratio
# varies across training seeds far beyond the 0.15 the product accepts
# (docs/RL_EVALUATION.md). Name it here (MLAGENTS_OPT_IN_AGENTS=dqn) to offer agent:dqn anyway.
MLAGENTS_OPT_IN_AGENTS = env.list("MLAGENTS_OPT_IN_AGENTS", default=[])
