"""Primal-dual constrained agent (brief 000): actor, critic-λ, critic-y, augmented Lagrangian.

* **Actor** — an LSTM over the window of asset returns (brief 000) whose last hidden
  state, with the portfolio features (volatility, weights, cash, value, drawdown,
  regimes), feeds an MLP whose softmax is the allocation.
* **Critic-λ** — ``Softplus`` head: non-negative Lagrange multipliers ``λ(s, a)`` for
  three constraints: tail risk (CVaR of daily losses), turnover (a liquidity proxy) and
  concentration (largest asset weight).
* **Critic-y** — ``Sigmoid`` head: probability that the investor executes a
  recommendation, learned from observed executions (in training a simulated investor
  who balks at large trades; in production the approvals of advise mode). The actor is
  the Stackelberg leader: it optimises the *expected* allocation
  ``q·a + (1-q)·w`` given the predicted execution probability ``q``.
* **Augmented Lagrangian** ``L = -f + λᵀg + (ρ/2)‖max(g, 0)‖²`` with primal descent on
  the actor, dual ascent on critic-λ and an adaptive penalty ``ρ`` (×growth while
  violations persist).

Because the environment's dynamics are differentiable torch ops of the weights, the
actor is trained by back-propagating the episode objective through the simulated
trajectory (a deterministic policy gradient through known dynamics, as in Jiang et al.,
2017) rather than by a score-function estimator: far lower variance for the same data.

Constraint residuals ``g`` are normalised by their limits (``g = value / limit - 1``),
so a residual of 0.1 means 10 % beyond the limit; ``g > 0`` is a violation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import BinaryIO

import torch
from torch import nn

from mlagents.rl.common import ProgressFn, RunningMeanStd, seed_everything
from mlagents.rl.env import EnvConfig, VecPortfolioEnv

CONSTRAINTS = ("cvar", "turnover", "concentration")


@dataclass(frozen=True)
class PrimalDualConfig:
    """Primal-dual agent hyperparameters (saved with every trained agent)."""

    iterations: int = 300
    """Training iterations (one batch of episodes each)."""
    num_envs: int = 64
    """Episodes per iteration."""
    hidden: int = 64
    """LSTM and head width."""
    learning_rate: float = 1e-3
    """Actor Adam step size (primal descent)."""
    lambda_learning_rate: float = 1e-3
    """Critic-λ Adam step size (dual ascent)."""
    y_learning_rate: float = 1e-3
    """Critic-y Adam step size."""
    rho_init: float = 1.0
    """Initial augmented-Lagrangian penalty ρ."""
    rho_growth: float = 1.05
    """Factor applied to ρ after an iteration whose violation rate exceeds the tolerance."""
    rho_max: float = 100.0
    """Cap on ρ."""
    violation_tolerance: float = 0.01
    """Violation rate above which ρ grows."""
    cvar_alpha: float = 0.95
    """CVaR confidence level (tail of the 1 - α worst daily losses)."""
    cvar_limit: float = 0.03
    """Limit on the daily-loss CVaR over an episode (3 %)."""
    max_turnover: float = 0.5
    """Limit on the sum of absolute weight changes per decision."""
    max_weight: float = 0.4
    """Limit on any single asset's weight."""
    exempt_first_trade: bool = False
    """Leave each episode's first decision out of the turnover constraint: it builds the
    portfolio from the initial allocation (cash), which no turnover limit meant to forbid —
    the evaluation exempts it too. Needed for a tight ``max_turnover``."""
    use_multipliers: bool = True
    """False trains the same actor on the reward alone (the ablation the tests compare)."""
    use_execution_model: bool = True
    """Optimise the expected allocation under critic-y's execution probability."""
    investor_bias: float = 3.0
    """Simulated investor: P(execute) = sigmoid(bias - aversion * turnover)."""
    investor_turnover_aversion: float = 4.0
    """Simulated investor's aversion to large trades."""
    reward_scale: float = 100.0
    """Rewards are daily-return sized; scaled so the objective and residuals are comparable."""
    max_grad_norm: float = 0.5
    """Gradient-norm clip for every network."""
    warmup_steps: int = 512
    """Random-policy steps used to fit the observation normalisation."""

    @classmethod
    def from_dict(cls, data: dict) -> PrimalDualConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class LSTMActor(nn.Module):
    def __init__(self, num_assets: int, window: int, extra_dim: int, hidden: int):
        super().__init__()
        self.num_assets, self.window = num_assets, window
        self.lstm = nn.LSTM(num_assets, hidden, batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(hidden + extra_dim, hidden), nn.Tanh(), nn.Linear(hidden, num_assets + 1)
        )

    def encode(self, windows: torch.Tensor) -> torch.Tensor:
        """``(M, window, N)`` normalised returns -> ``(M, hidden)`` last hidden state."""
        out, _ = self.lstm(windows)
        return out[:, -1]

    def logits(self, encoding: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([encoding, extra], dim=-1))

    def forward(self, obs_normalized: torch.Tensor) -> torch.Tensor:
        """Allocation logits from a flat normalised observation ``(B, obs_dim)``."""
        wn = self.window * self.num_assets
        windows = obs_normalized[:, :wn].reshape(-1, self.window, self.num_assets)
        return self.logits(self.encode(windows), obs_normalized[:, wn:])


class CriticLambda(nn.Module):
    """λ(s, a) ≥ 0 for each constraint (Softplus)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: int, num_constraints: int = 3):
        super().__init__()
        head = nn.Linear(hidden, num_constraints)
        self.net = nn.Sequential(nn.Linear(obs_dim + action_dim, hidden), nn.ReLU(), head, nn.Softplus())
        # start the multipliers near zero (softplus(-3) ≈ 0.05): dual ascent raises them
        nn.init.constant_(head.bias, -3.0)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, action], dim=-1))


class CriticY(nn.Module):
    """q(s, a) in [0, 1]: probability that the investor executes the recommendation.

    It sees the portfolio part of the state (volatilities, weights, value, drawdown,
    regimes) — not the raw window of daily returns — plus the recommendation, the trade
    and its size: investors react to how much changes and how stressed the market is,
    and a few hundred approvals cannot teach a function of hundreds of raw returns
    (it would memorise the days instead).
    """

    def __init__(self, obs_dim: int, action_dim: int, hidden: int, skip: int = 0):
        super().__init__()
        self.skip = skip
        self.net = nn.Sequential(
            nn.Linear(obs_dim - skip + 2 * action_dim + 1, hidden), nn.ReLU(), nn.Linear(hidden, 1), nn.Sigmoid()
        )
        self.action_dim = action_dim

    def forward(self, obs: torch.Tensor, action: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        trade = action - current
        size = trade[:, :-1].abs().sum(dim=1, keepdim=True)
        return self.net(torch.cat([obs[:, self.skip :], action, trade, size], dim=-1)).squeeze(-1)


def cvar_of_losses(daily_returns: torch.Tensor, alpha: float) -> torch.Tensor:
    """Mean of the worst ``ceil((1-α)·n)`` daily losses of each row ``(B, n) -> (B,)``."""
    n = daily_returns.shape[1]
    k = max(1, math.ceil((1.0 - alpha) * n))
    return torch.topk(-daily_returns, k, dim=1).values.mean(dim=1)


def constraint_residuals(
    daily_returns: torch.Tensor,
    weights: torch.Tensor,
    turnover: torch.Tensor,
    *,
    cvar_alpha: float,
    cvar_limit: float,
    max_turnover: float,
    max_weight: float,
) -> dict[str, torch.Tensor]:
    """Normalised residuals ``g`` (``> 0`` = violated) of the three constraints.

    ``daily_returns`` ``(B, days)``, ``weights`` ``(B, L, N+1)`` executed allocations,
    ``turnover`` ``(B, L)``. CVaR is one check per episode; turnover and concentration
    one per decision.
    """
    return {
        "cvar": cvar_of_losses(daily_returns, cvar_alpha) / cvar_limit - 1.0,
        "turnover": turnover / max_turnover - 1.0,
        "concentration": weights[..., :-1].max(dim=-1).values / max_weight - 1.0,
    }


def violation_summary(residuals: dict[str, torch.Tensor]) -> dict[str, float]:
    """Violation rate and mean positive residual per constraint and overall."""
    out: dict[str, float] = {}
    checks = violated = 0
    pos_total = 0.0
    for name, g in residuals.items():
        g = g.detach().reshape(-1)
        v = (g > 1e-6).float()
        out[f"{name}_violation_rate"] = float(v.mean())
        out[f"{name}_mean_residual"] = float(torch.clamp(g, min=0).mean())
        checks += g.numel()
        violated += int(v.sum())
        pos_total += float(torch.clamp(g, min=0).sum())
    out["violation_rate"] = violated / max(checks, 1)
    out["mean_residual"] = pos_total / max(checks, 1)
    return out


@dataclass
class _Episodes:
    """One iteration's batch of episodes, one entry per decision (``B`` rows each)."""

    rewards: list[torch.Tensor] = field(default_factory=list)
    dailies: list[torch.Tensor] = field(default_factory=list)
    """Daily returns between decisions."""
    weights: list[torch.Tensor] = field(default_factory=list)
    """Executed allocations."""
    turnovers: list[torch.Tensor] = field(default_factory=list)
    lambdas: list[torch.Tensor] = field(default_factory=list)
    """Critic-λ's multipliers of the (observation, allocation) pairs."""
    y_obs: list[torch.Tensor] = field(default_factory=list)
    """Critic-y's samples (empty without the execution model): observations..."""
    y_act: list[torch.Tensor] = field(default_factory=list)
    """...recommended allocations..."""
    y_cur: list[torch.Tensor] = field(default_factory=list)
    """...allocations held before the recommendation..."""
    y_exec: list[torch.Tensor] = field(default_factory=list)
    """...and whether the simulated investor executed it (1.0) or not (0.0)."""


class PrimalDualAgent:
    algorithm = "primal_dual"

    def __init__(
        self,
        num_assets: int,
        obs_dim: int,
        config: PrimalDualConfig | None = None,
        env_config: EnvConfig | None = None,
        *,
        seed: int = 0,
    ) -> None:
        self.config = config or PrimalDualConfig()
        self.env_config = env_config or EnvConfig()
        self.seed = seed
        seed_everything(seed)
        self.num_assets, self.obs_dim, self.action_dim = num_assets, obs_dim, num_assets + 1
        window = self.env_config.window
        extra = obs_dim - window * num_assets
        h = self.config.hidden
        self.actor = LSTMActor(num_assets, window, extra, h)
        self.critic_lambda = CriticLambda(obs_dim, self.action_dim, h)
        self.critic_y = CriticY(obs_dim, self.action_dim, h, skip=window * num_assets)
        self.opt_actor = torch.optim.Adam(self.actor.parameters(), lr=self.config.learning_rate)
        self.opt_lambda = torch.optim.Adam(
            self.critic_lambda.parameters(), lr=self.config.lambda_learning_rate
        )
        self.opt_y = torch.optim.Adam(self.critic_y.parameters(), lr=self.config.y_learning_rate)
        self.rho = self.config.rho_init
        self.obs_rms = RunningMeanStd(obs_dim)
        self.meta: dict = {}
        self._fitted_rms = False

    # -------------------------------------------------------------- acting
    def normalize(self, obs: torch.Tensor) -> torch.Tensor:
        return self.obs_rms.normalize(obs.float()).float()

    def policy_logits(self, obs_normalized: torch.Tensor) -> torch.Tensor:
        return self.actor(obs_normalized)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:  # noqa: ARG002 - Agent.act; the mean
        return torch.softmax(self.actor(self.normalize(obs)), dim=-1)

    @torch.no_grad()
    def execution_probability(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Critic-y's predicted probability that the investor executes ``action``."""
        n = obs.shape[1]
        current = obs[:, n - self.action_dim - 2 - self._num_regimes() : n - 2 - self._num_regimes()]
        return self.critic_y(self.normalize(obs), action, current)

    def _num_regimes(self) -> int:
        return self.obs_dim - (self.env_config.window * self.num_assets + 2 * self.num_assets + 3)

    def fit_execution(
        self, obs: torch.Tensor, actions: torch.Tensor, current: torch.Tensor, executed: torch.Tensor,
        *, epochs: int = 50,
    ) -> float:
        """Fit critic-y on observed decisions (e.g. approvals in advise mode); return BCE."""
        loss = float("nan")
        obs_n = self.normalize(obs)
        for _ in range(epochs):
            loss = self._fit_y_normalized(obs_n, actions.float(), current.float(), executed.float())
        return loss

    # ------------------------------------------------------------ training
    def _fit_normalization(self, env: VecPortfolioEnv) -> None:
        # The warm-up's random allocations come from torch's global generator, which
        # seed_everything(seed) set in __init__ (not from the training generator).
        obs = env.reset()
        seen = [obs]
        steps = 0
        with torch.no_grad():
            while steps < self.config.warmup_steps:
                a = torch.distributions.Dirichlet(torch.ones(self.action_dim)).sample((env.num_envs,))
                obs, _, done, _ = env.step(a)
                seen.append(obs)
                steps += env.num_envs
                if done.all():
                    obs = env.reset()
        self.obs_rms.update(torch.cat(seen))
        self._fitted_rms = True

    def _investor_executes(self, turnover: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        c = self.config
        p = torch.sigmoid(c.investor_bias - c.investor_turnover_aversion * turnover)
        return (torch.rand(p.shape, generator=gen) < p).float()

    def train(self, env: VecPortfolioEnv, *, progress: ProgressFn | None = None) -> list[dict]:
        """Train on ``env`` (its ``num_envs`` episodes per iteration); return statistics."""
        c = self.config
        gen = torch.Generator().manual_seed(self.seed)
        if not self._fitted_rms:
            self._fit_normalization(env)
        history: list[dict] = []
        for it in range(1, c.iterations + 1):
            stats = self._iteration(env, gen)
            stats["iteration"] = it
            history.append(stats)
            if progress:
                progress(it / c.iterations, stats)
        return history

    def _iteration(self, env: VecPortfolioEnv, gen: torch.Generator) -> dict:
        """One batch of episodes, then a primal step (actor), a dual step (critic-λ), a
        critic-y fit on the simulated investor's choices and the penalty's adaptation."""
        c = self.config
        obs = env.reset()
        steps = int(env.episode_length[0])
        episodes = self._episodes_run(env, obs, self._episode_encoding(env, steps), gen)
        reward = torch.stack(episodes.rewards, dim=1)
        g, lam, lam_by = self._constraints(episodes, steps)
        objective = reward.sum(dim=1).mean() * c.reward_scale / steps
        actor_loss = self._primal_step(objective, g, lam_by)
        lambda_loss = self._dual_step(g, lam, lam_by)
        y_loss = float("nan")
        if episodes.y_obs:
            y_loss = self._fit_y_normalized(
                torch.cat(episodes.y_obs), torch.cat(episodes.y_act), torch.cat(episodes.y_cur),
                torch.cat(episodes.y_exec),
            )
        summary = violation_summary(g)
        if c.use_multipliers and summary["violation_rate"] > c.violation_tolerance:
            self.rho = min(self.rho * c.rho_growth, c.rho_max)
        summary.update(
            {
                "objective": float(objective.detach()),
                "episode_reward": float(reward.detach().sum(dim=1).mean()),
                "actor_loss": float(actor_loss.detach()),
                "lambda_loss": float(lambda_loss.detach()),
                "y_loss": y_loss,
                "rho": self.rho,
                **{f"lambda_{n}": float(lam_by[n].detach().mean()) for n in CONSTRAINTS},
            }
        )
        return summary

    def _episode_encoding(self, env: VecPortfolioEnv, steps: int) -> torch.Tensor:
        """``(B, steps, hidden)`` LSTM encodings of every decision's market window: the
        windows do not depend on actions, so the whole episode is encoded at once."""
        B = env.num_envs
        starts = env.t.unsqueeze(1) + env.config.decision_interval * torch.arange(steps).unsqueeze(0)
        wn = env.config.window * env.num_assets
        win = env.market_window(starts.reshape(-1)).reshape(B * steps, wn)
        mean, std = self.obs_rms.mean[:wn].float(), torch.sqrt(self.obs_rms.var[:wn].float() + 1e-8)
        win = torch.clamp((win - mean) / std, -10, 10).reshape(B * steps, env.config.window, env.num_assets)
        return self.actor.encode(win).reshape(B, steps, -1)

    def _episodes_run(
        self, env: VecPortfolioEnv, obs: torch.Tensor, encoding: torch.Tensor, gen: torch.Generator
    ) -> _Episodes:
        """Step the actor (through critic-y's expected execution when it is on) over
        every decision of the batch, recording what the updates need."""
        c = self.config
        wn = env.config.window * env.num_assets
        episodes = _Episodes()
        for step in range(encoding.shape[1]):
            obs_n = self.normalize(obs)
            a = torch.softmax(self.actor.logits(encoding[:, step], obs_n[:, wn:]), dim=-1)
            current = env.weights
            if c.use_execution_model:
                q = self.critic_y(obs_n.detach(), a, current)
                target = q.unsqueeze(1) * a + (1.0 - q.unsqueeze(1)) * current
                with torch.no_grad():
                    turnover_a = (a[:, :-1] - current[:, :-1]).abs().sum(dim=1)
                    episodes.y_obs.append(obs_n.detach())
                    episodes.y_act.append(a.detach())
                    episodes.y_cur.append(current.detach())
                    episodes.y_exec.append(self._investor_executes(turnover_a, gen))
            else:
                target = a
            episodes.lambdas.append(self.critic_lambda(obs_n.detach(), a.detach()))
            obs, reward, _, info = env.step(target)
            episodes.rewards.append(reward)
            episodes.dailies.append(info["daily_returns"])
            episodes.weights.append(info["weights"])
            episodes.turnovers.append(info["turnover"])
        return episodes

    def _constraints(
        self, episodes: _Episodes, steps: int
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, dict[str, torch.Tensor]]:
        """Residuals ``g``, the multipliers ``(B, L, 3)`` and the multipliers matched to
        each residual (CVaR: one per episode, the mean over its decisions)."""
        c = self.config
        g = constraint_residuals(
            torch.cat(episodes.dailies, dim=1),
            torch.stack(episodes.weights, dim=1),
            torch.stack(episodes.turnovers, dim=1),
            cvar_alpha=c.cvar_alpha,
            cvar_limit=c.cvar_limit,
            max_turnover=c.max_turnover,
            max_weight=c.max_weight,
        )
        lam = torch.stack(episodes.lambdas, dim=1)  # (B, L, 3)
        lam_by = {"cvar": lam[..., 0].mean(dim=1), "turnover": lam[..., 1], "concentration": lam[..., 2]}
        if c.exempt_first_trade and steps > 1:
            g["turnover"], lam_by["turnover"] = g["turnover"][:, 1:], lam_by["turnover"][:, 1:]
        return g, lam, lam_by

    def _primal_step(
        self, objective: torch.Tensor, g: dict[str, torch.Tensor], lam_by: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """Descend the augmented Lagrangian in the actor's weights; return its value."""
        c = self.config
        actor_loss = -objective
        if c.use_multipliers:
            for name in CONSTRAINTS:
                # λ·max(g, 0) (brief 000): a slack constraint must not pay the actor to
                # over-satisfy it (e.g. by fleeing to cash); λ itself decays when slack.
                actor_loss = actor_loss + (lam_by[name].detach() * torch.clamp(g[name], min=0)).mean()
                actor_loss = actor_loss + 0.5 * self.rho * (torch.clamp(g[name], min=0) ** 2).mean()
        self.opt_actor.zero_grad()
        actor_loss.backward()
        nn.utils.clip_grad_norm_(self.actor.parameters(), c.max_grad_norm)
        self.opt_actor.step()
        return actor_loss

    def _dual_step(
        self, g: dict[str, torch.Tensor], lam: torch.Tensor, lam_by: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """Dual ascent: λ grows where g > 0 and decays towards 0 where the constraint is
        slack (nothing when the multipliers are off); return critic-λ's loss."""
        c = self.config
        lambda_loss = torch.tensor(0.0)
        if c.use_multipliers:
            for name in CONSTRAINTS:
                lambda_loss = lambda_loss - (lam_by[name] * g[name].detach()).mean()
            lambda_loss = lambda_loss + 1e-4 * (lam**2).mean()
            self.opt_lambda.zero_grad()
            lambda_loss.backward()
            nn.utils.clip_grad_norm_(self.critic_lambda.parameters(), c.max_grad_norm)
            self.opt_lambda.step()
        return lambda_loss

    def _fit_y_normalized(self, obs_n, actions, current, executed) -> float:
        q = self.critic_y(obs_n, actions, current)
        loss = nn.functional.binary_cross_entropy(q.clamp(1e-6, 1 - 1e-6), executed)
        self.opt_y.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.critic_y.parameters(), self.config.max_grad_norm)
        self.opt_y.step()
        return float(loss.detach())

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
                "config": asdict(self.config),
                "env_config": self.env_config.to_dict(),
                "actor": self.actor.state_dict(),
                "critic_lambda": self.critic_lambda.state_dict(),
                "critic_y": self.critic_y.state_dict(),
                "opt_actor": self.opt_actor.state_dict(),
                "opt_lambda": self.opt_lambda.state_dict(),
                "opt_y": self.opt_y.state_dict(),
                "rho": self.rho,
                "obs_rms": self.obs_rms.state_dict(),
                "meta": self.meta,
            },
            path,
        )

    @classmethod
    def load(cls, path: str | Path | BinaryIO) -> PrimalDualAgent:
        d = torch.load(path, map_location="cpu", weights_only=True)
        agent = cls(
            d["num_assets"], d["obs_dim"], PrimalDualConfig.from_dict(d["config"]),
            EnvConfig.from_dict(d["env_config"]), seed=d["seed"],
        )
        for name in ("actor", "critic_lambda", "critic_y"):
            getattr(agent, name).load_state_dict(d[name])
        agent.opt_actor.load_state_dict(d["opt_actor"])
        agent.opt_lambda.load_state_dict(d["opt_lambda"])
        agent.opt_y.load_state_dict(d["opt_y"])
        agent.rho = d["rho"]
        agent.obs_rms.load_state_dict(d["obs_rms"])
        agent._fitted_rms = True
        agent.meta = d.get("meta", {})
        return agent
