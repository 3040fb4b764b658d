"""The cash trigger fires on money to invest, not on cash the allocation keeps on purpose."""

import pytest

from rebalancer.autopilot.triggers import CASH_TRIGGER_MIN_WEIGHT, cash_trigger


def test_a_deposit_beyond_the_buffer_triggers():
    # given 12 % cash in a 100,000 portfolio whose targets keep 2 %
    trigger = cash_trigger(12_000.0, 100_000.0, 0.02, 50.0)
    # then 10,000 is to invest
    assert trigger is not None
    assert trigger.kind == "cash"
    assert trigger.value == pytest.approx(10_000.0)


def test_a_falling_market_does_not_retrade_the_buffer():
    # given the 2 % buffer (2,000) after the portfolio fell 10 % to 90,000:
    # 200 over the buffer, more than the 50 minimum trade but under 1 % of the value
    assert cash_trigger(2_000.0, 90_000.0, 0.02, 50.0) is None


def test_cash_the_strategy_keeps_on_purpose_does_not_trigger():
    # given a defensive allocation that keeps 50 % in cash, and 50.5 % cash held
    assert cash_trigger(50_500.0, 100_000.0, 0.50, 50.0) is None


def test_the_floor_is_one_percent_or_the_minimum_trade_whichever_is_larger():
    assert CASH_TRIGGER_MIN_WEIGHT == 0.01
    assert cash_trigger(3_001.0, 100_000.0, 0.02, 50.0) is not None  # 1,001 > 1,000
    assert cash_trigger(3_000.0, 100_000.0, 0.02, 50.0) is None  # exactly 1 %: not beyond it
    assert cash_trigger(2_600.0, 10_000.0, 0.02, 2_500.0) is None  # 2,400 < the 2,500 minimum trade
