"""The risk endpoint's cached computation (issue 21): computed once per ledger version and
market-data revision; a trade or a new price is a new computation, another user a 404."""

from __future__ import annotations

from decimal import Decimal as D

import pandas as pd

from marketdata.services import prices_upsert
from portfolios.services import trades_execute
from portfolios.trading.engine import ProposedTrade
from tests.risk.conftest import DAYS


def _risk(client, portfolio):
    response = client.get(f"/api/v1/portfolios/{portfolio.pk}/risk")
    assert response.status_code == 200, response.content
    return response.json()


def test_second_read_is_served_from_the_cached_computation(investor_client, portfolio, django_assert_max_num_queries):
    # given
    first = _risk(investor_client, portfolio)
    # when: the same state again: no return panel, no exposure read, only the lookups
    with django_assert_max_num_queries(8):
        second = _risk(investor_client, portfolio)
    # then
    assert second == first


def test_a_trade_changes_the_risk_numbers(investor_client, portfolio):
    # given
    before = _risk(investor_client, portfolio)
    # when
    trades_execute(portfolio=portfolio, trades=[ProposedTrade("CRY", "buy", D(5), D(0), D(0), "t")],
                   as_of=DAYS[-1].date())
    # then
    after = _risk(investor_client, portfolio)
    weights_before = {a["symbol"] for a in before["risk_attribution"]["by_asset"]}
    weights_after = {a["symbol"] for a in after["risk_attribution"]["by_asset"]}
    assert weights_before == {"AAA", "BBB", "BND"}
    assert weights_after == {"AAA", "BBB", "BND", "CRY"}
    assert after["var_metrics"]["var_1d"] != before["var_metrics"]["var_1d"]


def test_a_new_price_changes_the_risk_numbers(investor_client, portfolio, market):
    # given
    before = _risk(investor_client, portfolio)
    day = pd.Timestamp(DAYS[-1] + pd.offsets.BDay(1))
    crash = float(market["AAA"].iloc[-1]) * 0.5
    frame = pd.DataFrame([{"date": day.date(), "symbol": "AAA", "open": crash, "high": crash, "low": crash,
                           "close": crash, "adj_close": crash, "volume": 1_000}])
    # when
    prices_upsert(frame=frame, provider="test")
    # then
    after = _risk(investor_client, portfolio)
    assert after["as_of"] == day.date().isoformat()
    assert before["as_of"] == DAYS[-1].date().isoformat()
    assert D(after["portfolio_value"]) < D(before["portfolio_value"])


def test_another_users_portfolio_stays_a_404_after_the_owner_warmed_the_cache(investor_client, other_client, portfolio):
    # given
    _risk(investor_client, portfolio)
    # when
    response = other_client.get(f"/api/v1/portfolios/{portfolio.pk}/risk")
    # then
    assert response.status_code == 404
