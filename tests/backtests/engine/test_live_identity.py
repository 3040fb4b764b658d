"""The backtest trades exactly like the live pipeline on the same days and inputs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from marketdata.selectors import price_panel_get
from portfolios.models import Trade
from portfolios.services import autonomy_update, cash_deposit, portfolio_create
from rebalancer.autopilot import selectors as autopilot_selectors
from rebalancer.autopilot.services import cycle_run
from rebalancer.backtests.engine.replay import ReplaySpec, replay

pytestmark = pytest.mark.django_db


def test_replay_and_live_cycles_execute_identical_trades(stored_prices, investor):
    # given a live autopilot portfolio: equal weight, monthly reviews, a 1 % band, default
    # costs, the balanced tier's projection and risk overlay (their state carried from one
    # cycle to the next on the cycle runs, as the replay carries it in memory)
    portfolio = portfolio_create(
        owner=investor, name="live", mode="autopilot", strategy="equal_weight"
    )
    autonomy_update(
        portfolio=portfolio,
        data={"calendar": "monthly", "rebalance_threshold": 0.01},
    )
    cash_deposit(portfolio=portfolio, amount=Decimal("100000"))
    days = [d.date() for d in stored_prices.loc["2016-02-01":"2016-04-29"].index]
    config = autopilot_selectors.cycle_inputs_load(portfolio_ids=[portfolio.pk], as_of=days[0])[
        portfolio.pk
    ].config
    # when the live cycle runs on each day, and the backtest replays the same settings
    for day in days:
        cycle_run(portfolio_id=portfolio.pk, as_of=day)
    prices = price_panel_get(symbols=list(config.universe), start=date(2015, 1, 1), end=days[-1])
    spec = ReplaySpec(
        initial_cash=Decimal("100000"),
        autonomy=config,
        asset_classes=dict.fromkeys(config.universe, "equity"),
    )
    result = replay(prices, spec, start=days[0])
    # then every trade, fill price and commission is the same, in the same order
    live = list(
        Trade.objects.filter(portfolio=portfolio)
        .order_by("trade_date", "id")
        .values_list(
            "trade_date",
            "asset__symbol",
            "side",
            "quantity",
            "price",
            "market_price",
            "commission",
            "cash_flow",
        )
    )
    ours = [
        (f.as_of, f.symbol, f.side, f.quantity, f.fill_price, f.price, f.commission, f.cash_flow)
        for f in result.fills
    ]
    assert len(live) >= 8
    assert config.limits.tier == "balanced" and config.overlay.volatility_targeting
    assert {t[0] for t in live} > {days[0]}  # more than the initial investment day
    assert ours == live
    portfolio.refresh_from_db()
    assert result.ledger.cash == portfolio.cash
