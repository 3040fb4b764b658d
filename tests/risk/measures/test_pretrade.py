import pytest

from risk.measures import RiskInputError, RiskLimits, pre_trade_check, var_historical
from risk.measures.pretrade import CheckResult

NO_RISK_LIMITS = {"max_var": None, "max_position": None, "max_gross_exposure": None}


def _check(report, name) -> CheckResult:
    return next(c for c in report.checks if c.name == name)


def test_a_diversified_proposal_passes_every_check(stock_returns):
    # given
    current = {"AAPL": 0.1, "GE": 0.1}
    proposed = {"AAPL": 0.1, "GE": 0.1, "XOM": 0.1, "JPM": 0.1, "WMT": 0.1}
    limits = RiskLimits(max_var=0.05, max_position=0.10, max_turnover=0.2, max_avg_correlation=0.8)
    # when
    report = pre_trade_check(
        current_weights=current, proposed_weights=proposed, returns=stock_returns, limits=limits
    )
    # then
    assert report.passed
    assert [c.name for c in report.checks] == ["position", "gross_exposure", "var", "correlation", "turnover"]
    assert _check(report, "turnover").value == pytest.approx(0.15)
    expected_var = var_historical(stock_returns, proposed, confidence_level=0.95).var
    assert _check(report, "var").value == pytest.approx(expected_var)
    assert report.proposed_var.var == pytest.approx(expected_var)


def test_position_and_asset_class_limits_fail_with_their_numbers(stock_returns):
    # given
    proposed = {"AAPL": 0.3, "GE": 0.05, "XOM": 0.05}
    limits = RiskLimits(max_var=None, max_position=0.10, max_asset_class={"equity": 0.35, "crypto": 0.05})
    classes = {"AAPL": "equity", "GE": "equity", "XOM": "commodity"}
    # when
    report = pre_trade_check(current_weights={}, proposed_weights=proposed, returns=stock_returns,
                             limits=limits, asset_classes=classes)
    # then
    assert not report.passed
    position = _check(report, "position")
    assert (position.passed, position.value, position.limit) == (False, 0.3, 0.10)
    assert "AAPL" in position.message
    equity = _check(report, "asset_class:equity")
    assert equity.passed and equity.value == pytest.approx(0.35)
    assert _check(report, "asset_class:crypto").value == 0.0
    assert [c.name for c in report.failed] == ["position"]


def test_var_limit_fails_exactly_when_var_exceeds_it(stock_returns):
    # given
    proposed = {"AAPL": 0.5, "JPM": 0.5}
    var = var_historical(stock_returns, proposed).var
    # when
    at_limit = pre_trade_check(current_weights={}, proposed_weights=proposed, returns=stock_returns,
                               limits=RiskLimits(max_var=var, max_position=None))
    below = pre_trade_check(current_weights={}, proposed_weights=proposed, returns=stock_returns,
                            limits=RiskLimits(max_var=var * 0.999, max_position=None))
    # then
    assert at_limit.passed
    assert not below.passed and _check(below, "var").value == pytest.approx(var)


def test_excluded_symbols_short_positions_and_leverage_fail(stock_returns):
    # given
    limits = RiskLimits(max_var=None, max_position=None, excluded_symbols=frozenset({"XOM"}))
    # when
    report = pre_trade_check(current_weights={}, proposed_weights={"XOM": 0.6, "GE": 0.6, "JPM": -0.1},
                             returns=stock_returns, limits=limits)
    # then
    assert not _check(report, "excluded").passed
    assert _check(report, "excluded").value == pytest.approx(0.6)
    gross = _check(report, "gross_exposure")
    assert not gross.passed and "JPM" in gross.message


def test_liquidity_limit_uses_trade_size_over_average_daily_value(stock_returns):
    # given a 10 % trade of a 1,000,000 portfolio in a symbol trading 2,000,000 a day: 5 %
    limits = RiskLimits(**NO_RISK_LIMITS, max_adv_fraction=0.04)
    # when
    report = pre_trade_check(current_weights={"GE": 0.1}, proposed_weights={"GE": 0.2},
                             returns=stock_returns, limits=limits,
                             liquidity={"GE": 2_000_000.0}, portfolio_value=1_000_000.0)
    # then
    check = _check(report, "liquidity")
    assert not check.passed and check.value == pytest.approx(0.05)


def test_drawdown_limit_replays_the_proposed_weights(stock_returns):
    # given JPM fell far more than 30 % in 2008
    limits = RiskLimits(**NO_RISK_LIMITS, max_drawdown=0.30)
    # when
    report = pre_trade_check(current_weights={}, proposed_weights={"JPM": 1.0},
                             returns=stock_returns, limits=limits)
    # then
    assert not report.passed and _check(report, "max_drawdown").value > 0.5


def test_non_finite_or_unknown_weights_are_input_errors(stock_returns):
    with pytest.raises(RiskInputError) as info:
        pre_trade_check(current_weights={}, proposed_weights={"GE": float("nan")},
                        returns=stock_returns, limits=RiskLimits())
    assert info.value.field == "proposed_weights"
    with pytest.raises(RiskInputError) as info:
        pre_trade_check(current_weights={}, proposed_weights={"ZZZ": 0.05},
                        returns=stock_returns, limits=RiskLimits())
    assert info.value.field == "weights"
