import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from mlagents.rl.env import (
    EnvConfig,
    EnvError,
    VecPortfolioEnv,
    project_to_simplex,
    rolling_volatility,
)
from mlagents.rl.gym_env import PortfolioGymEnv


def _random_weights(gen: torch.Generator, b: int, k: int) -> torch.Tensor:
    return torch.distributions.Dirichlet(torch.ones(k)).sample((b,))


def test_allocations_stay_valid_whatever_the_action(noise_market):
    # given
    env = VecPortfolioEnv(noise_market, EnvConfig(window=5, vol_window=5, episode_length=10), num_envs=8)
    env.reset()
    gen = torch.Generator().manual_seed(0)
    # when: raw, unnormalised, negative actions
    for _ in range(10):
        _, _, _, info = env.step(torch.randn(8, 5, generator=gen) * 3)
        # then
        assert (info["weights"] >= 0).all()
        torch.testing.assert_close(info["weights"].sum(1), torch.ones(8))
        assert (env.weights >= 0).all()
        torch.testing.assert_close(env.weights.sum(1), torch.ones(8))


def test_project_to_simplex_turns_all_zero_into_cash():
    out = project_to_simplex(torch.tensor([[0.0, 0.0, 0.0], [-1.0, 2.0, 2.0]]))
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.5, 0.5]]))


def test_one_step_matches_hand_computation():
    # given: two assets, cash start, 10 bp costs, decision on day 1
    r = np.array([[0.0, 0.0], [0.01, -0.02], [0.05, 0.10], [0.0, 0.0]])
    cfg = EnvConfig(window=1, vol_window=1, episode_length=1, cost_rate=0.001, vol_penalty=0.0)
    env = VecPortfolioEnv(r, cfg, num_envs=1, dtype=torch.float64)
    env.reset(start=torch.tensor([1]))
    # when: 60/20/20 (cash)
    _, reward, done, info = env.step(torch.tensor([[0.6, 0.2, 0.2]], dtype=torch.float64))
    # then: cost on 0.8 traded; the allocation earns day 2's returns (not day 1's)
    cost = 0.001 * 0.8
    value = (1 - cost) * (1 + 0.6 * 0.05 + 0.2 * 0.10)
    assert info["costs"].item() == pytest.approx(cost)
    assert info["portfolio_return"].item() == pytest.approx(value - 1)
    assert reward.item() == pytest.approx(value - 1 - 10 * cost)
    assert bool(done[0])
    w = np.array([0.6 * 1.05, 0.2 * 1.10, 0.2]) / (1 + 0.6 * 0.05 + 0.2 * 0.10)
    np.testing.assert_allclose(env.weights[0].numpy(), w)


def test_drawdown_penalty_only_beyond_threshold():
    # given: one asset falling 10 % in one day, fully invested from equal start (no cost)
    r = np.array([[0.0], [0.0], [-0.10], [0.0]])
    cfg = EnvConfig(window=1, vol_window=1, episode_length=1, cost_rate=0.0, vol_penalty=0.0,
                    initial_allocation="equal")
    env = VecPortfolioEnv(r, cfg, dtype=torch.float64)
    env.reset(start=torch.tensor([1]))
    # when
    _, reward, _, info = env.step(torch.tensor([[1.0, 0.0]], dtype=torch.float64))
    # then: -10 % return and 2.0 × (10 % - 5 %)
    assert info["drawdown"].item() == pytest.approx(0.10)
    assert reward.item() == pytest.approx(-0.10 - 2.0 * 0.05)


def test_costs_are_charged_on_turnover_only():
    r = np.zeros((30, 2))
    env = VecPortfolioEnv(r, EnvConfig(window=2, vol_window=2, episode_length=3), dtype=torch.float64)
    env.reset(start=torch.tensor([5]))
    a = torch.tensor([[0.5, 0.5, 0.0]], dtype=torch.float64)
    _, _, _, first = env.step(a)
    _, _reward, _, second = env.step(a)  # zero returns: weights do not drift, nothing to trade
    assert first["costs"].item() == pytest.approx(0.001)
    assert second["costs"].item() == 0.0
    assert env.value.item() == pytest.approx(1 - 0.001)


def test_no_look_ahead_future_returns_do_not_change_earlier_rewards(noise_market):
    # given: the same actions on two panels that differ only from day 150 on
    cfg = EnvConfig(window=5, vol_window=5, episode_length=60)
    future = noise_market.copy()
    future[150:] += np.random.default_rng(9).normal(0, 0.05, size=future[150:].shape)
    gen = torch.Generator().manual_seed(3)
    actions = [_random_weights(gen, 1, 5) for _ in range(60)]

    def rollout(panel):
        env = VecPortfolioEnv(panel, cfg, dtype=torch.float64)
        obs = [env.reset(start=torch.tensor([100]))]
        rewards = []
        for a in actions:
            o, rew, _, _ = env.step(a)
            obs.append(o)
            rewards.append(rew.item())
        return rewards, obs

    # when
    base_r, base_o = rollout(noise_market)
    pert_r, pert_o = rollout(future)
    # then: decision at day 100 + k earns day 101 + k; days < 150 unchanged
    assert base_r[:49] == pert_r[:49]
    assert base_r[49] != pert_r[49]
    for k in range(50):  # observation k sees days up to 100 + k
        torch.testing.assert_close(base_o[k], pert_o[k])
    assert not torch.equal(base_o[50], pert_o[50])


def test_rolling_volatility_matches_pandas(noise_market):
    import pandas as pd

    got = rolling_volatility(noise_market, 10)
    want = pd.DataFrame(noise_market).rolling(10).std().to_numpy()
    np.testing.assert_allclose(got[9:], want[9:], rtol=1e-9)


def test_rejects_non_finite_panels():
    r = np.full((50, 2), 0.01)
    r[10, 1] = np.nan
    with pytest.raises(EnvError, match="NaN"):
        VecPortfolioEnv(r)


def test_seeded_episode_starts_are_deterministic(noise_market):
    a = VecPortfolioEnv(noise_market, num_envs=16, seed=5)
    b = VecPortfolioEnv(noise_market, num_envs=16, seed=5)
    a.reset()
    b.reset()
    assert torch.equal(a.t, b.t)


# returns and ratios are unbounded by nature: the checker's hint about infinite bounds is moot
@pytest.mark.filterwarnings("ignore:.*Box observation space (minimum|maximum) value is")
def test_gym_wrapper_passes_env_checker_and_matches_vector_env(noise_market):
    # given
    cfg = EnvConfig(window=5, vol_window=5, episode_length=8)
    env = PortfolioGymEnv(noise_market, cfg)
    check_env(env, skip_render_check=True)
    # when: the same allocation in both
    obs, _ = env.reset(options={"start": 50})
    vec = VecPortfolioEnv(noise_market, cfg, dtype=torch.float64)
    vobs = vec.reset(start=torch.tensor([50]))
    action = np.array([0.5, -0.2, 0.1, 0.9, -1.0], dtype=np.float32)
    _, reward, terminated, truncated, _ = env.step(action)
    _, vreward, _, _ = vec.step(torch.as_tensor(env.allocation(action)).unsqueeze(0))
    # then
    np.testing.assert_allclose(obs, vobs[0].numpy().astype(np.float32))
    assert reward == pytest.approx(vreward.item())
    assert (terminated, truncated) == (False, False)
