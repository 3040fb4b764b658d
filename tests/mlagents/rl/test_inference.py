
import numpy as np
import pytest
import torch

from mlagents.rl.dqn import DQNAgent
from mlagents.rl.env import EnvConfig, VecPortfolioEnv
from mlagents.rl.inference import InferenceError, build_observation, decide, load_agent
from mlagents.rl.ppo import PPOAgent
from mlagents.rl.primal_dual import PrimalDualAgent

CFG = EnvConfig(window=5, vol_window=5, episode_length=8)


def test_served_observation_equals_the_environment_observation(noise_market):
    # given: the env at day 60, fully in cash, value 1 and no drawdown
    env = VecPortfolioEnv(noise_market, CFG, dtype=torch.float64)
    obs_env = env.reset(start=torch.tensor([60]))
    # when
    cash = np.array([0, 0, 0, 0, 1.0])
    obs = build_observation(noise_market[:61], cash, CFG)
    # then
    np.testing.assert_allclose(obs[0].numpy(), obs_env[0].numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("cls", [PPOAgent, PrimalDualAgent, DQNAgent])
def test_decide_gives_valid_weights_confidence_and_attribution(noise_market, tmp_path, cls):
    env = VecPortfolioEnv(noise_market, CFG)
    agent = cls(env.obs_dim, 5, env_config=CFG) if cls is PPOAgent else cls(4, env.obs_dim, env_config=CFG)
    agent.obs_rms.update(env.reset())
    agent.save(tmp_path / "a.pt")
    loaded = load_agent(tmp_path / "a.pt")
    d = decide(loaded, noise_market, np.array([0.1, 0.2, 0.3, 0.2, 0.2]), ["A", "B", "C", "D"])
    assert d.weights.shape == (5,) and abs(d.weights.sum() - 1) < 1e-5 and (d.weights >= 0).all()
    assert 0 <= d.confidence <= 1
    assert set(d.attribution) == {
        "A returns & volatility", "B returns & volatility", "C returns & volatility",
        "D returns & volatility", "current weights", "value & drawdown",
    }
    assert abs(sum(d.attribution.values()) - 1) < 1e-5
    assert (d.action_name is not None) == (cls is DQNAgent)


def test_decide_rejects_bad_inputs(noise_market):
    env = VecPortfolioEnv(noise_market, CFG)
    agent = PPOAgent(env.obs_dim, 5, env_config=CFG)
    with pytest.raises(InferenceError, match="sum"):
        decide(agent, noise_market, np.array([0.5, 0.5, 0.5, 0.0, 0.0]), list("ABCD"))
    with pytest.raises(InferenceError, match="at least 5 days"):
        decide(agent, noise_market[:3], np.array([0, 0, 0, 0, 1.0]), list("ABCD"))
