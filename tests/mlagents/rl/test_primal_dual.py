import numpy as np
import pytest
import torch

from mlagents.rl.env import EnvConfig, VecPortfolioEnv
from mlagents.rl.primal_dual import (
    PrimalDualAgent,
    PrimalDualConfig,
    constraint_residuals,
    cvar_of_losses,
    violation_summary,
)

TOY = EnvConfig(window=5, vol_window=5, episode_length=16)


def _market() -> np.ndarray:
    rng = np.random.default_rng(0)
    n = 400
    return np.column_stack(
        [rng.normal(0.004, 0.005, n), rng.normal(0.0005, 0.01, n), rng.normal(0.0005, 0.01, n)]
    )


def _train(use_multipliers: bool) -> tuple[PrimalDualAgent, list[dict]]:
    env = VecPortfolioEnv(_market(), TOY, num_envs=32, seed=0)
    cfg = PrimalDualConfig(
        iterations=100, num_envs=32, hidden=32, learning_rate=3e-3, use_multipliers=use_multipliers
    )
    agent = PrimalDualAgent(3, env.obs_dim, cfg, TOY, seed=0)
    return agent, agent.train(env)


def test_cvar_is_the_mean_of_the_worst_tail():
    r = torch.tensor([[0.01, -0.05, 0.02, -0.01, 0.00, -0.03, 0.04, 0.01, -0.02, 0.03]])
    # 20 % tail of 10 days: the two worst losses, 5 % and 3 %
    torch.testing.assert_close(cvar_of_losses(r, 0.8), torch.tensor([0.04]))


def test_residuals_and_summary_by_hand():
    g = constraint_residuals(
        torch.tensor([[-0.06, 0.0]]),
        torch.tensor([[[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]]]),
        torch.tensor([[0.6, 0.2]]),
        cvar_alpha=0.5, cvar_limit=0.03, max_turnover=0.5, max_weight=0.4,
    )
    torch.testing.assert_close(g["cvar"], torch.tensor([1.0]))
    torch.testing.assert_close(g["turnover"], torch.tensor([[0.2, -0.6]]))
    torch.testing.assert_close(g["concentration"], torch.tensor([[0.25, -0.5]]))
    s = violation_summary(g)
    assert s["violation_rate"] == 3 / 5
    assert abs(s["mean_residual"] - (1.0 + 0.2 + 0.25) / 5) < 1e-6


@pytest.mark.slow  # trains two agents (~7 s here): make test runs it in its slow stage
def test_multipliers_cut_constraint_violations():
    # given: a market where the unconstrained optimum piles into one asset (cap 40 %)
    # when
    constrained, hist_c = _train(use_multipliers=True)
    free, hist_f = _train(use_multipliers=False)
    # then: evaluated on the last 10 iterations of training
    rate_c = np.mean([h["violation_rate"] for h in hist_c[-10:]])
    rate_f = np.mean([h["violation_rate"] for h in hist_f[-10:]])
    res_c = np.mean([h["mean_residual"] for h in hist_c[-10:]])
    res_f = np.mean([h["mean_residual"] for h in hist_f[-10:]])
    assert rate_c < rate_f
    assert res_c < 0.1 * res_f
    obs = VecPortfolioEnv(_market(), TOY, num_envs=16, seed=5).reset()
    assert free.act(obs)[:, 0].min() > 0.9
    assert constrained.act(obs)[:, 0].max() < 0.5
    assert hist_c[-1]["rho"] > 1.0  # the penalty grew while violations persisted


def test_critic_y_learns_execution_from_observations():
    # given: investors execute small trades and refuse large ones
    env = VecPortfolioEnv(_market(), TOY, num_envs=64, seed=0)
    agent = PrimalDualAgent(3, env.obs_dim, PrimalDualConfig(hidden=32), TOY, seed=0)
    obs = env.reset()
    agent.obs_rms.update(obs)
    actions = torch.distributions.Dirichlet(torch.ones(4)).sample((64,))
    current = env.weights.clone()
    executed = ((actions[:, :-1] - current[:, :-1]).abs().sum(1) < 0.7).float()
    # when
    agent.fit_execution(obs, actions, current, executed, epochs=300)
    # then
    q = agent.critic_y(agent.normalize(obs), actions, current).detach()
    assert ((q > 0.5).float() == executed).float().mean() > 0.9


def test_save_load_gives_identical_actions(tmp_path):
    env = VecPortfolioEnv(_market(), TOY, num_envs=8, seed=0)
    agent = PrimalDualAgent(3, env.obs_dim, PrimalDualConfig(iterations=3, num_envs=8, hidden=16), TOY)
    agent.train(env)
    agent.save(tmp_path / "pd.pt")
    loaded = PrimalDualAgent.load(tmp_path / "pd.pt")
    obs = env.reset()
    assert torch.equal(agent.act(obs), loaded.act(obs))
    assert loaded.rho == agent.rho


def test_the_first_building_trade_can_be_exempt_from_the_turnover_limit():
    # given: episodes that start in cash, so every first decision trades about everything
    env_cfg = EnvConfig(window=5, vol_window=5, episode_length=8)
    rates = {}
    for exempt in (False, True):
        env = VecPortfolioEnv(_market(), env_cfg, num_envs=16, seed=0)
        cfg = PrimalDualConfig(iterations=1, num_envs=16, hidden=8, max_turnover=0.05, exempt_first_trade=exempt)
        agent = PrimalDualAgent(3, env.obs_dim, cfg, env_cfg, seed=0)
        rates[exempt] = agent.train(env)[0]["turnover_violation_rate"]
    # then: the same first iteration (same actions), one check fewer per episode, and the
    # exempt one was always a breach
    assert rates[False] == pytest.approx((rates[True] * 7 + 1) / 8)


def test_production_sizing_sets_the_turnover_limit_from_the_goal():
    from mlagents.rl.sizing import DEFAULT_ENV, TURNOVER_PER_YEAR, engine_build

    agent, envs = engine_build(algorithm="primal_dual", n_assets=3, obs_dim=DEFAULT_ENV.window * 3 + 3 + 4 + 2,
                               env_config=DEFAULT_ENV, episodes=64, seed=0, asset_classes=["equity"] * 3)
    assert (agent.config.max_turnover, agent.config.exempt_first_trade) == (pytest.approx(3.0 * 5 / 252), True)
    assert TURNOVER_PER_YEAR == 3.0 and (envs, agent.config.iterations) == (32, 2)
    loose, _ = engine_build(algorithm="primal_dual", n_assets=3, obs_dim=DEFAULT_ENV.window * 3 + 3 + 4 + 2,
                            env_config=DEFAULT_ENV, episodes=64, seed=0, asset_classes=["equity"] * 3,
                            overrides={"max_turnover": 0.5, "exempt_first_trade": False})
    assert (loose.config.max_turnover, loose.config.exempt_first_trade) == (0.5, False)
