"""Walk-forward evaluation of agents against classical baselines, and the promotion gate.

**Three windows** (:class:`Split`): the agent trains on the first, is selected and passed
or refused by the promotion gate on the second (validation), and is *reported* on the
third (test). The validation functions here are handed ``returns[:validation_end]`` —
the test rows are not passed to them at all — so neither model selection nor the gate
can read the test window (a test poisons the test prices and checks the gate's decision
does not move). Reporting on the window that selected the model would be selection on
the test set.

Every strategy — agent or baseline — runs through the same :class:`VecPortfolioEnv`
dynamics with the same proportional costs, from the same decision day to the end of
the held-out window, on returns it has not seen (the return panel before the window
only feeds look-back estimates). Baselines (monthly = every 21 trading days):

* ``buy_and_hold`` — equal weight once, never rebalanced;
* ``equal_weight`` — equal weight, rebalanced monthly;
* ``min_variance`` / ``max_sharpe`` — ``portfolios.optimization.optimize`` on the
  trailing ``lookback`` days (sample covariance, geometric mean return), rebalanced
  monthly.

Metrics come from ``risk.measures.performance_metrics`` plus turnover (annualised sum
of absolute weight changes) and the primal-dual constraint checks (violation rate and
mean normalised residual), so every row of the table is computed the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from mlagents.rl.env import EnvConfig, VecPortfolioEnv
from mlagents.rl.primal_dual import PrimalDualConfig, constraint_residuals, violation_summary

Policy = Callable[[torch.Tensor, VecPortfolioEnv], torch.Tensor]
"""(raw observations (B, obs_dim), env) -> target weights (B, N+1)."""

MONTH = 21
CVAR_BLOCK_DAYS = 63
METRIC_KEYS = (
    "total_return", "annual_return", "annual_volatility", "sharpe_ratio", "sortino_ratio",
    "max_drawdown", "turnover", "win_rate", "profit_factor", "violation_rate", "mean_residual",
)


@dataclass(frozen=True)
class Backtest:
    """One strategy's path: daily returns (net of costs), allocations and turnover per decision."""

    daily_returns: np.ndarray
    weights: np.ndarray
    turnover: np.ndarray
    decision_interval: int


def run_policy(
    returns: np.ndarray,
    policy: Policy,
    env_config: EnvConfig,
    *,
    start: int,
    end: int | None = None,
    regimes: np.ndarray | None = None,
) -> Backtest:
    """Run ``policy`` deterministically from decision day ``start`` to day ``end`` (inclusive)."""
    end = returns.shape[0] - 1 if end is None else end
    env = VecPortfolioEnv(
        returns[: end + 1],
        env_config,
        num_envs=1,
        regimes=None if regimes is None else regimes[: end + 1],
    )
    steps = int(env.max_steps_from(torch.tensor([start]))[0])
    if steps < 1:
        raise ValueError("the evaluation window is shorter than one decision interval")
    obs = env.reset(start=torch.tensor([start]), episode_length=steps)
    daily, weights, turnover = [], [], []
    with torch.no_grad():
        for _ in range(steps):
            obs, _, _, info = env.step(policy(obs, env))
            daily.append(info["daily_returns"][0])
            weights.append(info["weights"][0])
            turnover.append(info["turnover"][0])
    return Backtest(
        torch.cat(daily).double().numpy(),
        torch.stack(weights).double().numpy(),
        torch.stack(turnover).double().numpy(),
        env_config.decision_interval,
    )


# ------------------------------------------------------------------ baselines
def buy_and_hold_policy(obs: torch.Tensor, env: VecPortfolioEnv) -> torch.Tensor:  # noqa: ARG001 - Policy(obs, env)
    if int(env.steps[0]) == 0:
        w = torch.zeros_like(env.weights)
        w[:, :-1] = 1.0 / env.num_assets
        return w
    return env.weights.clone()


def equal_weight_policy(obs: torch.Tensor, env: VecPortfolioEnv) -> torch.Tensor:  # noqa: ARG001 - Policy(obs, env)
    w = torch.zeros_like(env.weights)
    w[:, :-1] = 1.0 / env.num_assets
    return w


def optimizer_policy(objective: str, lookback: int = 252) -> Policy:
    """Rebalance to ``optimize(objective=...)`` on the trailing ``lookback`` days."""
    from portfolios.optimization import (
        OptimizationError,
        mean_historical_return,
        optimize,
        sample_cov,
    )

    def policy(obs: torch.Tensor, env: VecPortfolioEnv) -> torch.Tensor:  # noqa: ARG001 - Policy(obs, env)
        t = int(env.t[0])
        hist = env.returns[max(0, t - lookback + 1) : t + 1].double().numpy()
        frame = pd.DataFrame(hist, columns=[f"a{i}" for i in range(env.num_assets)])
        try:
            result = optimize(
                objective=objective,
                expected_returns=mean_historical_return(frame),
                cov=sample_cov(frame),
            )
        except OptimizationError:
            # e.g. max Sharpe when no asset beats the risk-free rate: stay put
            return env.weights.clone()
        w = torch.zeros_like(env.weights)
        w[0, :-1] = torch.tensor(result.weights.reindex(frame.columns).fillna(0.0).to_numpy(dtype=float))
        w[0, -1] = max(0.0, 1.0 - float(w[0, :-1].sum()))
        return w

    return policy


def baseline_policies(lookback: int = 252) -> dict[str, tuple[Policy, int]]:
    """Name -> (policy, decision interval in days)."""
    return {
        "buy_and_hold": (buy_and_hold_policy, MONTH),
        "equal_weight": (equal_weight_policy, MONTH),
        "min_variance": (optimizer_policy("min_volatility", lookback), MONTH),
        "max_sharpe": (optimizer_policy("max_sharpe", lookback), MONTH),
    }


# -------------------------------------------------------------------- metrics
def backtest_metrics(bt: Backtest, limits: PrimalDualConfig | None = None) -> dict[str, float | None]:
    """The evaluation table's row for one backtest."""
    from risk.measures import performance_metrics

    limits = limits or PrimalDualConfig()
    pm = performance_metrics(bt.daily_returns)
    years = len(bt.daily_returns) / 252.0
    days = len(bt.daily_returns)
    blocks = max(1, days // CVAR_BLOCK_DAYS)
    if days >= CVAR_BLOCK_DAYS:  # CVaR is checked on quarter-long blocks, like training episodes
        block_returns = torch.as_tensor(bt.daily_returns[: blocks * CVAR_BLOCK_DAYS].reshape(blocks, -1))
    else:
        block_returns = torch.as_tensor(bt.daily_returns).unsqueeze(0)
    residuals = constraint_residuals(
        block_returns,
        torch.as_tensor(bt.weights).unsqueeze(0),
        torch.as_tensor(bt.turnover).unsqueeze(0),
        cvar_alpha=limits.cvar_alpha,
        cvar_limit=limits.cvar_limit,
        max_turnover=limits.max_turnover,
        max_weight=limits.max_weight,
    )
    # the first decision builds the portfolio from cash: not a turnover breach
    residuals["turnover"] = residuals["turnover"][:, 1:]
    viol = violation_summary(residuals)
    return {
        "total_return": pm.total_return,
        "annual_return": pm.annual_return,
        "annual_volatility": pm.annual_volatility,
        "sharpe_ratio": pm.sharpe_ratio,
        "sortino_ratio": pm.sortino_ratio,
        "max_drawdown": pm.max_drawdown,
        "turnover": float(bt.turnover[1:].sum() / years) if years > 0 else 0.0,
        "win_rate": pm.hit_rate,
        "profit_factor": pm.profit_factor,
        "violation_rate": viol["violation_rate"],
        "mean_residual": viol["mean_residual"],
    }


def evaluate_walk_forward(
    returns: np.ndarray,
    *,
    test_start: int,
    agents: Mapping[str, tuple[Policy, EnvConfig]],
    cost_rate: float | None = None,
    lookback: int = 252,
    limits: PrimalDualConfig | None = None,
    include_baselines: bool = True,
    regimes: np.ndarray | None = None,
) -> dict[str, dict[str, float | None]]:
    """Metrics of every agent and baseline on days ``test_start ..`` of ``returns``.

    Each strategy decides on day ``test_start - 1`` first, so every one earns exactly the
    held-out days. ``cost_rate`` defaults to the first agent's environment cost.
    """
    if not agents and not include_baselines:
        return {}
    first_cfg = next(iter(agents.values()))[1] if agents else EnvConfig()
    cost = first_cfg.cost_rate if cost_rate is None else cost_rate
    start = test_start - 1
    table: dict[str, dict[str, float | None]] = {}
    for name, (policy, cfg) in agents.items():
        bt = run_policy(returns, policy, replace(cfg, cost_rate=cost), start=start, regimes=regimes)
        table[name] = backtest_metrics(bt, limits)
    if include_baselines:
        base_cfg = replace(first_cfg, cost_rate=cost, initial_allocation="cash")
        for name, (policy, interval) in baseline_policies(lookback).items():
            cfg = replace(base_cfg, decision_interval=interval)
            table[name] = backtest_metrics(run_policy(returns, policy, cfg, start=start), limits)
    return table


def sharpe(daily: np.ndarray) -> float:
    sd = float(np.std(daily, ddof=1))
    return 0.0 if sd == 0.0 or not math.isfinite(sd) else float(np.mean(daily)) / sd * math.sqrt(252)


def episode_success_rate(
    returns: np.ndarray,
    policy: Policy,
    env_config: EnvConfig,
    *,
    test_start: int,
    episode_days: int = 126,
    stride_days: int = MONTH,
    regimes: np.ndarray | None = None,
) -> dict[str, float]:
    """Brief 001's "success": share of held-out episodes where the agent's Sharpe is at
    least the equal-weight, monthly-rebalanced baseline's (same costs, same days).

    Episodes are ``episode_days`` long and start every ``stride_days`` inside the window.
    """
    base_cfg = replace(env_config, decision_interval=MONTH)
    wins = total = 0
    last = returns.shape[0] - 1
    for s in range(test_start - 1, last - episode_days + 1, stride_days):
        end = s + episode_days
        agent = run_policy(returns, policy, env_config, start=s, end=end, regimes=regimes)
        base = run_policy(returns, equal_weight_policy, base_cfg, start=s, end=end)
        n = min(len(agent.daily_returns), len(base.daily_returns))
        wins += sharpe(agent.daily_returns[:n]) >= sharpe(base.daily_returns[:n])
        total += 1
    return {"episodes": float(total), "success_rate": wins / total if total else float("nan")}


# ------------------------------------------------------------ the three windows
@dataclass(frozen=True)
class Split:
    """One train / validation / test split of a return panel, as row boundaries.

    Rows ``[0, train_end)`` train the agent, ``[train_end, validation_end)`` select it and
    feed the promotion gate, ``[validation_end, end)`` are the test window, only reported.
    The training rows before each window also feed its look-back (the agents' window, the
    optimizer baselines' trailing year); that is history, not the window's outcomes.
    """

    train_end: int
    validation_end: int
    end: int

    def __post_init__(self) -> None:
        # an empty test window is allowed: the gate's re-evaluations load no test day
        if not 0 < self.train_end < self.validation_end <= self.end:
            raise ValueError(
                f"a split needs 0 < train_end < validation_end <= end, got "
                f"{self.train_end}, {self.validation_end}, {self.end}"
            )

    def window(self, name: str) -> tuple[int, int]:
        """``(first row, end row)`` of ``"validation"`` or ``"test"``."""
        if name == "validation":
            return self.train_end, self.validation_end
        if name == "test":
            return self.validation_end, self.end
        raise ValueError(f"unknown window {name!r}; use validation or test")


def _upto(array: np.ndarray | None, end: int) -> np.ndarray | None:
    return None if array is None else array[:end]


def evaluate_window(
    returns: np.ndarray,
    split: Split,
    window: str,
    *,
    agents: Mapping[str, tuple[Policy, EnvConfig]],
    include_baselines: bool = True,
    regimes: np.ndarray | None = None,
    **options,
) -> dict[str, dict[str, float | None]]:
    """:func:`evaluate_walk_forward` on one window of ``split``, given only the rows up to
    that window's end (the validation evaluation never receives a test row)."""
    first, end = split.window(window)
    return evaluate_walk_forward(
        returns[:end], test_start=first, agents=agents, include_baselines=include_baselines,
        regimes=_upto(regimes, end), **options,
    )


def window_success_rate(
    returns: np.ndarray,
    policy: Policy,
    env_config: EnvConfig,
    split: Split,
    window: str,
    *,
    regimes: np.ndarray | None = None,
) -> dict[str, float]:
    """:func:`episode_success_rate` on one window of ``split`` (rows up to its end only)."""
    first, end = split.window(window)
    return episode_success_rate(
        returns[:end], policy, env_config, test_start=first, regimes=_upto(regimes, end)
    )


def validation_sharpe(
    returns: np.ndarray,
    policy: Policy,
    env_config: EnvConfig,
    split: Split,
    *,
    regimes: np.ndarray | None = None,
) -> float:
    """The agent's Sharpe ratio on the validation window, computed as the gate computes it
    (model selection's score; NaN-free: ``-inf`` when undefined)."""
    first, end = split.window("validation")
    bt = run_policy(returns[:end], policy, env_config, start=first - 1, regimes=_upto(regimes, end))
    value = backtest_metrics(bt)["sharpe_ratio"]
    return -math.inf if value is None or not math.isfinite(value) else float(value)


# ------------------------------------------------------------- promotion gate
@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str


def promotion_decision(
    candidate: Mapping[str, float | None],
    baselines: Mapping[str, Mapping[str, float | None]],
    incumbent: Mapping[str, float | None] | None = None,
    *,
    metric: str = "sharpe_ratio",
) -> PromotionDecision:
    """Promote only if the candidate's ``metric`` is at least every baseline's and strictly
    above the incumbent's, all evaluated on the same window: the *validation* window
    (never the test window, which is only reported)."""

    def val(m: Mapping[str, float | None]) -> float:
        v = m.get(metric)
        return -math.inf if v is None or not math.isfinite(v) else float(v)

    cand = val(candidate)
    if cand == -math.inf:
        return PromotionDecision(False, f"candidate has no {metric} on the validation window")
    losses = [f"{name} ({val(m):.3f})" for name, m in baselines.items() if val(m) > cand]
    if losses:
        return PromotionDecision(
            False, f"{metric} {cand:.3f} is below baseline(s) {', '.join(losses)} on the validation window"
        )
    if incumbent is not None and val(incumbent) >= cand:
        return PromotionDecision(
            False, f"{metric} {cand:.3f} does not beat the active model's {val(incumbent):.3f}"
        )
    beaten = ", ".join(f"{n} ({val(m):.3f})" for n, m in baselines.items()) or "no baselines"
    inc = "" if incumbent is None else f" and the active model ({val(incumbent):.3f})"
    return PromotionDecision(True, f"{metric} {cand:.3f} beats {beaten}{inc} on the validation window")
