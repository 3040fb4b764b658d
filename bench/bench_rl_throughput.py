"""PPO training throughput and learning: ours (vectorized env, batched tensors) vs
Stable-Baselines3's PPO driving our gymnasium wrapper — side by side, one process.

Both train on the same real-data training window (stock_prices.csv, 2007-2014, assets
with full history, the service's default environment: weekly decisions, 26-step
episodes, 10 bp costs, brief 003's reward), for the same number of environment steps,
with the same network size (two hidden layers of 256, tanh), GAE(0.95), clip 0.2,
lr 3e-4 (constant), γ 0.99, entropy 0.001, gradient clip 0.5. SB3 gets VecNormalize
(observations and rewards), the counterpart of our observation normalisation and reward
scaling.

Ours runs the engine's defaults, which the training service uses: 256 episodes stepped
as tensors per rollout (6,656 steps), 2 epochs of 2 minibatches, bfloat16 matrix
products in training where the CPU has them natively. SB3 runs twice: (a) "sb3-small",
8 DummyVecEnv envs x 208 steps, 4 epochs of minibatch 416 (the classic small-batch
setting, our previous configuration); (b) "sb3-ours", our batch shape: 8 envs x 832
steps = 6,656 per rollout, 2 epochs of minibatch 3,328. The ratio is taken against
the faster SB3 run, and learning is compared with both.

Throughput = environment steps / wall-clock training seconds (rollouts + updates).
Learning = the mean total reward of the deterministic policy over 128 fixed episodes
of the held-out window (2015-2018), and its walk-forward Sharpe on that window.

    .venv/bin/python bench/bench_rl_throughput.py [--steps 66560] [--seeds 0 1 2] [--threads 1]
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
sys.path.insert(0, str(ROOT / "bench"))

from bench_rl_evaluation import ENV, load_panel  # noqa: E402

from mlagents.rl.env import VecPortfolioEnv  # noqa: E402
from mlagents.rl.evaluation import run_policy, sharpe  # noqa: E402
from mlagents.rl.gym_env import PortfolioGymEnv  # noqa: E402
from mlagents.rl.ppo import PPOAgent, PPOConfig  # noqa: E402

EVAL_EPISODES = 128


def heldout_reward(returns: np.ndarray, train_days: int, policy) -> float:
    test = returns[train_days - ENV.window :]
    env = VecPortfolioEnv(test, ENV, num_envs=EVAL_EPISODES, seed=12345)
    obs = env.reset()
    total = torch.zeros(EVAL_EPISODES, dtype=torch.float64)
    with torch.no_grad():
        for _ in range(ENV.episode_length):
            obs, reward, _, _ = env.step(policy(obs))
            total += reward.double()
    return float(total.mean())


def heldout_sharpe(returns: np.ndarray, train_days: int, policy) -> float:
    bt = run_policy(returns, lambda obs, _env: policy(obs), ENV, start=train_days - 1)
    return sharpe(bt.daily_returns)


def train_ours(train: np.ndarray, steps: int, seed: int, repeats: int = 3):
    """Our training, ``repeats`` times with the same seed (identical agents: seeded); a
    run lasts seconds where SB3's lasts a minute, so the median over repeats keeps one
    burst of machine load from deciding our figure."""
    times = []
    for _ in range(repeats):
        torch.manual_seed(seed)
        probe = VecPortfolioEnv(train, ENV)
        cfg = PPOConfig(num_steps=ENV.episode_length, total_timesteps=steps, anneal_lr=False)
        agent = PPOAgent(probe.obs_dim, probe.action_dim, cfg, ENV, seed=seed)
        env = VecPortfolioEnv(train, ENV, num_envs=cfg.num_envs, seed=seed)
        t = time.perf_counter()
        agent.train(env)
        times.append(time.perf_counter() - t)
    elapsed = statistics.median(times)
    return agent.global_step / elapsed, elapsed, agent.global_step, lambda obs: agent.act(obs.float())


SB3_SETTINGS = {
    # name: (steps per env per rollout, minibatches per epoch, epochs); 8 envs
    "sb3-small": (26 * 8, 4, 4),
    "sb3-ours": (26 * 32, 2, 2),
}


def train_sb3(train: np.ndarray, steps: int, seed: int, setting: str, n_envs: int = 8):
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    def make(i):
        return lambda: PortfolioGymEnv(train, ENV, seed=seed * 100 + i)

    venv = VecNormalize(DummyVecEnv([make(i) for i in range(n_envs)]), norm_obs=True, norm_reward=True)
    n_steps, minibatches, epochs = SB3_SETTINGS[setting]
    model = PPO(
        "MlpPolicy", venv, n_steps=n_steps, batch_size=n_steps * n_envs // minibatches, n_epochs=epochs,
        learning_rate=3e-4, gamma=0.99, gae_lambda=0.95, clip_range=0.2, ent_coef=0.001,
        max_grad_norm=0.5, seed=seed, device="cpu", verbose=0,
        policy_kwargs={"net_arch": [256, 256], "activation_fn": torch.nn.Tanh},
    )
    t = time.perf_counter()
    model.learn(total_timesteps=steps)
    elapsed = time.perf_counter() - t
    venv.training = False
    scale = PortfolioGymEnv(train[:60], ENV).logit_scale

    def policy(obs: torch.Tensor) -> torch.Tensor:
        action, _ = model.predict(venv.normalize_obs(obs.double().numpy().astype(np.float32)), deterministic=True)
        return torch.softmax(torch.as_tensor(scale * np.clip(action, -1, 1), dtype=torch.float64), dim=1)

    return model.num_timesteps / elapsed, elapsed, model.num_timesteps, policy


def rollout_ours(train: np.ndarray, steps: int) -> float:
    """Experience collection only: the default batch of envs stepped as tensors, policy sampling."""
    probe = VecPortfolioEnv(train, ENV)
    agent = PPOAgent(probe.obs_dim, probe.action_dim, PPOConfig(), ENV)
    env = VecPortfolioEnv(train, ENV, num_envs=PPOConfig().num_envs, seed=0)
    obs = env.reset()
    t = time.perf_counter()
    done_steps = 0
    with torch.no_grad():
        while done_steps < steps:
            agent.obs_rms.update(obs)
            obs, _, done, _ = env.step(agent.act(obs, deterministic=False))
            if done.any():
                obs = env.reset()
            done_steps += env.num_envs
    return done_steps / (time.perf_counter() - t)


def rollout_sb3(train: np.ndarray, steps: int, n_envs: int = 8) -> float:
    """Experience collection only: SB3's DummyVecEnv + VecNormalize + policy sampling."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    venv = VecNormalize(DummyVecEnv([(lambda i=i: PortfolioGymEnv(train, ENV, seed=i)) for i in range(n_envs)]))
    model = PPO("MlpPolicy", venv, device="cpu", policy_kwargs={"net_arch": [256, 256], "activation_fn": torch.nn.Tanh})
    obs = venv.reset()
    t = time.perf_counter()
    done_steps = 0
    while done_steps < steps:
        action, _ = model.predict(obs, deterministic=False)
        obs, _, _, _ = venv.step(action)
        done_steps += n_envs
    return done_steps / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=26 * 256 * 10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    returns, train_days = load_panel()
    r = returns.to_numpy()
    train = r[:train_days]
    ro, rs = rollout_ours(train, 26 * 256 * 2), rollout_sb3(train, 2048)
    print(f"rollout only (collect experience): ours {ro:.0f} steps/s, SB3 {rs:.0f} steps/s, ratio {ro / rs:.1f}x", flush=True)
    rows = {"ours": [], **{name: [] for name in SB3_SETTINGS}}
    runners = [("ours", train_ours)] + [
        (name, lambda t, s, seed, name=name: train_sb3(t, s, seed, name)) for name in SB3_SETTINGS
    ]
    for seed in args.seeds:
        for name, fn in runners:
            sps, elapsed, steps, policy = fn(train, args.steps, seed)
            rew = heldout_reward(r, train_days, policy)
            shp = heldout_sharpe(r, train_days, policy)
            rows[name].append((sps, elapsed, steps, rew, shp))
            print(f"seed {seed} {name:9}: {steps} steps in {elapsed:7.1f}s = {sps:9.0f} steps/s; "
                  f"held-out mean episode reward {rew:+.4f}, Sharpe {shp:.3f}", flush=True)
    ew = heldout_reward(r, train_days, lambda obs: torch.cat([torch.full((obs.shape[0], r.shape[1]), 1 / r.shape[1]), torch.zeros(obs.shape[0], 1)], 1))
    print(f"reference: equal weight, held-out mean episode reward {ew:+.4f}")
    med = {k: statistics.median(x[0] for x in v) for k, v in rows.items()}
    best = max(SB3_SETTINGS, key=lambda k: med[k])
    print("median steps/s: " + ", ".join(f"{k} {v:.0f}" for k, v in med.items())
          + f"; ratio ours / fastest SB3 ({best}) {med['ours'] / med[best]:.1f}x ({args.threads} torch thread(s))")
    for k, v in rows.items():
        print(f"{k}: median held-out reward {statistics.median(x[3] for x in v):+.4f}, "
              f"median Sharpe {statistics.median(x[4] for x in v):.3f}")


if __name__ == "__main__":
    main()
