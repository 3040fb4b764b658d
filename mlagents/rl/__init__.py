"""The reinforcement-learning engine: pure torch/numpy, no Django.

* :mod:`mlagents.rl.env` — the vectorized portfolio environment (:class:`VecPortfolioEnv`);
* :mod:`mlagents.rl.gym_env` — a ``gymnasium.Env`` of the same dynamics;
* :mod:`mlagents.rl.ppo` — PPO with a logistic-normal policy over the simplex;
* :mod:`mlagents.rl.primal_dual` — the constrained actor / critic-λ / critic-y agent;
* :mod:`mlagents.rl.dqn` — double DQN over a menu of allocations;
* :mod:`mlagents.rl.evaluation` — train / validation / test splits, walk-forward
  evaluation against baselines, metrics, the promotion gate (validation only);
* :mod:`mlagents.rl.selection` — keeping the best training snapshot by validation score;
* :mod:`mlagents.rl.sizing` — production sizing of a fresh agent for a budget;
* :mod:`mlagents.rl.inference` — loading an artifact and deciding (weights, confidence,
  attribution).
"""
