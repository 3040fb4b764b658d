import numpy as np
import torch

from mlagents.rl.dqn import ActionMenu, DQNAgent, DQNConfig, ReplayBuffer
from mlagents.rl.env import EnvConfig, VecPortfolioEnv

TOY = EnvConfig(window=5, vol_window=5, episode_length=16)


def _market() -> np.ndarray:
    rng = np.random.default_rng(0)
    n = 400
    return np.column_stack(
        [rng.normal(0.003, 0.005, n), rng.normal(-0.002, 0.01, n), rng.normal(-0.002, 0.01, n)]
    )


def _mean_episode_reward(policy, seed: int = 123) -> float:
    env = VecPortfolioEnv(_market(), TOY, num_envs=64, seed=seed)
    obs = env.reset()
    total = torch.zeros(64)
    for _ in range(16):
        obs, reward, _, _ = env.step(policy(obs))
        total += reward
    return total.mean().item()


def _trained(seed: int = 0) -> DQNAgent:
    env = VecPortfolioEnv(_market(), TOY, num_envs=16, seed=0)
    cfg = DQNConfig(total_steps=8000, learning_starts=500, hidden=64, target_update_interval=100)
    agent = DQNAgent(3, env.obs_dim, cfg, TOY, asset_classes=["equity", "bond", "bond"], seed=seed)
    agent.train(env)
    return agent


def test_menu_entries_are_valid_allocations():
    # given
    env = VecPortfolioEnv(_market(), TOY, num_envs=8, seed=0)
    menu = ActionMenu(3, 5, ["equity", "bond", "bond"], shift=0.1)
    obs = env.reset()
    # when
    alloc = menu.allocations(obs)
    # then
    assert menu.names[-2:] == ["shift bond->equity", "shift equity->bond"]
    assert alloc.shape == (8, len(menu), 4)
    assert (alloc >= -1e-7).all()
    torch.testing.assert_close(alloc.sum(-1), torch.ones(8, len(menu)))
    torch.testing.assert_close(alloc[:, 0], env.weights)  # keep


def test_class_shift_moves_the_slice_proportionally():
    menu = ActionMenu(3, 1, ["equity", "bond", "bond"], shift=0.1)
    current = torch.tensor([[0.5, 0.3, 0.1, 0.1]])
    out = menu._shift(current, "equity", "bond")
    torch.testing.assert_close(out, torch.tensor([[0.4, 0.375, 0.125, 0.1]]))


def test_replay_buffer_wraps_around():
    buf = ReplayBuffer(3, 2)
    for i in range(4):
        buf.add(torch.full((1, 2), float(i)), torch.tensor([i]), torch.tensor([i]), torch.zeros(1, 2), torch.zeros(1))
    assert buf.size == 3
    assert sorted(buf.actions.tolist()) == [1, 2, 3]


def test_epsilon_schedule_is_linear_then_flat():
    agent = DQNAgent(3, 25, DQNConfig(total_steps=1000, exploration_fraction=0.5), TOY)
    assert agent.epsilon(0) == 1.0
    assert abs(agent.epsilon(250) - 0.525) < 1e-12
    assert agent.epsilon(900) == 0.05


def test_dqn_beats_a_random_policy_on_a_toy():
    # given
    agent = _trained()
    gen = torch.Generator().manual_seed(1)

    def random_policy(obs):
        choice = torch.randint(0, len(agent.menu), (obs.shape[0],), generator=gen)
        return agent.menu.allocations(obs)[torch.arange(obs.shape[0]), choice]

    # when
    ours, rand = _mean_episode_reward(agent.act), _mean_episode_reward(random_policy)
    # then
    assert ours > rand + 0.05


def test_save_load_gives_identical_actions(tmp_path):
    env = VecPortfolioEnv(_market(), TOY, num_envs=8, seed=0)
    agent = DQNAgent(3, env.obs_dim, DQNConfig(total_steps=400, learning_starts=100, hidden=16), TOY, seed=3)
    agent.train(env)
    agent.save(tmp_path / "dqn.pt")
    loaded = DQNAgent.load(tmp_path / "dqn.pt")
    obs = env.reset()
    assert torch.equal(agent.act(obs), loaded.act(obs))
    assert loaded.menu.names == agent.menu.names
