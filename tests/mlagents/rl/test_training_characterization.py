"""Characterization of the seeded training loops of PPO and the primal-dual agent.

Pinned before ``PPOAgent.train`` and ``PrimalDualAgent._iteration`` were split into named
steps (issue 22): the same seed must give bit-identical statistics and weights after any
refactoring. The figures are torch 2.13's on a CPU, one thread, float32 (the bfloat16 case
only where the CPU has native bfloat16); another torch build or CPU kernel may change the
last digits, and then the figures are re-pinned from an unchanged loop, never adjusted to
a changed one.
"""

import hashlib

import numpy as np
import pytest
import torch

from mlagents.rl.common import bf16_native
from mlagents.rl.env import EnvConfig, VecPortfolioEnv
from mlagents.rl.ppo import PPOAgent, PPOConfig
from mlagents.rl.primal_dual import PrimalDualAgent, PrimalDualConfig

TOY = EnvConfig(window=5, vol_window=5, episode_length=16)


def _market() -> np.ndarray:
    return np.random.default_rng(0).normal(0.0004, 0.01, size=(300, 4))


def _digest(*states: dict) -> str:
    """First 16 hex digits of the SHA-256 of every tensor's name and bytes."""
    h = hashlib.sha256()
    for state in states:
        for name, tensor in state.items():
            h.update(name.encode())
            h.update(torch.as_tensor(tensor).detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _ppo_run(bf16: bool, checkpoint_dir) -> tuple[PPOAgent, list[dict], list[float]]:
    env = VecPortfolioEnv(_market(), TOY, num_envs=8, seed=0)
    cfg = PPOConfig(
        total_timesteps=8 * 16 * 3, num_envs=8, num_steps=16, hidden=32, learning_rate=1e-3,
        bf16_training=bf16, checkpoint_every=2,
    )
    agent = PPOAgent(env.obs_dim, env.action_dim, cfg, TOY, seed=0)
    fractions: list[float] = []
    history = agent.train(env, progress=lambda frac, _stats: fractions.append(frac), checkpoint_dir=checkpoint_dir)
    return agent, history, fractions


def test_ppo_training_is_pinned_for_a_seed(tmp_path):
    # when: three updates of 8 envs x 16 steps, float32
    agent, history, fractions = _ppo_run(False, tmp_path)

    # then
    rows = [
        (h["update"], h["global_step"], h["policy_loss"], h["value_loss"], h["entropy"], h["approx_kl"],
         h["clip_fraction"], h["explained_variance"], h["episode_reward"])
        for h in history
    ]
    assert rows == [
        (1, 128, -0.013826495967805386, 15.348579406738281, 7.089423179626465, 0.0002637431025505066, 0.0,
         -0.007460236549377441, -0.1278882408514619),
        (2, 256, -0.007435064762830734, 15.214588165283203, 7.08418607711792, 0.0001415163278579712, 0.0,
         -0.03991198539733887, -0.12568175327032804),
        (3, 384, -0.002240218222141266, 15.30842113494873, 7.082282066345215, 1.1505559086799622e-05, 0.0,
         -0.05811429023742676, -0.11829097475856543),
    ]
    assert _digest(agent.net.state_dict()) == "ef1a045d002b3a77"
    assert agent.obs_rms.mean.sum().item() == 2.0503409821973886
    assert fractions == [1 / 3, 2 / 3, 1.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ppo_update_00002.pt"]
    assert all(h["steps_per_second"] > 0 for h in history)


@pytest.mark.skipif(not bf16_native(), reason="the bfloat16 trunk runs only on CPUs with native bfloat16")
def test_ppo_bf16_training_is_pinned_for_a_seed(tmp_path):
    # when
    agent, history, _ = _ppo_run(True, tmp_path)

    # then
    assert [h["policy_loss"] for h in history] == [
        -0.013823574408888817, -0.0074032023549079895, -0.0022241882979869843]
    assert [h["value_loss"] for h in history] == [15.351020812988281, 15.217191696166992, 15.308886528015137]
    assert _digest(agent.net.state_dict()) == "b20b9d269f5d3eed"


def _primal_dual_run(**overrides) -> tuple[PrimalDualAgent, list[dict]]:
    env = VecPortfolioEnv(_market(), TOY, num_envs=8, seed=0)
    cfg = PrimalDualConfig(iterations=3, num_envs=8, hidden=16, warmup_steps=64, **overrides)
    agent = PrimalDualAgent(4, env.obs_dim, cfg, TOY, seed=0)
    return agent, agent.train(env)


def _weights(agent: PrimalDualAgent) -> str:
    return _digest(agent.actor.state_dict(), agent.critic_lambda.state_dict(), agent.critic_y.state_dict())


def test_primal_dual_training_is_pinned_for_a_seed():
    # when: multipliers and the execution model on (the defaults)
    agent, history = _primal_dual_run()

    # then
    losses = [(h["iteration"], h["actor_loss"], h["lambda_loss"], h["y_loss"]) for h in history]
    assert losses == [
        (1, 0.061673443764448166, 0.09637169539928436, 0.5895915031433105),
        (2, 0.08564528822898865, 0.09477924555540085, 0.5805433392524719),
        (3, 0.11772248893976212, 0.09556454420089722, 0.6031070351600647),
    ]
    assert history[0]["turnover_violation_rate"] == 0.015625
    assert history[0]["violation_rate"] == 0.007575757575757576
    assert history[2]["lambda_turnover"] == 0.04228591546416283
    assert [h["rho"] for h in history] == [1.0, 1.0, 1.0]
    assert _weights(agent) == "b81e5d44305cc132"


def test_primal_dual_ablation_training_is_pinned_for_a_seed():
    # when: the reward alone, no execution model (critic-λ and critic-y untouched)
    agent, history = _primal_dual_run(use_multipliers=False, use_execution_model=False, exempt_first_trade=True)

    # then
    assert [h["actor_loss"] for h in history] == [0.10670624673366547, 0.13574853539466858, 0.1678924560546875]
    assert [h["lambda_loss"] for h in history] == [0.0, 0.0, 0.0]
    assert all(np.isnan(h["y_loss"]) for h in history)
    assert history[2]["lambda_cvar"] == 0.05426102504134178
    assert _weights(agent) == "c0bee0aeaf375a90"


def test_primal_dual_tight_limits_training_is_pinned_for_a_seed():
    # when: limits tight enough that violations persist (ρ grows) and the first trade is exempt
    agent, history = _primal_dual_run(exempt_first_trade=True, cvar_limit=0.005, max_turnover=0.1, max_weight=0.3)

    # then
    assert [h["actor_loss"] for h in history] == [0.2249678075313568, 0.2809603214263916, 0.30885258316993713]
    assert [h["lambda_loss"] for h in history] == [0.013541591353714466, 0.007521753665059805, 0.009954470209777355]
    assert [h["turnover_violation_rate"] for h in history] == [
        0.11666666716337204, 0.10833333432674408, 0.09166666865348816]
    assert history[1]["mean_residual"] == 0.04732076544314623
    assert [h["rho"] for h in history] == [1.05, 1.1025, 1.1576250000000001]
    assert agent.rho == 1.1576250000000001
    assert _weights(agent) == "fb1da29597ad0d6f"


def test_ppo_training_without_annealing_is_pinned_for_episodes_that_end_mid_rollout():
    # given: rollouts of 12 steps over 16-step episodes (the first update sees no episode
    # end, later ones end mid-rollout), a constant and large learning rate (ratios clip),
    # minibatches that do not divide the batch, no progress callback, no checkpoints
    env = VecPortfolioEnv(_market(), TOY, num_envs=6, seed=3)
    cfg = PPOConfig(
        total_timesteps=6 * 12 * 4, num_envs=6, num_steps=12, hidden=16, learning_rate=3e-2, anneal_lr=False,
        num_minibatches=5, update_epochs=1, bf16_training=False,
    )
    agent = PPOAgent(env.obs_dim, env.action_dim, cfg, TOY, seed=3)

    # when
    history = agent.train(env)

    # then
    rows = [
        (h["update"], h["global_step"], h["policy_loss"], h["value_loss"], h["approx_kl"], h["clip_fraction"],
         h["explained_variance"])
        for h in history
    ]
    assert rows == [
        (1, 72, 0.01045951247215271, 1.1306861639022827, 0.4091337323188782, 0.523809532324473,
         -0.017374634742736816),
        (2, 144, 0.5464830994606018, 7.3191609382629395, 0.24686506390571594, 0.3333333383003871,
         -0.9483001232147217),
        (3, 216, -0.09741106629371643, 0.8294253349304199, 0.10933315753936768, 0.2857142885526021,
         -0.5590382814407349),
        (4, 288, -0.1414213478565216, 8.280515670776367, 0.46111398935317993, 0.4166666728754838,
         -0.42253684997558594),
    ]
    assert np.isnan(history[0]["episode_reward"])  # no episode has ended yet
    assert [h["episode_reward"] for h in history[1:]] == [
        -0.13395521168907484, -0.1474262848496437, -0.1200287068883578]
    assert agent.optimizer.param_groups[0]["lr"] == 3e-2
    assert _digest(agent.net.state_dict()) == "b393d8cc53b4d323"
    assert agent.obs_rms.mean.sum().item() == 2.0403715738725685


def test_primal_dual_training_without_multipliers_is_pinned_for_a_seed():
    # when: violations persist but the multipliers are off (ρ stays put), critic-y learns
    agent, history = _primal_dual_run(use_multipliers=False, cvar_limit=0.005, max_turnover=0.1, max_weight=0.3)

    # then
    assert [h["actor_loss"] for h in history] == [0.06162331625819206, 0.08563825488090515, 0.11772236227989197]
    assert [h["lambda_loss"] for h in history] == [0.0, 0.0, 0.0]
    assert [h["y_loss"] for h in history] == [0.5895915031433105, 0.5805433392524719, 0.6031069755554199]
    assert [h["violation_rate"] for h in history] == [
        0.13257575757575757, 0.11742424242424243, 0.09848484848484848]
    assert [h["rho"] for h in history] == [1.0, 1.0, 1.0]
    assert _weights(agent) == "a63c545a54ea1f1b"


def test_primal_dual_training_without_the_execution_model_is_pinned_for_a_seed():
    # when: multipliers on, no critic-y (the actor's target is its own allocation)
    agent, history = _primal_dual_run(use_execution_model=False, exempt_first_trade=True)

    # then
    assert [h["actor_loss"] for h in history] == [0.10670624673366547, 0.13574853539466858, 0.1678924560546875]
    assert [h["lambda_loss"] for h in history] == [0.09562084823846817, 0.09387446939945221, 0.09519065916538239]
    assert all(np.isnan(h["y_loss"]) for h in history)
    assert [h["lambda_turnover"] for h in history] == [
        0.041615281254053116, 0.04191039130091667, 0.042335767298936844]
    assert _weights(agent) == "7bc1a067ea29359b"


def test_primal_dual_training_on_one_step_episodes_keeps_the_only_trade_in_the_turnover_constraint():
    # given: episodes of one decision, where exempting the first trade would leave none
    one = EnvConfig(window=5, vol_window=5, episode_length=1)
    env = VecPortfolioEnv(_market(), one, num_envs=8, seed=0)
    cfg = PrimalDualConfig(iterations=2, num_envs=8, hidden=16, warmup_steps=64, exempt_first_trade=True)
    agent = PrimalDualAgent(4, env.obs_dim, cfg, one, seed=0)

    # when
    history = agent.train(env)

    # then
    assert [(h["actor_loss"], h["lambda_loss"], h["y_loss"], h["turnover_violation_rate"]) for h in history] == [
        (0.47366049885749817, 0.07253974676132202, 0.7489834427833557, 0.125),
        (0.6753990650177002, 0.07423688471317291, 0.6898242235183716, 0.0),
    ]
    assert _weights(agent) == "d360ca69a4db6183"
