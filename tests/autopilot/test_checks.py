"""Pre-trade checks of the cycle: shared per target, identical to checking each move alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rebalancer.autopilot import checks as checks_module
from rebalancer.autopilot.checks import checks_run
from rebalancer.autopilot.types import RiskLimits
from risk.measures.pretrade import RiskLimits as EngineLimits
from risk.measures.pretrade import pre_trade_check

SYMBOLS = ("AAA", "BBB", "CCC", "DDD")
CLASSES = {"AAA": "equity", "BBB": "equity", "CCC": "bond", "DDD": "bond"}
LIMITS = RiskLimits(max_position=0.3, max_asset_class=0.6, max_var_95=0.012, max_drawdown=0.25,
                    max_turnover=0.4, excluded_symbols=("DDD",))


def _returns() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    idx = pd.bdate_range("2023-01-02", periods=250)
    return pd.DataFrame(rng.normal(0.0003, 0.01, (250, 4)), index=idx, columns=SYMBOLS)


def _weights(rng) -> dict[str, float]:
    raw = rng.random(4)
    raw[rng.random(4) < 0.25] = 0.0
    return {s: float(w) for s, w in zip(SYMBOLS, raw / max(raw.sum(), 1e-9) * 0.97, strict=True) if w > 0}


def _single_call(current, proposed, returns) -> tuple:
    """What checks_run returned before the split: one pre_trade_check of the whole move."""
    report = pre_trade_check(
        current_weights=current, proposed_weights=proposed, returns=returns,
        limits=EngineLimits(max_var=LIMITS.max_var_95, var_confidence=0.95, var_method="historical",
                            max_position=LIMITS.max_position,
                            max_asset_class={"bond": 0.6, "equity": 0.6}, max_turnover=LIMITS.max_turnover,
                            max_gross_exposure=1.0 + 1e-6, excluded_symbols=frozenset({"DDD"})),
        asset_classes=CLASSES,
    )
    return tuple((c.name, c.passed, c.value, c.limit, c.message) for c in report.checks)


def test_shared_checks_equal_one_check_of_each_move():
    # given 40 portfolios moving from their own weights to one of three shared targets
    rng = np.random.default_rng(0)
    returns = _returns()
    targets = [_weights(rng) for _ in range(3)]
    cache: dict = {}
    for i in range(40):
        current = _weights(rng)
        proposed = targets[i % 3]
        # when checked with the shared cache
        shared = checks_run(current=current, proposed=proposed, returns=returns, limits=LIMITS,
                            asset_classes=CLASSES, cache=cache)
        # then every check, number and message equals the single whole-move check
        assert tuple((c.name, c.passed, c.value, c.limit, c.message) for c in shared) == _single_call(
            current, proposed, returns
        )
    assert [c.name for c in shared] == [
        "position", "asset_class:bond", "asset_class:equity", "excluded", "gross_exposure", "var", "turnover",
    ]


def test_var_of_a_shared_target_is_computed_once(monkeypatch):
    # given a counting VaR
    calls = []
    real = checks_module.pre_trade_check

    def counting(**kwargs):
        calls.append(kwargs["limits"].max_var)
        return real(**kwargs)

    monkeypatch.setattr(checks_module, "pre_trade_check", counting)
    returns, cache = _returns(), {}
    proposed = {"AAA": 0.3, "BBB": 0.2, "CCC": 0.45}
    # when ten portfolios move to the same target
    for q in range(10):
        checks_run(current={"AAA": q / 20}, proposed=dict(proposed), returns=returns, limits=LIMITS,
                   asset_classes=CLASSES, cache=cache)
    # then the VaR limit was evaluated once; the turnover once per portfolio
    assert calls.count(LIMITS.max_var_95) == 1
    assert calls.count(None) == 10


def test_unusable_weights_are_one_failed_check_with_or_without_cache():
    # given a current weight that is not a number
    returns = _returns()
    for cache in (None, {}):
        # when
        result = checks_run(current={"AAA": float("nan")}, proposed={"AAA": 0.3}, returns=returns,
                            limits=LIMITS, asset_classes=CLASSES, cache=cache)
        # then
        assert [(c.name, c.passed) for c in result] == [("inputs", False)]
        assert result[0].message == "weights must be finite numbers"


@pytest.mark.parametrize("cached", [False, True])
def test_missing_history_fails_the_inputs_check(cached):
    # given a target holding a symbol without returns
    result = checks_run(current={}, proposed={"ZZZ": 0.5}, returns=_returns(), limits=LIMITS,
                        asset_classes=CLASSES, cache={} if cached else None)
    # then
    assert [(c.name, c.passed) for c in result] == [("inputs", False)]
