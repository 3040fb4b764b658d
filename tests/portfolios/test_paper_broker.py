"""The paper broker fills at the close with the cost model's slippage and commission."""

from datetime import date
from decimal import Decimal as D

import pytest

from portfolios.brokers import Broker, BrokerError, Order, PaperBroker
from portfolios.trading import CostModel, TradeSettings, trades_generate


def test_fills_match_the_trade_generators_estimates_exactly():
    # given a plan estimated at the closes, and a broker at the same closes and costs
    settings_ = TradeSettings(commission_rate=D("0.001"), commission_min=D("1"), slippage_bps=D("7"), cash_buffer=D("0"))
    prices = {"A": D("123.45"), "B": D("7.77")}
    plan = trades_generate(quantities={"A": D(10)}, prices=prices, cash=D(500), target_weights={"A": 0.3, "B": 0.7}, settings=settings_)
    broker = PaperBroker(prices=prices, costs=settings_.cost_model)
    # when
    fills = broker.execute([Order(t.symbol, t.side, t.quantity) for t in plan], date(2024, 1, 2))
    # then
    assert [(f.price, f.commission, f.cash_flow) for f in fills] == [(t.est_price, t.est_commission, t.est_cash_flow) for t in plan]
    assert isinstance(broker, Broker)


def test_fill_records_slippage_and_the_close_time():
    broker = PaperBroker(prices={"A": D("100")}, costs=CostModel(commission_rate=D("0.001"), slippage_bps=D("10")))
    (fill,) = broker.execute([Order("A", "buy", D(3), client_ref="x")], date(2024, 1, 2))
    assert (fill.price, fill.market_price, fill.slippage, fill.commission, fill.cash_flow) == (
        D("100.100000"), D("100"), D("0.3000"), D("0.3003"), D("-300.6003"),
    )
    assert fill.executed_at.isoformat() == "2024-01-02T21:00:00+00:00"
    # deterministic reference: a re-run after a crash produces the same broker_ref
    (again,) = broker.execute([Order("A", "buy", D(3), client_ref="x")], date(2024, 1, 2))
    assert again.broker_ref == fill.broker_ref


@pytest.mark.parametrize("order", [Order("Z", "buy", D(1)), Order("A", "hold", D(1)), Order("A", "buy", D(0))])
def test_unfillable_orders_raise(order):
    with pytest.raises(BrokerError):
        PaperBroker(prices={"A": D(1)}).execute([order], date(2024, 1, 2))
