"""Vectorized portfolio environment: a batch of episodes stepped as tensors at once.

Dynamics (one decision step = ``decision_interval`` trading days):

* the agent at decision index ``t`` sees only returns up to and including day ``t``;
* it chooses target weights ``a`` over the ``N`` assets plus cash (a valid allocation:
  non-negative, summing to one — the environment projects anything else onto the
  simplex);
* proportional costs ``cost_rate * sum_i |a_i - w_i|`` (cash moves are free) are taken
  out of the value;
* the allocation then earns the returns of days ``t+1 .. t+k`` (no look-ahead), the
  weights drifting with prices between decisions;
* reward (brief 003): ``return - vol_penalty * recent volatility - drawdown_penalty *
  max(drawdown - drawdown_threshold, 0) - cost_penalty * costs / value``, every
  coefficient configurable. "Recent volatility" is the bias-corrected EWMA of the
  portfolio's daily returns with span ``vol_window`` (a cheap, differentiable running
  estimate, so the same code trains the primal-dual agent by back-propagation).

Observation (flat, float): the last ``window`` daily returns of every asset, each
asset's rolling volatility over ``vol_window`` days, the current weights (assets),
the cash ratio, the value ratio (value / initial value), the drawdown, and regime
probabilities when a regime panel is given.

All state lives in tensors of leading dimension ``num_envs``; operations are plain
differentiable torch ops, so :class:`VecPortfolioEnv` runs under ``torch.no_grad()``
for PPO/DQN rollouts and with autograd for the primal-dual agent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import torch


@dataclass(frozen=True)
class EnvConfig:
    """Environment configuration (saved with every trained agent)."""

    window: int = 20
    """Days of asset returns in the observation."""
    vol_window: int = 20
    """Days of the rolling asset volatility feature and span of the reward's EWMA vol."""
    episode_length: int = 64
    """Decision steps per training episode."""
    decision_interval: int = 1
    """Trading days between two decisions (1 = daily, 21 = about monthly)."""
    cost_rate: float = 0.001
    """Proportional transaction cost per unit of traded value (10 bp)."""
    vol_penalty: float = 0.1
    """Reward coefficient on recent portfolio volatility (brief 003: 0.1)."""
    drawdown_penalty: float = 2.0
    """Reward coefficient on drawdown beyond ``drawdown_threshold`` (brief 003: 2.0)."""
    drawdown_threshold: float = 0.05
    """Drawdown tolerated without penalty (brief 003: 5 %)."""
    cost_penalty: float = 10.0
    """Reward coefficient on costs / value (brief 003: 10)."""
    initial_allocation: str = "cash"
    """Allocation at the start of an episode: "cash" or "equal" (equal weight, no cash)."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> EnvConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class EnvError(ValueError):
    """The return panel cannot feed the environment (too short, not finite...)."""


def project_to_simplex(weights: torch.Tensor) -> torch.Tensor:
    """Clip negatives and renormalise rows to sum to one (all-zero rows become cash)."""
    w = torch.clamp(weights, min=0.0)
    total = w.sum(dim=-1, keepdim=True)
    cash = torch.zeros_like(w)
    cash[..., -1] = 1.0
    return torch.where(total > 1e-12, w / total.clamp_min(1e-12), cash)


def rolling_volatility(returns: np.ndarray, window: int) -> np.ndarray:
    """Trailing standard deviation of daily returns over ``window`` days (causal).

    Row ``t`` uses days ``t-window+1 .. t``; earlier rows use what is available
    (zero for the first row).
    """
    r = np.asarray(returns, dtype=np.float64)
    c1 = np.cumsum(np.vstack([np.zeros((1, r.shape[1])), r]), axis=0)
    c2 = np.cumsum(np.vstack([np.zeros((1, r.shape[1])), r * r]), axis=0)
    idx = np.arange(1, r.shape[0] + 1)
    lo = np.maximum(idx - window, 0)
    n = (idx - lo)[:, None].astype(np.float64)
    mean = (c1[idx] - c1[lo]) / n
    var = (c2[idx] - c2[lo]) / n - mean**2
    return np.sqrt(np.clip(var * n / np.maximum(n - 1, 1), 0.0, None))


class VecPortfolioEnv:
    """A batch of ``num_envs`` portfolio episodes over one return panel.

    ``returns`` is ``(T, N)`` simple daily returns (dates x assets), finite;
    ``regimes`` optionally ``(T, K)`` regime probabilities known on each day.
    """

    def __init__(
        self,
        returns: np.ndarray | torch.Tensor,
        config: EnvConfig | None = None,
        *,
        num_envs: int = 1,
        seed: int = 0,
        regimes: np.ndarray | torch.Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.config = config or EnvConfig()
        c = self.config
        r = torch.tensor(np.array(returns, dtype=np.float64), dtype=dtype)
        if r.ndim != 2 or r.shape[1] < 1:
            raise EnvError("returns must be a (dates, assets) panel with at least one asset")
        if not torch.isfinite(r).all():
            raise EnvError("returns contain NaN or infinite values; align or drop them first")
        if (r <= -1.0).any():
            raise EnvError("returns must be greater than -100 %")
        self.dtype = dtype
        self.returns = r
        self.num_days, self.num_assets = r.shape
        self.first_index = max(c.window, c.vol_window) - 1
        self.min_days = self.first_index + c.decision_interval + 1
        if self.num_days < self.min_days + 1:
            raise EnvError(
                f"the panel has {self.num_days} days; the environment needs at least "
                f"{self.min_days + 1} (window {c.window}, vol window {c.vol_window})"
            )
        self.vol = torch.as_tensor(rolling_volatility(r.double().numpy(), c.vol_window), dtype=dtype)
        # (T - window + 1, N, window) view: row j holds days j .. j+window-1.
        self._windows = r.unfold(0, c.window, 1)
        self.regimes = None if regimes is None else torch.as_tensor(np.asarray(regimes), dtype=dtype)
        if self.regimes is not None and self.regimes.shape[0] != self.num_days:
            raise EnvError("regimes must have one row per day of the return panel")
        self.num_regimes = 0 if self.regimes is None else self.regimes.shape[1]
        self.num_envs = num_envs
        self.obs_dim = c.window * self.num_assets + self.num_assets + (self.num_assets + 1) + 2
        self.obs_dim += self.num_regimes
        self.action_dim = self.num_assets + 1
        self.generator = torch.Generator().manual_seed(seed)
        self._alpha = 2.0 / (c.vol_window + 1.0)
        k = c.decision_interval
        self._day_offsets = torch.arange(1, k + 1)
        # weight of day d (1..k) in the EWMA after the k days: decay^(k - d)
        self._ewma_weights = (1.0 - self._alpha) ** torch.arange(k - 1, -1, -1, dtype=dtype)
        self.t = torch.zeros(num_envs, dtype=torch.long)
        self.steps = torch.zeros(num_envs, dtype=torch.long)
        self.episode_length = torch.full((num_envs,), c.episode_length, dtype=torch.long)

    # ----------------------------------------------------------------- episodes
    def max_steps_from(self, start: torch.Tensor) -> torch.Tensor:
        """How many whole decision steps fit between ``start`` and the last day."""
        return (self.num_days - 1 - start) // self.config.decision_interval

    def reset(
        self,
        start: torch.Tensor | None = None,
        episode_length: int | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Start new episodes (random starts unless ``start`` is given); return obs."""
        c = self.config
        n = self.num_envs
        if episode_length is None:
            episode_length = c.episode_length
        length = torch.as_tensor(episode_length, dtype=torch.long).expand(n).clone()
        if start is None:
            last_start = self.num_days - 1 - int(length.max()) * c.decision_interval
            if last_start < self.first_index:
                raise EnvError(
                    f"episodes of {int(length.max())} steps of {c.decision_interval} days do not "
                    f"fit in {self.num_days} days; shorten episode_length"
                )
            start = torch.randint(
                self.first_index, last_start + 1, (n,), generator=self.generator
            )
        start = torch.as_tensor(start, dtype=torch.long).expand(n).clone()
        if (start < self.first_index).any() or (self.max_steps_from(start) < length).any():
            raise EnvError("episode start or length falls outside the return panel")
        self.t = start
        self.steps = torch.zeros(n, dtype=torch.long)
        self.episode_length = length
        w = torch.zeros(n, self.action_dim, dtype=self.dtype)
        if c.initial_allocation == "equal":
            w[:, :-1] = 1.0 / self.num_assets
        else:
            w[:, -1] = 1.0
        self.weights = w
        self.value = torch.ones(n, dtype=self.dtype)
        self.peak = torch.ones(n, dtype=self.dtype)
        self.ewma_var = torch.zeros(n, dtype=self.dtype)
        self.ewma_norm = torch.zeros(n, dtype=self.dtype)
        return self.observe()

    # ------------------------------------------------------------ observations
    def market_window(self, t: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, window, N)`` returns of the last ``window`` days up to ``t`` inclusive."""
        t = self.t if t is None else t
        return self._windows[t - self.config.window + 1].transpose(1, 2)

    def drawdown(self) -> torch.Tensor:
        return 1.0 - self.value / self.peak

    def observe(self) -> torch.Tensor:
        """The flat observation of every env (see module docstring for the layout)."""
        parts = [
            self.market_window().reshape(self.num_envs, -1),
            self.vol[self.t],
            self.weights,
            self.value.unsqueeze(1),
            self.drawdown().unsqueeze(1),
        ]
        if self.regimes is not None:
            parts.append(self.regimes[self.t])
        return torch.cat(parts, dim=1)

    # ------------------------------------------------------------------- step
    def step(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict]:
        """Apply target weights ``(B, N+1)``; return ``(obs, reward, done, info)``.

        ``info`` holds ``daily_returns`` ``(B, k)``, ``costs`` (as a fraction of value
        before trading), ``turnover`` (sum of absolute asset weight changes),
        ``weights`` (the executed allocation) and ``portfolio_return``.
        Finished envs are not reset here; the caller calls :meth:`reset`.
        """
        c = self.config
        a = project_to_simplex(action.to(self.dtype))
        turnover = (a[:, :-1] - self.weights[:, :-1]).abs().sum(dim=1)
        cost_frac = c.cost_rate * turnover
        value0 = self.value
        value1 = value0 * (1.0 - cost_frac)
        # The k days after the decision at once (no look-ahead: days t+1 .. t+k). Bought at
        # the decision and left to drift, asset i is worth a_i * prod_{s<=d}(1 + r_is) on
        # day d while cash stays a_cash; the day's portfolio return is the return of those
        # drifted holdings (computed as a weighted return, not as a ratio of values, to keep
        # float32 precision).
        k = c.decision_interval
        r = self.returns[self.t.unsqueeze(1) + self._day_offsets]  # (B, k, N)
        holdings = a[:, :-1].unsqueeze(1) * torch.cumprod(1.0 + r, dim=1)  # end of each day
        before = torch.cat([a[:, :-1].unsqueeze(1), holdings[:, :-1]], dim=1)  # start of each day
        port = (before * r).sum(dim=2) / (before.sum(dim=2) + a[:, -1:])  # (B, k)
        path = value1.unsqueeze(1) * torch.cumprod(1.0 + port, dim=1)
        value = path[:, -1]
        # the first day's return includes the trading cost paid at the decision
        daily = torch.cat([port[:, :1] * (1.0 - cost_frac.unsqueeze(1)) - cost_frac.unsqueeze(1), port[:, 1:]], dim=1)
        final = torch.cat([holdings[:, -1], a[:, -1:]], dim=1)
        w = final / final.sum(dim=1, keepdim=True)
        peak = torch.maximum(self.peak, path.max(dim=1).values)
        # EWMA over the k days: decay^k * old + alpha * sum_d decay^(k-d) * x_d
        decay = 1.0 - self._alpha
        ewma_var = decay**k * self.ewma_var + self._alpha * (daily**2 * self._ewma_weights).sum(dim=1)
        ewma_norm = decay**k * self.ewma_norm + self._alpha * float(self._ewma_weights.sum())
        recent_vol = torch.sqrt(ewma_var / ewma_norm + 1e-12)
        period_return = value / value0 - 1.0
        drawdown = 1.0 - value / peak
        reward = (
            period_return
            - c.vol_penalty * recent_vol
            - c.drawdown_penalty * torch.clamp(drawdown - c.drawdown_threshold, min=0.0)
            - c.cost_penalty * cost_frac
        )
        self.weights, self.value, self.peak = w, value, peak
        self.ewma_var, self.ewma_norm = ewma_var, ewma_norm
        self.t = self.t + c.decision_interval
        self.steps = self.steps + 1
        done = self.steps >= self.episode_length
        info = {
            "daily_returns": daily,
            "costs": cost_frac,
            "turnover": turnover,
            "weights": a,
            "portfolio_return": period_return,
            "drawdown": drawdown,
        }
        return self.observe(), reward, done, info
