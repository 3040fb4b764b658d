"""Proximal Policy Optimization (Schulman et al., 2017) for portfolio allocation.

Reads top to bottom like CleanRL's ``ppo_continuous_action.py``: a config dataclass,
the actor-critic network, rollout collection into preallocated ``(num_steps,
num_envs)`` tensors, GAE, and the clipped-surrogate update.

The policy is *logistic-normal*: a Gaussian over ``N + 1`` scores whose softmax is the
allocation (assets then cash), so every sample is a valid set of weights and the
log-probability is the Gaussian's (the softmax is a fixed post-processing of the
sampled scores, which we store). The deterministic action is ``softmax(mean)``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from torch import nn

from mlagents.rl.common import (
    FastTanh,
    ProgressFn,
    RunningMeanStd,
    bf16_native,
    layer_init,
    seed_everything,
)
from mlagents.rl.env import EnvConfig, VecPortfolioEnv


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters (saved with every trained agent)."""

    total_timesteps: int = 200_000
    """Environment steps (decisions, summed over envs) to train for."""
    num_envs: int = 256
    """Episodes stepped in parallel by the vectorized environment. Many envs make each
    rollout one batched tensor step for all of them, and each update a few large matrix
    products instead of many small ones (docs/benchmarks/rl.md)."""
    num_steps: int = 64
    """Steps per env per rollout; batch size = num_envs * num_steps."""
    learning_rate: float = 3e-4
    """Adam step size (annealed linearly to zero when anneal_lr)."""
    anneal_lr: bool = True
    """Linearly decay the learning rate over training."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE λ (Schulman et al., 2016)."""
    num_minibatches: int = 2
    """Minibatches per epoch."""
    update_epochs: int = 2
    """Passes over each rollout (large rollouts need fewer passes; measured in
    bench/bench_rl_throughput.py: 2 x 2 learns as well per step as 4 x 4 and costs half)."""
    clip_coef: float = 0.2
    """Surrogate clipping ε."""
    ent_coef: float = 0.001
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip."""
    hidden: int = 256
    """Width of the shared MLP (two layers)."""
    init_log_std: float = 0.0
    """Initial log standard deviation of the Gaussian over scores (std 1 explores enough
    to find a dominant asset on the toy market; 0.5 drowns the signal in trading costs)."""
    reward_scale: float = 100.0
    """Rewards are daily-return sized (1e-3); scaling them keeps the value loss useful."""
    checkpoint_every: int = 0
    """Save a checkpoint every this many updates (0 = never)."""
    bf16_training: bool = True
    """During training (rollouts and updates) run the trunk's matrix products in bfloat16
    under autocast — about twice as fast — while the heads, log-probabilities, losses, the
    float32 master weights and Adam stay float32. Only on CPUs with native bfloat16
    (AVX512-BF16 or AMX; elsewhere it would be slower, so float32 is used). Acting with a
    trained agent (:meth:`PPOAgent.act`, the autopilot) is always float32."""

    @classmethod
    def from_dict(cls, data: dict) -> PPOConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class ActorCritic(nn.Module):
    """Shared MLP trunk with a policy-mean head, a state-independent log-std and a value head."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: int = 256, init_log_std: float = -0.5):
        super().__init__()
        self.trunk = nn.Sequential(
            layer_init(nn.Linear(obs_dim, hidden)),
            FastTanh(),
            layer_init(nn.Linear(hidden, hidden)),
            FastTanh(),
        )
        self.mean = layer_init(nn.Linear(hidden, action_dim), std=0.01)
        self.value = layer_init(nn.Linear(hidden, 1), std=1.0)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(init_log_std)))

    def _features(self, obs: torch.Tensor, bf16: bool) -> torch.Tensor:
        """The trunk's output (float32); ``bf16`` runs it under bfloat16 autocast."""
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            h = self.trunk(obs)
        return h.float()

    def forward(self, obs: torch.Tensor, bf16: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Policy mean and value."""
        h = self._features(obs, bf16)
        return self.mean(h), self.value(h).squeeze(-1)

    def get_value(self, obs: torch.Tensor, bf16: bool = False) -> torch.Tensor:
        return self.value(self._features(obs, bf16)).squeeze(-1)

    def dist(self, obs: torch.Tensor, bf16: bool = False) -> tuple[torch.distributions.Normal, torch.Tensor]:
        mean, value = self(obs, bf16)
        std = self.log_std.exp().expand_as(mean)
        return torch.distributions.Normal(mean, std, validate_args=False), value


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    ends: torch.Tensor,
    next_value: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimation over ``(num_steps, num_envs)`` tensors.

    ``ends[t]`` is 1 where the episode ended after step ``t`` (its reward already
    carries any bootstrap for truncation). Returns ``(advantages, returns)``.
    """
    num_steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(next_value)
    for t in reversed(range(num_steps)):
        nxt = next_value if t == num_steps - 1 else values[t + 1]
        live = 1.0 - ends[t]
        delta = rewards[t] + gamma * nxt * live - values[t]
        last = delta + gamma * gae_lambda * live * last
        advantages[t] = last
    return advantages, advantages + values


@dataclass(frozen=True)
class _Rollout:
    """One rollout's preallocated ``(num_steps, num_envs[, dim])`` tensors, refilled in place."""

    obs: torch.Tensor
    """Normalised observations the actions were taken on."""
    raw: torch.Tensor
    """Sampled Gaussian scores (the softmax of a row is the allocation)."""
    logp: torch.Tensor
    """Log-probability of ``raw`` under the rollout's policy."""
    rewards: torch.Tensor
    """Scaled rewards, with the truncation bootstrap on each episode's last step."""
    ends: torch.Tensor
    """1 where the episode ended after the step."""
    values: torch.Tensor
    """Value estimates of ``obs``."""

    @classmethod
    def zeros(cls, num_steps: int, num_envs: int, obs_dim: int, action_dim: int) -> _Rollout:
        return cls(
            torch.zeros(num_steps, num_envs, obs_dim),
            torch.zeros(num_steps, num_envs, action_dim),
            torch.zeros(num_steps, num_envs),
            torch.zeros(num_steps, num_envs),
            torch.zeros(num_steps, num_envs),
            torch.zeros(num_steps, num_envs),
        )


@dataclass(frozen=True)
class _Batch:
    """A rollout flattened to ``(num_steps * num_envs, ...)`` for minibatch updates."""

    obs: torch.Tensor
    raw: torch.Tensor
    logp: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor


@dataclass
class _Episodes:
    """Unscaled returns of the episodes in progress and of those that ended."""

    running: torch.Tensor
    """``(num_envs,)`` return so far of each env's current episode."""
    finished: list[float] = field(default_factory=list)

    def end(self, done: torch.Tensor) -> None:
        self.finished.extend(self.running[done].tolist())
        self.running[done] = 0.0

    def mean_reward(self, *, last: int) -> float:
        """Mean return of the ``last`` episodes that ended (NaN before the first ends)."""
        return float(np.mean(self.finished[-last:])) if self.finished else float("nan")


@dataclass(frozen=True)
class _UpdateLosses:
    """The last minibatch's losses of an update and every minibatch's clip fraction."""

    policy_loss: torch.Tensor
    value_loss: torch.Tensor
    entropy: torch.Tensor
    approx_kl: torch.Tensor
    clipfracs: list[float]

    def to_stats(self) -> dict[str, float]:
        return {
            "policy_loss": float(self.policy_loss.detach()),
            "value_loss": float(self.value_loss.detach()),
            "entropy": float(self.entropy.detach()),
            "approx_kl": float(self.approx_kl),
            "clip_fraction": float(np.mean(self.clipfracs)) if self.clipfracs else 0.0,
        }


def _explained_variance(returns: torch.Tensor, values: torch.Tensor) -> float:
    """``1 - Var(returns - values) / Var(returns)`` (NaN when the returns are constant)."""
    var_y = returns.var()
    return float("nan") if var_y == 0 else float(1 - (returns - values).var() / var_y)


class PPOAgent:
    algorithm = "ppo"

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        config: PPOConfig | None = None,
        env_config: EnvConfig | None = None,
        *,
        seed: int = 0,
    ) -> None:
        self.config = config or PPOConfig()
        self.env_config = env_config or EnvConfig()
        self.seed = seed
        seed_everything(seed)
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.net = ActorCritic(obs_dim, action_dim, self.config.hidden, self.config.init_log_std)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=self.config.learning_rate, eps=1e-5)
        self.obs_rms = RunningMeanStd(obs_dim)
        self.meta: dict = {}
        self.global_step = 0

    # -------------------------------------------------------------- acting
    def normalize(self, obs: torch.Tensor) -> torch.Tensor:
        return self.obs_rms.normalize(obs.float()).float()

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        """Target weights ``(B, N+1)`` for raw observations ``(B, obs_dim)``."""
        mean, _ = self.net(self.normalize(obs))
        if deterministic:
            return torch.softmax(mean, dim=-1)
        return torch.softmax(mean + self.net.log_std.exp() * torch.randn_like(mean), dim=-1)

    def policy_logits(self, obs_normalized: torch.Tensor) -> torch.Tensor:
        """Differentiable deterministic scores (used for gradient attribution)."""
        return self.net(obs_normalized)[0]

    # ------------------------------------------------------------ training
    def train(
        self,
        env: VecPortfolioEnv,
        *,
        progress: ProgressFn | None = None,
        checkpoint_dir: str | Path | None = None,
    ) -> list[dict]:
        """Train on ``env`` for ``config.total_timesteps``; return per-update statistics."""
        cfg = self.config
        batch_size = env.num_envs * cfg.num_steps
        bf16 = cfg.bf16_training and bf16_native()
        num_updates = max(cfg.total_timesteps // batch_size, 1)
        rollout = _Rollout.zeros(cfg.num_steps, env.num_envs, self.obs_dim, self.action_dim)
        history: list[dict] = []
        obs = self._observe(env.reset())
        episodes = _Episodes(torch.zeros(env.num_envs))
        started = time.perf_counter()
        for update in range(1, num_updates + 1):
            if cfg.anneal_lr:
                self.optimizer.param_groups[0]["lr"] = (1.0 - (update - 1.0) / num_updates) * cfg.learning_rate
            obs, advantages, returns = self._rollout_collect(env, obs, rollout, episodes, bf16)
            self.global_step += batch_size
            losses = self._update(rollout, advantages, returns, bf16)
            stats = {
                "update": update,
                "global_step": self.global_step,
                **losses.to_stats(),
                "explained_variance": _explained_variance(returns.reshape(-1), rollout.values.reshape(-1)),
                "episode_reward": episodes.mean_reward(last=env.num_envs),
                "steps_per_second": self.global_step / max(time.perf_counter() - started, 1e-9),
            }
            history.append(stats)
            if checkpoint_dir and cfg.checkpoint_every and update % cfg.checkpoint_every == 0:
                self.save(Path(checkpoint_dir) / f"ppo_update_{update:05d}.pt")
            if progress:
                progress(update / num_updates, stats)
        return history

    def _observe(self, raw_obs: torch.Tensor) -> torch.Tensor:
        """Fold raw observations into the running statistics; return them normalised."""
        self.obs_rms.update(raw_obs)
        return self.normalize(raw_obs)

    @torch.no_grad()
    def _rollout_collect(
        self, env: VecPortfolioEnv, obs: torch.Tensor, rollout: _Rollout, episodes: _Episodes, bf16: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Step ``env`` ``num_steps`` times from ``obs`` into ``rollout``; return the next
        normalised observation and the GAE advantages and returns."""
        cfg = self.config
        for step in range(cfg.num_steps):
            dist, value = self.net.dist(obs, bf16)
            raw = dist.sample()
            rollout.obs[step], rollout.raw[step] = obs, raw
            rollout.logp[step], rollout.values[step] = dist.log_prob(raw).sum(-1), value
            raw_obs, reward, done, _ = env.step(torch.softmax(raw, dim=-1))
            episodes.running += reward.float()
            reward = reward.float() * cfg.reward_scale
            if done.any():
                # time-limit truncation: bootstrap with the value of the last state
                terminal = self.normalize(raw_obs)
                reward = reward + cfg.gamma * self.net.get_value(terminal, bf16) * done.float()
                episodes.end(done)
                # every env starts together with the same length, so all end together
                raw_obs = env.reset()
            rollout.rewards[step], rollout.ends[step] = reward, done.float()
            obs = self._observe(raw_obs)
        next_value = self.net.get_value(obs, bf16)
        advantages, returns = compute_gae(
            rollout.rewards, rollout.values, rollout.ends, next_value, cfg.gamma, cfg.gae_lambda
        )
        return obs, advantages, returns

    def _update(
        self, rollout: _Rollout, advantages: torch.Tensor, returns: torch.Tensor, bf16: bool
    ) -> _UpdateLosses:
        """``update_epochs`` passes of clipped-surrogate minibatch steps over one rollout."""
        cfg = self.config
        batch_size = rollout.rewards.numel()
        minibatch_size = max(batch_size // cfg.num_minibatches, 1)
        b_obs = rollout.obs.reshape(-1, self.obs_dim)
        if bf16:  # cast once per update, not once per minibatch
            b_obs = b_obs.to(torch.bfloat16)
        batch = _Batch(
            b_obs, rollout.raw.reshape(-1, self.action_dim), rollout.logp.reshape(-1), advantages.reshape(-1),
            returns.reshape(-1),
        )
        zero = torch.tensor(0.0)
        losses = _UpdateLosses(zero, zero, zero, torch.tensor(0.0), [])
        for _epoch in range(cfg.update_epochs):
            perm = torch.randperm(batch_size)
            for start in range(0, batch_size, minibatch_size):
                losses = self._minibatch_step(batch, perm[start : start + minibatch_size], bf16, losses.clipfracs)
        return losses

    def _minibatch_step(self, batch: _Batch, mb: torch.Tensor, bf16: bool, clipfracs: list[float]) -> _UpdateLosses:
        """One Adam step on the PPO loss of minibatch ``mb`` (indices into ``batch``)."""
        cfg = self.config
        # index_select: ~5x faster than advanced indexing for row gathers
        dist, new_value = self.net.dist(batch.obs.index_select(0, mb), bf16)
        new_logp = dist.log_prob(batch.raw.index_select(0, mb)).sum(-1)
        entropy = dist.entropy().sum(-1).mean()
        log_ratio = new_logp - batch.logp.index_select(0, mb)
        ratio = log_ratio.exp()
        with torch.no_grad():
            approx_kl = ((ratio - 1) - log_ratio).mean()
            clipfracs.append(((ratio - 1.0).abs() > cfg.clip_coef).float().mean().item())
        mb_adv = batch.advantages.index_select(0, mb)
        mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
        pg_loss = torch.max(
            -mb_adv * ratio,
            -mb_adv * torch.clamp(ratio, 1 - cfg.clip_coef, 1 + cfg.clip_coef),
        ).mean()
        v_loss = 0.5 * ((new_value - batch.returns.index_select(0, mb)) ** 2).mean()
        loss = pg_loss - cfg.ent_coef * entropy + cfg.vf_coef * v_loss
        self.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        return _UpdateLosses(pg_loss, v_loss, entropy, approx_kl, clipfracs)

    # --------------------------------------------------------- persistence
    def save(self, path: str | Path | BinaryIO) -> None:
        """Weights, optimizer state, hyperparameters, env config and obs statistics."""
        if isinstance(path, str | Path):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "algorithm": self.algorithm,
                "obs_dim": self.obs_dim,
                "action_dim": self.action_dim,
                "seed": self.seed,
                "config": asdict(self.config),
                "env_config": self.env_config.to_dict(),
                "state_dict": self.net.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "obs_rms": self.obs_rms.state_dict(),
                "global_step": self.global_step,
                "meta": self.meta,
            },
            path,
        )

    @classmethod
    def load(cls, path: str | Path | BinaryIO) -> PPOAgent:
        data = torch.load(path, map_location="cpu", weights_only=True)
        agent = cls(
            data["obs_dim"],
            data["action_dim"],
            PPOConfig.from_dict(data["config"]),
            EnvConfig.from_dict(data["env_config"]),
            seed=data["seed"],
        )
        agent.net.load_state_dict(data["state_dict"])
        agent.optimizer.load_state_dict(data["optimizer"])
        agent.obs_rms.load_state_dict(data["obs_rms"])
        agent.global_step = data["global_step"]
        agent.meta = data.get("meta", {})
        agent.net.eval()
        return agent
