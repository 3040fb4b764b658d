"""Trade generation: ordering, costs, minimums, whole/fractional shares, cash never negative."""

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolios.trading import (
    CostModel,
    TradeGenerationError,
    TradeSettings,
    drift,
    trades_generate,
    turnover,
    weights_current,
)

COSTLY = TradeSettings(
    min_trade_value=D("10"),
    fractional_shares=False,
    cash_buffer=D("0.01"),
    commission_rate=D("0.001"),
    commission_min=D("1"),
    slippage_bps=D("10"),
)


def test_sells_come_before_buys_and_costs_match_the_cost_model():
    # given 100 A at 10 (1000) and 1000 cash; targets 30/30/40 over A, B, C
    prices = {"A": D("10"), "B": D("20"), "C": D("5")}
    # when
    trades = trades_generate(
        quantities={"A": D(100)}, prices=prices, cash=D(1000),
        target_weights={"A": 0.3, "B": 0.3, "C": 0.4}, settings=COSTLY,
    )
    # then the sell of A is first; buys follow, largest shortfall (C) first
    assert [(t.side, t.symbol) for t in trades] == [("sell", "A"), ("buy", "C"), ("buy", "B")]
    sell = trades[0]
    # 1 % buffer: invested weights scale to 0.99 → A target 594/10 = 59.4 → sell floor(40.6) = 40
    assert sell.quantity == D(40)
    assert sell.est_price == D("9.990000")  # 10 bps slippage against the seller
    assert sell.est_commission == D("1.0000")  # 0.1 % of 399.6 = 0.3996 < minimum 1
    assert sell.est_cash_flow == D("398.6000")  # 399.6 - 1
    assert sell.est_cost == D("1.4000")  # commission 1 + slippage 40 x 0.01
    buy_c = trades[1]
    assert buy_c.est_price == D("5.005000")
    assert buy_c.est_cash_flow == -(buy_c.quantity * D("5.005") + buy_c.est_commission)


def test_cash_after_trades_keeps_the_buffer_and_never_goes_negative():
    # given
    prices = {"A": D("10"), "B": D("20"), "C": D("5")}
    # when
    trades = trades_generate(
        quantities={"A": D(100)}, prices=prices, cash=D(1000),
        target_weights={"A": 0.3, "B": 0.3, "C": 0.4}, settings=COSTLY,
    )
    # then
    cash_after = D(1000) + sum(t.est_cash_flow for t in trades)
    assert cash_after >= D("20")  # 1 % of 2000
    assert all(t.quantity == t.quantity.to_integral_value() for t in trades)


def test_orders_under_the_minimum_value_are_skipped():
    # given a portfolio 1 share away from target (value 10 < minimum 50)
    settings_ = TradeSettings(min_trade_value=D("50"), cash_buffer=D("0"), commission_rate=D("0"), slippage_bps=D("0"))
    # when
    trades = trades_generate(
        quantities={"A": D(49)}, prices={"A": D("10")}, cash=D("10"),
        target_weights={"A": 1.0}, settings=settings_,
    )
    # then
    assert trades == []


def test_symbols_absent_from_targets_are_sold_out_including_fractions():
    # given
    settings_ = TradeSettings(cash_buffer=D("0"), min_trade_value=D("1"))
    # when
    trades = trades_generate(
        quantities={"A": D("3.25"), "B": D(10)}, prices={"A": D(100), "B": D(10)}, cash=D(0),
        target_weights={"B": 1.0}, settings=settings_,
    )
    # then
    assert next((t.side, t.symbol, t.quantity) for t in trades) == ("sell", "A", D("3.25"))
    assert "not in the target allocation" in trades[0].reason


def test_fractional_shares_are_floored_to_eight_places():
    # given
    settings_ = TradeSettings(cash_buffer=D("0"), commission_rate=D("0"), slippage_bps=D("0"), min_trade_value=D("1"))
    # when
    trades = trades_generate(
        quantities={}, prices={"A": D("3")}, cash=D(100), target_weights={"A": 1.0}, settings=settings_,
    )
    # then 100/3 = 33.333333333... → 33.33333333
    assert trades[0].quantity == D("33.33333333")


def test_buys_are_scaled_down_proportionally_when_cash_is_short():
    # given targets that need 1000 but only ~500 cash after costs (weights of a larger value)
    settings_ = TradeSettings(cash_buffer=D("0"), commission_rate=D("0.01"), slippage_bps=D("0"), min_trade_value=D("1"))
    # when
    trades = trades_generate(
        quantities={}, prices={"A": D(1), "B": D(1)}, cash=D(1000),
        target_weights={"A": 0.5, "B": 0.5}, settings=settings_,
    )
    # then both buys fit in 1000 including 1 % commission, and are equal
    spent = -sum(t.est_cash_flow for t in trades)
    assert spent <= D(1000)
    assert trades[0].quantity == trades[1].quantity


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"quantities": {"A": D(-1)}}, "quantities"),
        ({"target_weights": {"A": 0.7, "B": 0.7}}, "target_weights"),
        ({"target_weights": {"A": -0.1}}, "target_weights"),
        ({"target_weights": {"Z": 0.5}}, "prices"),
    ],
)
def test_unusable_inputs_raise_naming_the_field(kwargs, field):
    # given
    args = {"quantities": {}, "prices": {"A": D(1), "B": D(1)}, "cash": D(100), "target_weights": {"A": 0.5}}
    args.update(kwargs)
    # when / then
    with pytest.raises(TradeGenerationError) as err:
        trades_generate(settings=TradeSettings(), **args)
    assert err.value.field == field


def test_weights_drift_and_turnover():
    # given / when
    weights = weights_current(quantities={"A": D(10)}, prices={"A": D(5)}, cash=D(50))
    # then
    assert weights == {"A": 0.5}
    assert drift(weights, {"A": 0.6, "B": 0.2}) == pytest.approx(0.2)
    assert turnover(weights, {"A": 0.6, "B": 0.2}) == pytest.approx(0.15)


def test_cost_model_rounds_against_the_trader():
    # given
    costs = CostModel(commission_rate=D("0.0005"), commission_min=D("0"), slippage_bps=D("5"))
    # when / then
    assert costs.fill_price(D("33.333333"), "buy") == D("33.350000")  # 33.3499996... rounded up
    assert costs.fill_price(D("33.333333"), "sell") == D("33.316666")
    assert costs.commission(D("0")) == D("0")


@settings(max_examples=150, deadline=None)
@given(
    held=st.dictionaries(st.sampled_from("ABCDE"), st.decimals("0", "500", places=3), max_size=5),
    prices=st.fixed_dictionaries({s: st.decimals("0.5", "900", places=2) for s in "ABCDE"}),
    cash=st.decimals("0", "50000", places=2),
    raw=st.lists(st.floats(0, 1), min_size=5, max_size=5),
    fractional=st.booleans(),
    commission_min=st.sampled_from([D("0"), D("1"), D("5")]),
)
def test_property_no_plan_oversells_or_overspends(held, prices, cash, raw, fractional, commission_min):
    # given random holdings, prices, cash and targets summing to at most 1
    total = sum(raw) or 1.0
    targets = {s: w / max(total, 1.0) for s, w in zip("ABCDE", raw, strict=True)}
    settings_ = TradeSettings(
        min_trade_value=D("10"), fractional_shares=fractional, cash_buffer=D("0.02"),
        commission_rate=D("0.001"), commission_min=commission_min, slippage_bps=D("10"),
    )
    # when
    trades = trades_generate(quantities=held, prices=prices, cash=cash, target_weights=targets, settings=settings_)
    # then sells come first, never exceed holdings; cash never goes negative at any step
    sides = [t.side for t in trades]
    assert sides == sorted(sides, key=lambda s: s != "sell")
    running = cash
    for t in trades:
        assert t.quantity > 0
        if t.side == "sell":
            assert t.quantity <= held.get(t.symbol, D(0))
        running += t.est_cash_flow
        assert running >= 0
