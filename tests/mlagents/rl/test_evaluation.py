import numpy as np
import pytest

from mlagents.rl.env import EnvConfig
from mlagents.rl.evaluation import (
    PromotionDecision,
    Split,
    buy_and_hold_policy,
    episode_success_rate,
    equal_weight_policy,
    evaluate_walk_forward,
    evaluate_window,
    promotion_decision,
    run_policy,
    validation_sharpe,
    window_success_rate,
)


def test_equal_weight_monthly_backtest_matches_a_hand_loop():
    # given
    r = np.random.default_rng(1).normal(0.0005, 0.01, size=(200, 3))
    cfg = EnvConfig(window=5, vol_window=5, decision_interval=21, cost_rate=0.001)
    # when
    bt = run_policy(r, equal_weight_policy, cfg, start=20)
    # then: rebalance to 1/3 every 21 days, paying 10 bp on the traded amount
    w, value, daily = np.zeros(3), 1.0, []
    for k, day in enumerate(range(21, 21 + 21 * len(bt.turnover))):
        if k % 21 == 0:
            target = np.full(3, 1 / 3)
            cost = 0.001 * np.abs(target - w).sum()
            start_value, value, w = value, value * (1 - cost), target
        growth = 1 + w @ r[day]
        new = value * growth
        daily.append(new / (start_value if k % 21 == 0 else value) - 1)
        w, value = w * (1 + r[day]) / growth, new
    np.testing.assert_allclose(bt.daily_returns, daily, rtol=1e-5, atol=1e-7)


def test_buy_and_hold_trades_once():
    r = np.random.default_rng(2).normal(0.0005, 0.01, size=(150, 3))
    bt = run_policy(r, buy_and_hold_policy, EnvConfig(window=5, vol_window=5, decision_interval=21), start=10)
    assert bt.turnover[0] == pytest.approx(1.0)
    assert np.abs(bt.turnover[1:]).max() < 1e-6


def test_walk_forward_table_has_every_baseline_and_metric():
    r = np.random.default_rng(3).normal(0.0004, 0.01, size=(500, 3))
    table = evaluate_walk_forward(
        r, test_start=400, agents={"ew": (equal_weight_policy, EnvConfig(decision_interval=21))}
    )
    assert set(table) == {"ew", "buy_and_hold", "equal_weight", "min_variance", "max_sharpe"}
    # the same policy and interval: identical rows
    assert table["ew"] == table["equal_weight"]
    assert table["ew"]["total_return"] == pytest.approx(
        np.prod(1 + run_policy(r, equal_weight_policy, EnvConfig(decision_interval=21), start=399).daily_returns) - 1
    )


def test_success_rate_of_the_baseline_against_itself_is_one():
    r = np.random.default_rng(4).normal(0.0004, 0.01, size=(600, 3))
    out = episode_success_rate(r, equal_weight_policy, EnvConfig(decision_interval=21), test_start=300)
    assert out == {"episodes": 9.0, "success_rate": 1.0}


@pytest.mark.parametrize(
    ("candidate", "incumbent", "promote", "reason"),
    [
        (1.2, None, True, "sharpe_ratio 1.200 beats ew (0.800), bh (1.100) on the validation window"),
        (1.0, None, False, "sharpe_ratio 1.000 is below baseline(s) bh (1.100) on the validation window"),
        (1.2, 1.3, False, "sharpe_ratio 1.200 does not beat the active model's 1.300"),
        (1.2, 1.2, False, "sharpe_ratio 1.200 does not beat the active model's 1.200"),
        (None, None, False, "candidate has no sharpe_ratio on the validation window"),
    ],
)
def test_promotion_gate(candidate, incumbent, promote, reason):
    baselines = {"ew": {"sharpe_ratio": 0.8}, "bh": {"sharpe_ratio": 1.1}}
    inc = None if incumbent is None else {"sharpe_ratio": incumbent}
    got = promotion_decision({"sharpe_ratio": candidate}, baselines, inc)
    assert got == PromotionDecision(promote, reason)


def test_validation_never_receives_a_test_row():
    # given: a panel whose test rows are NaN (the environment refuses any NaN it is given)
    r = np.random.default_rng(5).normal(0.0004, 0.01, size=(700, 3))
    split = Split(400, 550, 700)
    poisoned = r.copy()
    poisoned[550:] = np.nan
    cfg = EnvConfig(decision_interval=5)
    # when / then: validation figures are computed without touching the test rows...
    clean_table = evaluate_window(r, split, "validation", agents={"ew": (equal_weight_policy, cfg)})
    assert evaluate_window(poisoned, split, "validation", agents={"ew": (equal_weight_policy, cfg)}) == clean_table
    assert validation_sharpe(poisoned, equal_weight_policy, cfg, split) == validation_sharpe(
        r, equal_weight_policy, cfg, split) == pytest.approx(clean_table["ew"]["sharpe_ratio"])
    assert window_success_rate(poisoned, equal_weight_policy, cfg, split, "validation") == (
        window_success_rate(r, equal_weight_policy, cfg, split, "validation"))
    # ...and exactly the validation days are earned
    assert clean_table["ew"]["total_return"] == pytest.approx(
        np.prod(1 + run_policy(r[:550], equal_weight_policy, cfg, start=399).daily_returns) - 1)
    # while the test window does read them
    with pytest.raises(ValueError, match="NaN"):
        evaluate_window(poisoned, split, "test", agents={"ew": (equal_weight_policy, cfg)})


def test_a_split_orders_its_windows():
    split = Split(10, 20, 30)
    assert (split.window("validation"), split.window("test")) == ((10, 20), (20, 30))
    with pytest.raises(ValueError, match="0 < train_end < validation_end <= end"):
        Split(10, 10, 30)
    with pytest.raises(ValueError, match="unknown window"):
        split.window("train")
