import numpy as np
import pandas as pd
import pytest

from risk.measures import RiskInputError
from risk.measures.alerts import evaluate_alert_rules
from risk.measures.correlation import average_pairwise_correlation, rolling_average_correlation
from risk.measures.sizing import (
    atr_position_size,
    drawdown_hedge_ratio,
    kelly_fraction,
    volatility_target_leverage,
)


def test_kelly_is_the_textbook_fraction_within_the_caps():
    # f* = 0.6 - 0.4 / 2 = 0.4, capped at 25 %
    assert kelly_fraction(0.6, 2.0, 1.0) == 0.25
    # f* = 0.55 - 0.45 / 1 = 0.10
    assert kelly_fraction(0.55, 1.0, 1.0) == pytest.approx(0.10)
    # f* = 0.505 - 0.495 = 0.01 -> floor at 1 % after half Kelly (0.005)
    assert kelly_fraction(0.505, 1.0, 1.0, kelly_multiplier=0.5) == pytest.approx(0.01)
    # no edge: do not bet
    assert kelly_fraction(0.4, 1.0, 1.0) == 0.0


def test_volatility_target_leverage_is_clipped_to_its_range():
    assert volatility_target_leverage(0.30, 0.15) == pytest.approx(0.5)
    assert volatility_target_leverage(0.05, 0.15, max_leverage=2.0) == 2.0
    assert volatility_target_leverage(0.30, 0.15, min_leverage=1.0, max_leverage=10.0) == 1.0


def test_atr_size_risks_the_budget_at_the_stop():
    # 10,000 * 1 % / 5 points = 20 units at 100 = 2,000 notional (under the 25 % cap)
    size = atr_position_size(10_000, atr=2.0, entry_price=100, stop_loss_points=5)
    assert (size.units, size.notional, size.stop_price, size.risk_amount) == (20.0, 2000.0, 95.0, 100.0)
    assert not size.capped
    # a tight stop of 2 * 0.5 ATR would mean 100 units = 10,000: capped at 25 units
    tight = atr_position_size(10_000, atr=0.5, entry_price=100)
    assert tight.capped and tight.units == pytest.approx(25.0)
    with pytest.raises(RiskInputError):
        atr_position_size(10_000, atr=0.0, entry_price=100)


def test_hedge_ratio_ramps_between_threshold_and_full_hedge():
    assert drawdown_hedge_ratio(0.05) == 0.0
    assert drawdown_hedge_ratio(0.125) == pytest.approx(0.5)
    assert drawdown_hedge_ratio(0.30) == 1.0


def _rules(**overrides):
    args = dict(var_1d=0.02, var_limit=0.02, current_drawdown=0.10, drawdown_limit=0.10,
                weights={"A": 0.10, "B": 0.05}, position_limit=0.10,
                average_correlation=0.8, correlation_limit=0.8)
    return [s.rule for s in evaluate_alert_rules(**(args | overrides))]


def test_no_rule_fires_exactly_at_the_limits():
    assert _rules() == []


@pytest.mark.parametrize(("override", "rule", "severity"), [
    ({"var_1d": 0.0201}, "var_breach", "critical"),
    ({"current_drawdown": 0.1001}, "drawdown", "critical"),
    ({"weights": {"A": 0.1001}}, "concentration", "warning"),
    ({"average_correlation": 0.8001}, "correlation_spike", "warning"),
])
def test_each_rule_fires_just_beyond_its_limit(override, rule, severity):
    signals = evaluate_alert_rules(**(dict(
        var_1d=0.02, var_limit=0.02, current_drawdown=0.10, drawdown_limit=0.10,
        weights={"A": 0.10}, average_correlation=0.8) | override))
    assert [(s.rule, s.severity) for s in signals] == [(rule, severity)]


def test_disabled_limits_never_fire():
    assert _rules(var_1d=0.5, var_limit=None, current_drawdown=0.9, drawdown_limit=None,
                  position_limit=None, weights={"A": 1.0}, average_correlation=None) == []


def test_average_pairwise_correlation_matches_pandas():
    # given
    rng = np.random.default_rng(1)
    panel = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("ABCD"))
    panel["D"] = panel["A"] * 0.9 + panel["D"] * 0.1
    corr = panel[["A", "B", "D"]].corr().to_numpy()
    # when
    value = average_pairwise_correlation(panel, {"A": 0.5, "B": 0.3, "C": 0.0, "D": 0.2})
    # then
    assert value == pytest.approx(corr[np.triu_indices(3, 1)].mean(), rel=1e-12)
    rolling = rolling_average_correlation(panel, {"A": 0.5, "D": 0.5}, window=60)
    assert len(rolling) == 241
    assert rolling.iloc[-1] == pytest.approx(panel[["A", "D"]].iloc[-60:].corr().iloc[0, 1], rel=1e-9)
