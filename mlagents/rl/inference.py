"""Serving a trained agent: load an artifact, build the observation from market history,
decide target weights with a confidence and a gradient attribution of the inputs.

Confidence per algorithm:

* PPO — ``1 - E[TV(sample, mean allocation)]`` over 64 policy samples (seeded): how
  little the stochastic policy strays from the allocation it serves;
* primal-dual — critic-y's probability that the investor executes the recommendation;
* DQN — the softmax probability of the chosen menu entry under the Q-values.

Attribution is gradient × input on the normalised observation (Simonyan et al., 2014;
Shrikumar et al., 2016) of the decisive output — the score of the asset the agent
over-weights most relative to equal weight (PPO, primal-dual) or the chosen Q-value
(DQN) — summed into groups: each asset's recent returns and volatility, the current
weights, value/drawdown, and the regime probabilities.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from mlagents.rl.dqn import DQNAgent
from mlagents.rl.env import EnvConfig
from mlagents.rl.ppo import PPOAgent
from mlagents.rl.primal_dual import PrimalDualAgent

Agent = PPOAgent | PrimalDualAgent | DQNAgent
AGENT_CLASSES: dict[str, type[Agent]] = {"ppo": PPOAgent, "primal_dual": PrimalDualAgent, "dqn": DQNAgent}


class InferenceError(ValueError):
    """The history or weights given cannot feed the agent."""


def load_agent(source: str | Path | BinaryIO) -> Agent:
    """Load any saved agent from a path or a binary file; the artifact names its algorithm."""
    data = Path(source).read_bytes() if isinstance(source, str | Path) else source.read()
    algorithm = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)["algorithm"]
    try:
        cls = AGENT_CLASSES[algorithm]
    except KeyError:
        raise InferenceError(f"unknown algorithm {algorithm!r} in the artifact") from None
    return cls.load(io.BytesIO(data))


@dataclass(frozen=True)
class AgentDecision:
    weights: np.ndarray
    """Target weights over the assets, then cash (sums to one)."""
    confidence: float
    attribution: dict[str, float]
    """Input group -> share of the absolute gradient × input (sums to one)."""
    action_name: str | None = None
    """DQN: the menu entry chosen."""


def build_observation(
    returns: np.ndarray,
    current_weights: np.ndarray,
    env_config: EnvConfig,
    *,
    regimes: np.ndarray | None = None,
) -> torch.Tensor:
    """``(1, obs_dim)`` observation from daily returns ``(T, N)`` ending today.

    The value ratio is taken as 1 and the drawdown is that of the current allocation
    over the last episode's worth of days (the serving-time analogue of the episode).
    """
    r = np.asarray(returns, dtype=np.float64)
    w = np.asarray(current_weights, dtype=np.float64)
    need = max(env_config.window, env_config.vol_window)
    if r.ndim != 2 or r.shape[0] < need or not np.isfinite(r[-need:]).all():
        raise InferenceError(f"need at least {need} days of finite returns for every asset")
    n = r.shape[1]
    if w.shape != (n + 1,) or (w < -1e-9).any() or abs(w.sum() - 1.0) > 1e-6:
        raise InferenceError("current weights must be N+1 non-negative values (assets, cash) summing to 1")
    window = r[-env_config.window :].reshape(-1)
    vol = r[-env_config.vol_window :].std(axis=0, ddof=1)
    horizon = env_config.episode_length * env_config.decision_interval
    path = np.cumprod(1.0 + r[-horizon:] @ w[:-1])
    drawdown = float(1.0 - path[-1] / max(path.max(), 1.0))
    parts = [window, vol, w, [1.0, drawdown]]
    if regimes is not None:
        parts.append(np.asarray(regimes, dtype=np.float64))
    return torch.as_tensor(np.concatenate(parts), dtype=torch.float32).unsqueeze(0)


def _groups(symbols: Sequence[str], cfg: EnvConfig, obs_dim: int) -> list[tuple[str, np.ndarray]]:
    n = len(symbols)
    idx = np.arange(obs_dim)
    groups = []
    for i, s in enumerate(symbols):
        cols = [*range(i, cfg.window * n, n), cfg.window * n + i]
        groups.append((f"{s} returns & volatility", np.array(cols)))
    start = cfg.window * n + n
    groups.append(("current weights", idx[start : start + n + 1]))
    groups.append(("value & drawdown", idx[start + n + 1 : start + n + 3]))
    if obs_dim > start + n + 3:
        groups.append(("regime", idx[start + n + 3 :]))
    return groups


def decide(
    agent: Agent,
    returns: np.ndarray,
    current_weights: np.ndarray,
    symbols: Sequence[str],
    *,
    regimes: np.ndarray | None = None,
) -> AgentDecision:
    """Target weights, confidence and attribution for one portfolio."""
    obs = build_observation(returns, current_weights, agent.env_config, regimes=regimes)
    if obs.shape[1] != agent.obs_dim:
        raise InferenceError(
            f"the agent was trained on {agent.obs_dim} inputs; this universe gives {obs.shape[1]}"
        )
    action_name = None
    x = agent.normalize(obs).detach().requires_grad_(True)
    out = agent.policy_logits(x)
    if isinstance(agent, DQNAgent):
        weights = agent.act(obs)
        choice = int(out.argmax(dim=1))
        action_name = agent.menu.names[choice]
        confidence = float(torch.softmax(out.detach(), dim=1)[0, choice])
        target = out[0, choice]
    else:
        weights = torch.softmax(out.detach(), dim=1)
        w = weights[0, :-1]
        focus = int(torch.argmax(w - 1.0 / len(w)))
        target = out[0, focus]
        if isinstance(agent, PPOAgent):
            gen = torch.Generator().manual_seed(0)
            mean = out.detach()
            noise = torch.randn((64, mean.shape[1]), generator=gen) * agent.net.log_std.detach().exp()
            samples = torch.softmax(mean + noise, dim=1)
            tv = 0.5 * (samples - weights).abs().sum(dim=1).mean()
            confidence = float(1.0 - tv)
        else:
            confidence = float(agent.execution_probability(obs, weights)[0])
    # gradient w.r.t. the input only: no weight gradients computed or accumulated
    (grad,) = torch.autograd.grad(target, x)
    contrib = (grad * x).detach().abs()[0].numpy()
    total = float(contrib.sum()) or 1.0
    attribution = {
        name: float(contrib[cols].sum() / total) for name, cols in _groups(symbols, agent.env_config, agent.obs_dim)
    }
    return AgentDecision(weights[0].double().numpy(), confidence, attribution, action_name)
