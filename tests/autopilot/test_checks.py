"""Pre-trade checks of the cycle: the portfolio's limits, shared per target, the overlay's VaR."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from portfolios.policy import LimitOverrides, policy_limits
from rebalancer.autopilot import checks as checks_module
from rebalancer.autopilot.checks import checks_run

SYMBOLS = ("AAA", "BBB", "CCC", "DDD")
CLASSES = {"AAA": "equity", "BBB": "equity", "CCC": "bond", "DDD": "bond"}
LIMITS = policy_limits(tier="balanced", overrides=LimitOverrides(max_turnover=0.4, max_holdings=3),
                       excluded_symbols=("DDD",))


def _returns() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    idx = pd.bdate_range("2023-01-02", periods=250)
    return pd.DataFrame(rng.normal(0.0003, 0.01, (250, 4)), index=idx, columns=SYMBOLS)


def _by_name(checks):
    return {c.name: c for c in checks}


def test_feasible_targets_pass_every_check():
    checks = checks_run(current={}, proposed={"AAA": 0.25, "BBB": 0.2, "CCC": 0.25}, returns=_returns(),
                        limits=LIMITS, asset_classes=CLASSES, var_forecast=0.009)
    assert all(c.passed for c in checks), [c.message for c in checks if not c.passed]
    assert list(_by_name(checks)) == [
        "excluded", "gross_exposure", "position", "sleeve:equity", "sleeve_min:equity", "sleeve:bonds",
        "sleeve_min:bonds", "sleeve:alternatives", "asset_class:crypto", "holdings", "turnover", "var",
    ]


def test_each_limit_fails_its_own_check_with_the_numbers():
    proposed = {"AAA": 0.40, "BBB": 0.35, "CCC": 0.05, "DDD": 0.10}
    checks = _by_name(checks_run(current={}, proposed=proposed, returns=_returns(), limits=LIMITS,
                                 asset_classes=CLASSES, var_forecast=0.02))
    assert (checks["position"].passed, checks["position"].value) == (False, pytest.approx(0.40))
    assert checks["excluded"].passed is False
    assert (checks["sleeve:equity"].passed, checks["sleeve:equity"].limit) == (False, 0.70)
    assert checks["holdings"].passed is False and checks["holdings"].value == 4.0
    assert checks["turnover"].passed is False
    assert (checks["var"].passed, checks["var"].limit) == (False, LIMITS.max_var_95)


def test_a_sleeve_under_its_floor_is_reported_not_failed():
    checks = _by_name(checks_run(current={}, proposed={"AAA": 0.2, "BBB": 0.1, "CCC": 0.3}, returns=_returns(),
                                 limits=LIMITS, asset_classes=CLASSES))
    assert checks["sleeve_min:equity"].passed is True
    assert "below it on purpose" in checks["sleeve_min:equity"].message


def test_the_target_checks_of_a_shared_target_are_computed_once(monkeypatch):
    calls = []
    real = checks_module.pre_trade_check

    def counting(**kwargs):
        calls.append(kwargs["limits"].max_turnover)
        return real(**kwargs)

    monkeypatch.setattr(checks_module, "pre_trade_check", counting)
    returns, cache = _returns(), {}
    proposed = {"AAA": 0.25, "BBB": 0.2, "CCC": 0.45}
    for q in range(10):
        checks_run(current={"AAA": q / 20}, proposed=dict(proposed), returns=returns, limits=LIMITS,
                   asset_classes=CLASSES, cache=cache)
    # the target's checks once; the turnover (the move) once per portfolio
    assert calls.count(None) == 1
    assert calls.count(LIMITS.max_turnover) == 10


def test_unusable_weights_are_one_failed_check_with_or_without_cache():
    for cache in (None, {}):
        result = checks_run(current={"AAA": float("nan")}, proposed={"AAA": 0.3}, returns=_returns(),
                            limits=LIMITS, asset_classes=CLASSES, cache=cache)
        assert [(c.name, c.passed) for c in result] == [("inputs", False)]
        assert result[0].message == "weights must be finite numbers"
