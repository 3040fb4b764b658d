"""A ``gymnasium.Env`` over the same dynamics as :class:`VecPortfolioEnv`.

It wraps a one-episode :class:`VecPortfolioEnv` in float64, so standard tools
(Stable-Baselines3, gymnasium's env checker) drive exactly our environment. The action
is a vector of ``N + 1`` scores in ``[-1, 1]``; the allocation is
``softmax(logit_scale * action)`` over the assets plus cash, which is always valid.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from mlagents.rl.env import EnvConfig, VecPortfolioEnv


class PortfolioGymEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(
        self,
        returns: np.ndarray,
        config: EnvConfig | None = None,
        *,
        regimes: np.ndarray | None = None,
        logit_scale: float = 5.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self._env = VecPortfolioEnv(
            returns, config, num_envs=1, seed=seed, regimes=regimes, dtype=torch.float64
        )
        self.logit_scale = logit_scale
        self.observation_space = gym.spaces.Box(
            -np.inf, np.inf, shape=(self._env.obs_dim,), dtype=np.float32
        )
        self.action_space = gym.spaces.Box(
            -1.0, 1.0, shape=(self._env.action_dim,), dtype=np.float32
        )

    def allocation(self, action: np.ndarray) -> np.ndarray:
        """The target weights (assets then cash) that ``action`` stands for."""
        z = self.logit_scale * np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        z = np.exp(z - z.max())
        return z / z.sum()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self._env.generator.manual_seed(int(seed))
        start = None if not options or "start" not in options else torch.tensor([options["start"]])
        obs = self._env.reset(start=start)
        return obs[0].numpy().astype(np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        weights = torch.as_tensor(self.allocation(action)).unsqueeze(0)
        obs, reward, done, info = self._env.step(weights)
        out = {
            "portfolio_return": float(info["portfolio_return"][0]),
            "turnover": float(info["turnover"][0]),
            "costs": float(info["costs"][0]),
        }
        # Episodes end by the clock (the panel does not end the world): truncation.
        return obs[0].numpy().astype(np.float32), float(reward[0]), False, bool(done[0]), out
