"""Honest evaluation of the RL agents on real data (docs/RL_EVALUATION.md).

Train on ../shared/data/stock_prices.csv from 2007-01-01 to 2014-12-31, test walk-forward
on 2015-01-01 .. 2018-04-11, over the assets with a full history in that span; every
agent against every baseline with the same 10 bp costs. Pure engine (no Django).

    .venv/bin/python bench/bench_rl_evaluation.py [--seeds 0 1 2] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlagents.rl.dqn import DQNAgent, DQNConfig  # noqa: E402
from mlagents.rl.env import EnvConfig, VecPortfolioEnv  # noqa: E402
from mlagents.rl.evaluation import (  # noqa: E402,F401
    backtest_metrics,
    episode_success_rate,
    evaluate_walk_forward,
    run_policy,
)
from mlagents.rl.ppo import PPOAgent, PPOConfig  # noqa: E402
from mlagents.rl.primal_dual import PrimalDualAgent, PrimalDualConfig  # noqa: E402

DATA = next((d / "stock_prices.csv" for d in (ROOT.parent / "shared" / "data", Path("/work/shared/data"))
             if (d / "stock_prices.csv").exists()), ROOT.parent / "shared" / "data" / "stock_prices.csv")
START, TRAIN_END, TEST_END = "2007-01-01", "2014-12-31", "2018-04-11"
ENV = EnvConfig(window=20, vol_window=20, episode_length=26, decision_interval=5)  # the service default
COLS = ("total_return", "annual_return", "annual_volatility", "sharpe_ratio", "sortino_ratio",
        "max_drawdown", "turnover", "win_rate", "profit_factor", "violation_rate", "mean_residual")


def load_panel() -> tuple[pd.DataFrame, int]:
    prices = pd.read_csv(DATA, parse_dates=["date"], index_col="date").loc[START:TEST_END]
    full = prices.columns[prices.notna().all()]
    returns = (prices[full] / prices[full].shift(1) - 1).iloc[1:]
    train_days = int((returns.index <= pd.Timestamp(TRAIN_END)).sum())
    return returns, train_days


def train_agents(train: np.ndarray, n: int, seed: int, scale: float, classes: list[str]) -> dict:
    probe = VecPortfolioEnv(train, ENV)
    out = {}
    t = time.perf_counter()
    # the service's sizing (mlagents.services.agent_engine_build): the engine's defaults
    ppo_cfg = PPOConfig(num_steps=ENV.episode_length, total_timesteps=int(2000 * 26 * scale))
    ppo = PPOAgent(probe.obs_dim, n + 1, ppo_cfg, ENV, seed=seed)
    ppo.train(VecPortfolioEnv(train, ENV, num_envs=ppo_cfg.num_envs, seed=seed))
    out["ppo"] = (ppo, time.perf_counter() - t)
    t = time.perf_counter()
    pd_cfg = PrimalDualConfig(num_envs=32, iterations=int(200 * scale))
    pda = PrimalDualAgent(n, probe.obs_dim, pd_cfg, ENV, seed=seed)
    hist = pda.train(VecPortfolioEnv(train, ENV, num_envs=32, seed=seed))
    out["primal_dual"] = (pda, time.perf_counter() - t)
    out["primal_dual_train"] = {k: float(np.mean([h[k] for h in hist[-10:]])) for k in ("violation_rate", "mean_residual")}
    t = time.perf_counter()
    pd_free = PrimalDualAgent(n, probe.obs_dim, replace(pd_cfg, use_multipliers=False), ENV, seed=seed)
    hist_free = pd_free.train(VecPortfolioEnv(train, ENV, num_envs=32, seed=seed))
    out["primal_dual_no_multipliers"] = (pd_free, time.perf_counter() - t)
    out["primal_dual_no_multipliers_train"] = {k: float(np.mean([h[k] for h in hist_free[-10:]])) for k in ("violation_rate", "mean_residual")}
    t = time.perf_counter()
    dqn = DQNAgent(n, probe.obs_dim, DQNConfig(total_steps=int(2000 * 26 * scale), learning_starts=1000), ENV, asset_classes=classes, seed=seed)
    dqn.train(VecPortfolioEnv(train, ENV, num_envs=16, seed=seed))
    out["dqn"] = (dqn, time.perf_counter() - t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--scale", type=float, default=1.0, help="Multiplies the training budget.")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    returns, train_days = load_panel()
    r = returns.to_numpy()
    n = r.shape[1]
    print(f"assets ({n}): {', '.join(returns.columns)}")
    print(f"train {returns.index[0].date()} .. {returns.index[train_days - 1].date()} ({train_days} days); "
          f"test {returns.index[train_days].date()} .. {returns.index[-1].date()} ({len(r) - train_days} days)")
    results = {}
    for seed in args.seeds:
        agents = train_agents(r[:train_days], n, seed, args.scale, ["equity"] * n)
        policies = {
            name: ((lambda a: (lambda obs, env: a.act(obs.float())))(agents[name][0]), ENV)
            for name in ("ppo", "primal_dual", "primal_dual_no_multipliers", "dqn")
        }
        table = evaluate_walk_forward(r, test_start=train_days, agents=policies, include_baselines=(seed == args.seeds[0]))
        success = {
            name: episode_success_rate(r, policies[name][0], ENV, test_start=train_days)
            for name in ("ppo", "primal_dual", "dqn")
        }
        results[seed] = {
            "table": table,
            "success": success,
            "train_seconds": {k: v[1] for k, v in agents.items() if isinstance(v, tuple)},
            "pd_train": {"with": agents["primal_dual_train"], "without": agents["primal_dual_no_multipliers_train"]},
        }
        print(f"\n### seed {seed}\n")
        print("| strategy | " + " | ".join(COLS) + " |")
        print("|---" * (len(COLS) + 1) + "|")
        for name, m in table.items():
            cells = ["n/a" if m[c] is None else f"{m[c]:.3f}" for c in COLS]
            print(f"| {name} | " + " | ".join(cells) + " |")
        print("\nsuccess (share of 126-day held-out episodes, stride 21, with Sharpe >= equal weight monthly):")
        for name, s in success.items():
            print(f"  {name}: {s['success_rate']:.1%} of {int(s['episodes'])}")
        print("training seconds:", {k: round(v, 1) for k, v in results[seed]["train_seconds"].items()})
        print("primal-dual, last 10 training iterations:", results[seed]["pd_train"])
        sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
