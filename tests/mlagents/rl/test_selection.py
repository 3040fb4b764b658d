"""Model selection on the validation window (mlagents.rl.selection)."""

import math

import numpy as np
import pytest
import torch

from mlagents.rl.env import EnvConfig, VecPortfolioEnv
from mlagents.rl.evaluation import Split, validation_sharpe
from mlagents.rl.ppo import PPOAgent, PPOConfig
from mlagents.rl.primal_dual import PrimalDualAgent, PrimalDualConfig
from mlagents.rl.selection import Snapshot, train_selected

TOY = EnvConfig(window=5, vol_window=5, episode_length=16)


def _ppo(env, updates: int = 8, seed: int = 0) -> PPOAgent:
    cfg = PPOConfig(total_timesteps=env.num_envs * 16 * updates, num_envs=env.num_envs, num_steps=16, hidden=16)
    return PPOAgent(env.obs_dim, env.action_dim, cfg, TOY, seed=seed)


def _without_timing(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "steps_per_second"} for h in history]


def test_the_kept_agent_is_the_best_scored_snapshot(noise_market):
    # given: a score that prefers the second snapshot, and the actions each snapshot took
    env = VecPortfolioEnv(noise_market, TOY, num_envs=4, seed=1)
    agent = _ppo(env)
    probe = VecPortfolioEnv(noise_market, TOY, num_envs=8, seed=5).reset()
    seen: list[torch.Tensor] = []
    scores = iter([0.1, 0.9, 0.3, 0.2])

    def score(a) -> float:
        seen.append(a.act(probe))
        return next(scores)

    # when
    selection = train_selected(agent, env, score=score)
    # then
    assert selection.snapshots == (Snapshot(0.25, 0.1), Snapshot(0.5, 0.9), Snapshot(0.75, 0.3), Snapshot(1.0, 0.2))
    assert selection.chosen == Snapshot(0.5, 0.9)
    assert selection.agent is not agent
    assert torch.equal(selection.agent.act(probe), seen[1])
    assert not torch.equal(selection.agent.act(probe), seen[3])
    assert selection.to_dict()["chosen_fraction"] == 0.5


def test_ties_and_undefined_scores_keep_the_later_snapshot(noise_market):
    env = VecPortfolioEnv(noise_market, TOY, num_envs=4, seed=1)
    agent = _ppo(env)
    scores = iter([0.5, float("nan"), 0.5, -math.inf])
    selection = train_selected(agent, env, score=lambda a: next(scores))
    assert selection.chosen == Snapshot(0.75, 0.5)
    assert selection.to_dict()["snapshots"][1] == {"fraction": 0.5, "score": None}


def test_scoring_snapshots_does_not_change_training(noise_market):
    # given: the same seed trained plainly and with four validation snapshots
    plain_env = VecPortfolioEnv(noise_market, TOY, num_envs=4, seed=1)
    plain = _ppo(plain_env, seed=3)
    plain_history = plain.train(plain_env)
    env = VecPortfolioEnv(noise_market, TOY, num_envs=4, seed=1)
    split = Split(200, 300, 300)
    sharpes: list[float] = []

    def score(a) -> float:  # runs the real validation backtest, then ranks later snapshots higher
        sharpes.append(validation_sharpe(noise_market, lambda obs, e: a.act(obs), TOY, split))
        return float(len(sharpes))

    # when
    selection = train_selected(_ppo(env, seed=3), env, score=score)
    # then: identical statistics, and the kept (last) snapshot is the plainly trained agent
    assert _without_timing(selection.history) == _without_timing(plain_history)
    assert selection.chosen == Snapshot(1.0, 4.0) and selection.agent is not None
    probe = VecPortfolioEnv(noise_market, TOY, num_envs=8, seed=5).reset()
    assert torch.equal(selection.agent.act(probe), plain.act(probe))
    assert len(sharpes) == 4 and all(math.isfinite(x) for x in sharpes)


def test_a_short_run_takes_one_snapshot_per_update(noise_market):
    # given: two updates cross the 25 % and 50 % marks in the first one
    env = VecPortfolioEnv(noise_market, TOY, num_envs=4, seed=1)
    calls = []
    selection = train_selected(_ppo(env, updates=2), env, score=lambda a: calls.append(1) or float(len(calls)))
    assert [s.fraction for s in selection.snapshots] == [0.5, 1.0]
    assert selection.chosen.fraction == 1.0


def test_primal_dual_selection_restores_its_normalisation(noise_market):
    env = VecPortfolioEnv(noise_market, TOY, num_envs=4, seed=1)
    cfg = PrimalDualConfig(iterations=4, num_envs=4, hidden=8, warmup_steps=32)
    agent = PrimalDualAgent(4, env.obs_dim, cfg, TOY, seed=0)
    scores = iter([2.0, 1.0, 0.0, -1.0])
    selection = train_selected(agent, env, score=lambda a: next(scores))
    assert selection.chosen.fraction == 0.25
    probe = VecPortfolioEnv(noise_market, TOY, num_envs=8, seed=5).reset()
    weights = selection.agent.act(probe)
    np.testing.assert_allclose(weights.sum(1).numpy(), np.ones(8), rtol=1e-6)
    assert torch.equal(selection.agent.obs_rms.mean, agent.obs_rms.mean)  # fitted once, before training
    assert not torch.equal(weights, agent.act(probe))


@pytest.mark.parametrize("fractions", [(0.5,), (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)])
def test_the_end_of_training_is_always_a_snapshot(noise_market, fractions):
    env = VecPortfolioEnv(noise_market, TOY, num_envs=4, seed=1)
    selection = train_selected(_ppo(env), env, score=lambda a: 0.0, fractions=fractions)
    assert selection.snapshots[-1].fraction == 1.0
    assert len(selection.snapshots) == min(len(fractions) + 1, 8)
