"""Double DQN (van Hasselt et al., 2016) over a discrete menu of allocations (brief 001).

The agent does not output weights directly: it picks one entry of an
:class:`ActionMenu` — keep the current weights, or move to one strategy's target
(equal weight, inverse volatility, long-only minimum variance, momentum, defensive,
cash), or shift a slice of value between two asset classes. Each entry is computed
from the observation alone (the window of returns and the current weights), so the
menu is as causal as the environment. Replay buffer, target network, a linear ε
schedule and the double-DQN target ``r + γ Q_target(s', argmax_a Q(s', a))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import BinaryIO

import torch
from torch import nn

from mlagents.rl.common import ProgressFn, RunningMeanStd, mlp, seed_everything
from mlagents.rl.env import EnvConfig, VecPortfolioEnv, project_to_simplex


@dataclass(frozen=True)
class DQNConfig:
    """DQN hyperparameters (saved with every trained agent)."""

    total_steps: int = 50_000
    """Environment steps (decisions, summed over envs) to train for."""
    num_envs: int = 16
    """Episodes stepped in parallel."""
    buffer_size: int = 50_000
    """Replay capacity (transitions)."""
    batch_size: int = 128
    """Minibatch size of each gradient step."""
    learning_rate: float = 5e-4
    """Adam step size."""
    gamma: float = 0.95
    """Discount factor."""
    learning_starts: int = 1_000
    """Transitions collected at random before learning (also fit the obs normalisation)."""
    gradient_steps: int = 1
    """Gradient steps per vector step after learning starts."""
    target_update_interval: int = 250
    """Gradient steps between hard copies into the target network."""
    exploration_fraction: float = 0.5
    """Share of training over which ε decays linearly."""
    epsilon_start: float = 1.0
    """Initial ε."""
    epsilon_end: float = 0.05
    """Final ε."""
    hidden: int = 256
    """Width of the two-layer Q network."""
    reward_scale: float = 100.0
    """Rewards are daily-return sized; scaled so the Huber loss sees O(1) targets."""
    max_grad_norm: float = 10.0
    """Gradient-norm clip."""
    double: bool = True
    """Double-DQN target (False: the max of the target network)."""
    class_shift: float = 0.1
    """Share of value moved by an asset-class shift action."""

    @classmethod
    def from_dict(cls, data: dict) -> DQNConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class ActionMenu:
    """The discrete allocations a DQN chooses among, computed from observations.

    ``asset_classes`` (one label per asset) adds "shift ``class_shift`` of value from
    class A to class B" for every ordered pair of distinct classes.
    """

    BASE = ("keep", "equal_weight", "inverse_volatility", "min_variance", "momentum", "defensive", "cash")

    def __init__(
        self, num_assets: int, window: int, asset_classes: Sequence[str] | None = None, shift: float = 0.1
    ) -> None:
        self.num_assets, self.window, self.shift = num_assets, window, shift
        self.asset_classes = list(asset_classes) if asset_classes else []
        classes = sorted(set(self.asset_classes))
        self.pairs = [(a, b) for a in classes for b in classes if a != b] if len(classes) > 1 else []
        self.names = list(self.BASE) + [f"shift {a}->{b}" for a, b in self.pairs]

    def __len__(self) -> int:
        return len(self.names)

    def allocations(self, obs: torch.Tensor) -> torch.Tensor:
        """``(B, obs_dim)`` raw observations -> ``(B, len(menu), N+1)`` allocations."""
        n, w = self.num_assets, self.window
        b = obs.shape[0]
        r = obs[:, : w * n].reshape(b, w, n)
        current = obs[:, w * n + n : w * n + 2 * n + 1]
        cash = torch.zeros(b, n + 1, dtype=obs.dtype)
        cash[:, -1] = 1.0
        equal = torch.cat([torch.full((b, n), 1.0 / n, dtype=obs.dtype), torch.zeros(b, 1, dtype=obs.dtype)], 1)
        vol = r.std(dim=1).clamp_min(1e-4)
        inv = 1.0 / vol
        inv_vol = torch.cat([inv / inv.sum(1, keepdim=True), torch.zeros(b, 1, dtype=obs.dtype)], 1)
        # long-only minimum variance, approximately: Σ⁻¹1 with shrinkage, clipped at zero
        centred = r - r.mean(dim=1, keepdim=True)
        cov = centred.transpose(1, 2) @ centred / max(w - 1, 1)
        diag = torch.diag_embed(torch.diagonal(cov, dim1=1, dim2=2))
        cov = 0.5 * cov + 0.5 * diag + 1e-8 * torch.eye(n, dtype=obs.dtype)
        raw_mv = torch.linalg.solve(cov, torch.ones(b, n, 1, dtype=obs.dtype)).squeeze(-1)
        min_var = project_to_simplex(torch.cat([raw_mv, torch.zeros(b, 1, dtype=obs.dtype)], 1))
        cum = (1.0 + r).prod(dim=1) - 1.0
        k = max(1, n // 2)
        top = torch.zeros(b, n, dtype=obs.dtype).scatter_(1, torch.topk(cum, k, dim=1).indices, 1.0 / k)
        momentum = torch.cat([top, torch.zeros(b, 1, dtype=obs.dtype)], 1)
        defensive = 0.5 * equal + 0.5 * cash
        menu = [current, equal, inv_vol, min_var, momentum, defensive, cash]
        for a, c in self.pairs:
            menu.append(self._shift(current, a, c))
        return torch.stack(menu, dim=1)

    def _shift(self, current: torch.Tensor, src: str, dst: str) -> torch.Tensor:
        dt = current.dtype
        src_mask = torch.tensor([c == src for c in self.asset_classes] + [False], dtype=dt)
        dst_mask = torch.tensor([c == dst for c in self.asset_classes] + [False], dtype=dt)
        in_src = (current * src_mask).sum(1, keepdim=True)
        moved = torch.minimum(in_src, torch.full_like(in_src, self.shift))
        taken = current * src_mask * (moved / in_src.clamp_min(1e-12))
        in_dst = (current * dst_mask).sum(1, keepdim=True)
        share = torch.where(
            in_dst > 1e-12, current * dst_mask / in_dst.clamp_min(1e-12), dst_mask / dst_mask.sum()
        )
        return current - taken + moved * share


class ReplayBuffer:
    """Preallocated circular buffer of transitions (raw observations)."""

    def __init__(self, capacity: int, obs_dim: int) -> None:
        self.obs = torch.zeros(capacity, obs_dim)
        self.next_obs = torch.zeros(capacity, obs_dim)
        self.actions = torch.zeros(capacity, dtype=torch.long)
        self.rewards = torch.zeros(capacity)
        self.dones = torch.zeros(capacity)
        self.capacity, self.pos, self.size = capacity, 0, 0

    def add(self, obs, actions, rewards, next_obs, dones) -> None:
        n = obs.shape[0]
        idx = (torch.arange(n) + self.pos) % self.capacity
        self.obs[idx], self.next_obs[idx] = obs.float(), next_obs.float()
        self.actions[idx], self.rewards[idx], self.dones[idx] = actions, rewards.float(), dones.float()
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator):
        idx = torch.randint(0, self.size, (batch_size,), generator=generator)
        return self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx], self.dones[idx]


class DQNAgent:
    algorithm = "dqn"

    def __init__(
        self,
        num_assets: int,
        obs_dim: int,
        config: DQNConfig | None = None,
        env_config: EnvConfig | None = None,
        *,
        asset_classes: Sequence[str] | None = None,
        seed: int = 0,
    ) -> None:
        self.config = config or DQNConfig()
        self.env_config = env_config or EnvConfig()
        self.seed = seed
        seed_everything(seed)
        self.num_assets, self.obs_dim = num_assets, obs_dim
        self.menu = ActionMenu(num_assets, self.env_config.window, asset_classes, self.config.class_shift)
        self.q = mlp(obs_dim, self.config.hidden, len(self.menu), act=nn.ReLU)
        self.q_target = mlp(obs_dim, self.config.hidden, len(self.menu), act=nn.ReLU)
        self.q_target.load_state_dict(self.q.state_dict())
        self.optimizer = torch.optim.Adam(self.q.parameters(), lr=self.config.learning_rate)
        self.obs_rms = RunningMeanStd(obs_dim)
        self.meta: dict = {}
        self.global_step = 0

    def normalize(self, obs: torch.Tensor) -> torch.Tensor:
        return self.obs_rms.normalize(obs.float()).float()

    def policy_logits(self, obs_normalized: torch.Tensor) -> torch.Tensor:
        return self.q(obs_normalized)

    @torch.no_grad()
    def choose(self, obs: torch.Tensor) -> torch.Tensor:
        """Greedy menu index for each observation."""
        return self.q(self.normalize(obs)).argmax(dim=1)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:  # noqa: ARG002 - Agent.act; greedy always
        choice = self.choose(obs)
        alloc = self.menu.allocations(obs.float())
        return alloc[torch.arange(obs.shape[0]), choice]

    def epsilon(self, step: int) -> float:
        c = self.config
        span = max(c.exploration_fraction * c.total_steps, 1.0)
        return max(c.epsilon_end, c.epsilon_start + (c.epsilon_end - c.epsilon_start) * step / span)

    def train(self, env: VecPortfolioEnv, *, progress: ProgressFn | None = None) -> list[dict]:
        c = self.config
        gen = torch.Generator().manual_seed(self.seed)
        buffer = ReplayBuffer(min(c.buffer_size, max(c.total_steps, 1)), self.obs_dim)
        history: list[dict] = []
        obs = env.reset()
        n = env.num_envs
        warm: list[torch.Tensor] = [obs]
        running = torch.zeros(n)
        episode_rewards: list[float] = []
        grad_steps = 0
        loss = torch.tensor(float("nan"))
        num_iters = max(c.total_steps // n, 1)
        for it in range(1, num_iters + 1):
            eps = self.epsilon(self.global_step)
            with torch.no_grad():
                random_a = torch.randint(0, len(self.menu), (n,), generator=gen)
                if self.global_step < c.learning_starts:
                    actions = random_a
                else:
                    greedy = self.q(self.normalize(obs)).argmax(dim=1)
                    explore = torch.rand(n, generator=gen) < eps
                    actions = torch.where(explore, random_a, greedy)
                alloc = self.menu.allocations(obs.float())[torch.arange(n), actions]
                next_obs, reward, done, _ = env.step(alloc)
            running += reward.float()
            # episodes end by the clock only: truncation, so the target still bootstraps
            buffer.add(obs, actions, reward * c.reward_scale, next_obs, torch.zeros(n))
            if done.any():
                episode_rewards.extend(running[done].tolist())
                running[done] = 0.0
                next_obs = env.reset()
            obs = next_obs
            self.global_step += n
            if self.global_step < c.learning_starts:
                warm.append(obs)
                continue
            if warm:
                self.obs_rms.update(torch.cat(warm))  # fit once on the random warm-up, then freeze
                warm = []
            for _ in range(c.gradient_steps):
                loss = self._gradient_step(buffer, gen)
                grad_steps += 1
                if grad_steps % c.target_update_interval == 0:
                    self.q_target.load_state_dict(self.q.state_dict())
            if it % 10 == 0 or it == num_iters:
                stats = {
                    "global_step": self.global_step,
                    "epsilon": eps,
                    "loss": float(loss),
                    "episode_reward": sum(episode_rewards[-n:]) / max(len(episode_rewards[-n:]), 1),
                }
                history.append(stats)
                if progress:
                    progress(it / num_iters, stats)
        if warm:
            self.obs_rms.update(torch.cat(warm))
        return history

    def _gradient_step(self, buffer: ReplayBuffer, gen: torch.Generator) -> torch.Tensor:
        c = self.config
        obs, actions, rewards, next_obs, dones = buffer.sample(c.batch_size, gen)
        obs_n, next_n = self.normalize(obs), self.normalize(next_obs)
        with torch.no_grad():
            next_q_target = self.q_target(next_n)
            if c.double:
                best = self.q(next_n).argmax(dim=1, keepdim=True)
                next_v = next_q_target.gather(1, best).squeeze(1)
            else:
                next_v = next_q_target.max(dim=1).values
            target = rewards + c.gamma * (1.0 - dones) * next_v
        q = self.q(obs_n).gather(1, actions.unsqueeze(1)).squeeze(1)
        loss = nn.functional.smooth_l1_loss(q, target)
        self.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.q.parameters(), c.max_grad_norm)
        self.optimizer.step()
        return loss.detach()

    # --------------------------------------------------------- persistence
    def save(self, path: str | Path | BinaryIO) -> None:
        if isinstance(path, str | Path):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "algorithm": self.algorithm,
                "num_assets": self.num_assets,
                "obs_dim": self.obs_dim,
                "seed": self.seed,
                "asset_classes": self.menu.asset_classes,
                "config": asdict(self.config),
                "env_config": self.env_config.to_dict(),
                "q": self.q.state_dict(),
                "q_target": self.q_target.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "obs_rms": self.obs_rms.state_dict(),
                "global_step": self.global_step,
                "meta": self.meta,
            },
            path,
        )

    @classmethod
    def load(cls, path: str | Path | BinaryIO) -> DQNAgent:
        d = torch.load(path, map_location="cpu", weights_only=True)
        agent = cls(
            d["num_assets"], d["obs_dim"], DQNConfig.from_dict(d["config"]),
            EnvConfig.from_dict(d["env_config"]), asset_classes=d["asset_classes"] or None, seed=d["seed"],
        )
        agent.q.load_state_dict(d["q"])
        agent.q_target.load_state_dict(d["q_target"])
        agent.optimizer.load_state_dict(d["optimizer"])
        agent.obs_rms.load_state_dict(d["obs_rms"])
        agent.global_step = d["global_step"]
        agent.meta = d.get("meta", {})
        return agent
