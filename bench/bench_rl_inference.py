"""Inference latency of a decision for 20 assets: observation, forward pass, confidence
and gradient attribution (``mlagents.rl.inference.decide``), per algorithm; and the bare
forward pass (``agent.act``). Medians over repeats, one thread.

    .venv/bin/python bench/bench_rl_inference.py [--repeats 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlagents.rl.dqn import DQNAgent  # noqa: E402
from mlagents.rl.env import EnvConfig, VecPortfolioEnv  # noqa: E402
from mlagents.rl.inference import build_observation, decide  # noqa: E402
from mlagents.rl.ppo import PPOAgent  # noqa: E402
from mlagents.rl.primal_dual import PrimalDualAgent  # noqa: E402

N = 20


def timed(fn, repeats: int) -> float:
    for _ in range(10):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    returns = rng.normal(0.0004, 0.01, size=(300, N))
    cfg = EnvConfig(window=20, vol_window=20, episode_length=26, decision_interval=5)
    env = VecPortfolioEnv(returns, cfg, num_envs=64)
    obs_batch = env.reset()
    symbols = [f"S{i:02d}" for i in range(N)]
    weights = np.append(np.full(N, 0.9 / N), 0.1)
    agents = {
        "ppo": PPOAgent(env.obs_dim, N + 1, env_config=cfg),
        "primal_dual": PrimalDualAgent(N, env.obs_dim, env_config=cfg),
        "dqn": DQNAgent(N, env.obs_dim, env_config=cfg),
    }
    print(f"{N} assets, observation of {env.obs_dim} inputs, median over {args.repeats} calls (ms)")
    print("| algorithm | decide (weights + confidence + attribution) | forward only | observation build |")
    print("|---|---|---|---|")
    for name, agent in agents.items():
        agent.obs_rms.update(obs_batch)
        obs = build_observation(returns, weights, cfg)
        full = timed(lambda a=agent: decide(a, returns, weights, symbols), args.repeats)
        fwd = timed(lambda a=agent, o=obs: a.act(o), args.repeats)
        build = timed(lambda: build_observation(returns, weights, cfg), args.repeats)
        print(f"| {name} | {full:.2f} | {fwd:.2f} | {build:.2f} |")


if __name__ == "__main__":
    main()
