import pytest
import torch

from mlagents.rl.common import RunningMeanStd
from mlagents.rl.env import EnvConfig, VecPortfolioEnv
from mlagents.rl.ppo import ActorCritic, PPOAgent, PPOConfig, compute_gae

TOY = EnvConfig(window=5, vol_window=5, episode_length=16)


def _agent(env: VecPortfolioEnv, updates: int, seed: int = 0, **overrides) -> PPOAgent:
    cfg = PPOConfig(
        total_timesteps=env.num_envs * 16 * updates, num_envs=env.num_envs, num_steps=16,
        hidden=64, learning_rate=1e-3, gamma=0.95, ent_coef=0.0, **overrides,
    )
    return PPOAgent(env.obs_dim, env.action_dim, cfg, TOY, seed=seed)


def test_gae_matches_hand_computation():
    # given: 3 steps, 1 env, an episode end after step 1
    rewards = torch.tensor([[1.0], [2.0], [3.0]])
    values = torch.tensor([[0.5], [1.0], [1.5]])
    ends = torch.tensor([[0.0], [1.0], [0.0]])
    next_value = torch.tensor([2.0])
    g, lam = 0.9, 0.8
    # when
    adv, ret = compute_gae(rewards, values, ends, next_value, g, lam)
    # then
    d2 = 3.0 + g * 2.0 - 1.5
    d1 = 2.0 - 1.0  # episode ended: no bootstrap, no carry
    d0 = 1.0 + g * 1.0 - 0.5
    want = torch.tensor([[d0 + g * lam * d1], [d1], [d2]])
    torch.testing.assert_close(adv, want)
    torch.testing.assert_close(ret, want + values)


def test_policy_samples_are_valid_allocations(noise_market):
    env = VecPortfolioEnv(noise_market, TOY, num_envs=8)
    agent = _agent(env, 1)
    obs = env.reset()
    for deterministic in (True, False):
        w = agent.act(obs, deterministic=deterministic)
        assert (w >= 0).all()
        torch.testing.assert_close(w.sum(1), torch.ones(8))


@pytest.mark.slow  # trains PPO to convergence (~3 s here): make test runs it in its slow stage
def test_ppo_learns_to_hold_the_dominant_asset(dominant_market):
    # given: asset 0 earns 40 bp/day at half the others' volatility
    env = VecPortfolioEnv(dominant_market, TOY, num_envs=32, seed=0)
    agent = _agent(env, 200)
    # when
    history = agent.train(env)
    # then: more than 90 % on asset 0 in fresh states
    eval_env = VecPortfolioEnv(dominant_market, TOY, num_envs=64, seed=99)
    weights = agent.act(eval_env.reset())
    assert weights[:, 0].mean().item() > 0.9
    assert {"approx_kl", "clip_fraction", "explained_variance"} <= history[-1].keys()


@pytest.mark.parametrize("bf16", [True, False])
def test_seeded_training_is_deterministic(noise_market, bf16):
    runs = []
    for _ in range(2):
        env = VecPortfolioEnv(noise_market, TOY, num_envs=8, seed=1)
        agent = _agent(env, 3, seed=7, bf16_training=bf16)
        agent.train(env)
        runs.append(agent.act(VecPortfolioEnv(noise_market, TOY, num_envs=4, seed=2).reset()))
    assert torch.equal(runs[0], runs[1])


def test_save_load_gives_identical_actions_and_state(noise_market, tmp_path):
    # given
    env = VecPortfolioEnv(noise_market, TOY, num_envs=8, seed=1)
    agent = _agent(env, 2)
    agent.meta = {"symbols": ["A", "B", "C", "D"]}
    agent.train(env)
    # when
    agent.save(tmp_path / "ppo.pt")
    loaded = PPOAgent.load(tmp_path / "ppo.pt")
    # then
    obs = VecPortfolioEnv(noise_market, TOY, num_envs=16, seed=3).reset()
    assert torch.equal(agent.act(obs), loaded.act(obs))
    assert loaded.config == agent.config and loaded.env_config == TOY
    assert loaded.meta == {"symbols": ["A", "B", "C", "D"]}
    assert torch.equal(loaded.obs_rms.mean, agent.obs_rms.mean)
    assert loaded.optimizer.state_dict()["state"].keys() == agent.optimizer.state_dict()["state"].keys()


def test_checkpoints_are_written_during_training(noise_market, tmp_path):
    env = VecPortfolioEnv(noise_market, TOY, num_envs=4, seed=1)
    cfg = PPOConfig(total_timesteps=4 * 16 * 4, num_envs=4, num_steps=16, hidden=16, checkpoint_every=2)
    agent = PPOAgent(env.obs_dim, env.action_dim, cfg, TOY)
    agent.train(env, checkpoint_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ppo_update_00002.pt", "ppo_update_00004.pt"]


def test_bf16_trunk_stays_close_to_float32():
    # given: a freshly initialised network (the update's first minibatch) and normalised inputs
    torch.manual_seed(0)
    net = ActorCritic(377, 18, hidden=256)
    obs = torch.randn(512, 377)
    raw = torch.randn(512, 18)
    # when: the same forward in float32 and with the bfloat16 trunk
    with torch.no_grad():
        d32, v32 = net.dist(obs)
        d16, v16 = net.dist(obs, bf16=True)
    # then: outputs are float32 and close enough that the PPO ratio starts near 1
    # (bfloat16 keeps 8 significant bits; the clip range is 0.2)
    assert d16.mean.dtype == torch.float32 and v16.dtype == torch.float32
    ratio = (d16.log_prob(raw).sum(-1) - d32.log_prob(raw).sum(-1)).exp()
    assert (ratio - 1).abs().max().item() < 0.01
    assert (v16 - v32).abs().max().item() < 0.05 * v32.abs().max().item()
    # and the gradients agree in direction
    g = []
    for bf16 in (False, True):
        net.zero_grad()
        mean, value = net(obs, bf16)
        (mean.square().mean() + value.square().mean()).backward()
        g.append(torch.cat([p.grad.flatten() for p in net.trunk.parameters()]))
    cosine = torch.nn.functional.cosine_similarity(g[0], g[1], dim=0).item()
    assert cosine > 0.99


def test_running_mean_std_matches_numpy_over_batches():
    # given: three batches of observations
    torch.manual_seed(1)
    batches = [torch.randn(n, 5) * 3 + 2 for n in (7, 50, 13)]
    rms = RunningMeanStd(5, epsilon=0.0)
    # when
    for b in batches:
        rms.update(b)
    # then: the population mean and variance of everything seen
    everything = torch.cat(batches).double()
    torch.testing.assert_close(rms.mean, everything.mean(0))
    torch.testing.assert_close(rms.var, everything.var(0, unbiased=False))


def test_fast_tanh_matches_torch_tanh_and_its_gradient():
    from mlagents.rl.common import FastTanh

    # given: values across tanh's range, including saturation
    x = torch.linspace(-12, 12, 2001, dtype=torch.float64, requires_grad=True)
    x32 = x.detach().float().requires_grad_(True)
    # when
    y = FastTanh()(x32)
    y.sum().backward()
    # then: the function and its derivative 1 - tanh^2, to float32 rounding
    torch.testing.assert_close(y.double(), torch.tanh(x.detach()), atol=2e-7, rtol=0)
    torch.testing.assert_close(x32.grad.double(), 1 - torch.tanh(x.detach()) ** 2, atol=5e-7, rtol=0)
    assert torch.autograd.gradcheck(FastTanh(), (x[::100].detach().clone().requires_grad_(True),))
