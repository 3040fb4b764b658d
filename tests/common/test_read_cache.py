"""Version-keyed reads (issue 21, common.read_cache): ETag/304 on the investor's hot reads,
a body cache that a trade, a deposit or a new price invalidates in its own transaction,
another user's object still a 404, and a query budget per endpoint."""

from __future__ import annotations

from decimal import Decimal as D

import pandas as pd
import pytest

from marketdata.services import asset_upsert, prices_upsert
from portfolios.services import cash_deposit, trades_execute
from portfolios.trading.engine import ProposedTrade
from rebalancer.autopilot.notifications import notification_create, notification_mark_read
from tests.risk.conftest import CLASSES, DAYS, make_market, make_portfolio


@pytest.fixture
def market(db) -> pd.DataFrame:
    return make_market(CLASSES, DAYS)


@pytest.fixture
def portfolio(investor, market):
    return make_portfolio(investor, {"AAA": "40", "BBB": "30", "BND": "20"})


def _paths(pk: int) -> dict[str, str]:
    p = f"/api/v1/portfolios/{pk}"
    return {"list": "/api/v1/portfolios", "holdings": f"{p}/holdings", "transactions": f"{p}/transactions",
            "risk": f"{p}/risk", "notifications": "/api/v1/notifications", "market": "/api/v1/market/data/AAA"}


def _get(client, path, etag=None):
    return client.get(path, headers={"If-None-Match": etag} if etag else {})


def _etags(client, pk: int) -> dict[str, str]:
    out = {}
    for name, path in _paths(pk).items():
        response = _get(client, path)
        assert response.status_code == 200, (path, response.content)
        out[name] = response.headers["ETag"]
    return out


def _new_close(market, symbol: str, factor: float) -> pd.Timestamp:
    day = pd.Timestamp(DAYS[-1] + pd.offsets.BDay(1))
    close = float(market[symbol].iloc[-1]) * factor
    prices_upsert(frame=pd.DataFrame([{"date": day.date(), "symbol": symbol, "open": close, "high": close,
                                       "low": close, "close": close, "adj_close": close, "volume": 1_000}]),
                  provider="test")
    return day


@pytest.mark.django_db
def test_every_hot_read_answers_304_to_its_own_etag_without_a_body(investor_client, portfolio):
    # given
    etags = _etags(investor_client, portfolio.pk)
    for name, path in _paths(portfolio.pk).items():
        # when
        response = _get(investor_client, path, etags[name])
        # then
        assert response.status_code == 304, name
        assert response.content == b"", name
        assert response.headers["ETag"] == etags[name], name


@pytest.mark.django_db
def test_a_cached_body_is_the_computed_one(investor_client, portfolio, settings):
    # given: the bodies the views compute with the cache off
    settings.API_READ_CACHE = False
    computed = {name: _get(investor_client, path) for name, path in _paths(portfolio.pk).items()}
    settings.API_READ_CACHE = True
    _etags(investor_client, portfolio.pk)  # fills the cache
    for name, path in _paths(portfolio.pk).items():
        # when: served from the cache
        cached = _get(investor_client, path)
        # then
        assert cached.json() == computed[name].json(), name
        assert "ETag" not in computed[name].headers, name
        assert cached.headers["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_a_deposit_changes_the_ledger_reads_and_the_risk_numbers(investor_client, portfolio):
    # given
    before = _etags(investor_client, portfolio.pk)
    risk_before = _get(investor_client, _paths(portfolio.pk)["risk"]).json()
    # when
    cash_deposit(portfolio=portfolio, amount=D("500"))
    # then
    after = _etags(investor_client, portfolio.pk)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"list", "holdings", "transactions", "risk"}
    paths = _paths(portfolio.pk)
    assert _get(investor_client, paths["holdings"], before["holdings"]).status_code == 200
    assert D(_get(investor_client, paths["holdings"]).json()["cash"]) == D("1500")
    risk_after = _get(investor_client, paths["risk"]).json()
    assert D(risk_after["portfolio_value"]) == D(risk_before["portfolio_value"]) + D("500")


@pytest.mark.django_db
def test_a_fill_changes_the_etags_and_the_risk_numbers(investor_client, portfolio):
    # given
    before = _etags(investor_client, portfolio.pk)
    risk_before = _get(investor_client, _paths(portfolio.pk)["risk"]).json()
    # when
    trades_execute(portfolio=portfolio, trades=[ProposedTrade("CRY", "buy", D(5), D(0), D(0), "t")],
                   as_of=DAYS[-1].date())
    # then
    after = _etags(investor_client, portfolio.pk)
    assert {name for name in before if before[name] != after[name]} == {"list", "holdings", "transactions", "risk"}
    risk_after = _get(investor_client, _paths(portfolio.pk)["risk"]).json()
    assert {a["symbol"] for a in risk_after["risk_attribution"]["by_asset"]} == {"AAA", "BBB", "BND", "CRY"}
    assert risk_after["var_metrics"]["var_1d"] != risk_before["var_metrics"]["var_1d"]
    symbols = [h["symbol"] for h in _get(investor_client, _paths(portfolio.pk)["holdings"]).json()["holdings"]]
    assert "CRY" in symbols


@pytest.mark.django_db
def test_a_new_price_changes_the_priced_reads_and_the_risk_numbers(investor_client, portfolio, market):
    # given
    before = _etags(investor_client, portfolio.pk)
    risk_before = _get(investor_client, _paths(portfolio.pk)["risk"]).json()
    # when
    day = _new_close(market, "AAA", 0.5)
    # then
    after = _etags(investor_client, portfolio.pk)
    assert {name for name in before if before[name] != after[name]} == {"list", "holdings", "risk", "market"}
    risk_after = _get(investor_client, _paths(portfolio.pk)["risk"]).json()
    assert risk_after["as_of"] == day.date().isoformat()
    assert D(risk_after["portfolio_value"]) < D(risk_before["portfolio_value"])
    bars = _get(investor_client, "/api/v1/market/data/AAA").json()
    assert bars["end"] == day.date().isoformat()


@pytest.mark.django_db
def test_an_asset_renamed_is_a_new_market_revision(investor_client, portfolio):
    # given
    before = _etags(investor_client, portfolio.pk)
    # when
    asset_upsert(symbol="AAA", name="Triple A Corp", asset_class="equity")
    # then
    after = _etags(investor_client, portfolio.pk)
    assert after["holdings"] != before["holdings"]
    names = {h["symbol"]: h["name"] for h in _get(investor_client, _paths(portfolio.pk)["holdings"]).json()["holdings"]}
    assert names["AAA"] == "Triple A Corp"


@pytest.mark.django_db
def test_an_unchanged_asset_is_not_a_new_revision(investor_client, portfolio):
    # given
    asset_upsert(symbol="AAA", name="Triple A Corp", asset_class="equity")
    before = _etags(investor_client, portfolio.pk)
    # when: the same metadata again (an import re-reading its assets)
    asset_upsert(symbol="AAA", name="Triple A Corp", asset_class="equity")
    # then
    assert _etags(investor_client, portfolio.pk) == before


@pytest.mark.django_db
def test_a_notification_and_its_read_change_the_inbox(investor_client, investor, portfolio):
    # given
    empty = _etags(investor_client, portfolio.pk)["notifications"]
    # when
    note = notification_create(user_id=investor.pk, kind="rebalanced", title="Done", body="b", portfolio_id=portfolio.pk)
    # then
    unread = _get(investor_client, "/api/v1/notifications", empty)
    assert unread.status_code == 200
    assert [n["read"] for n in unread.json()["results"]] == [False]
    # when
    notification_mark_read(user=investor, notification_id=note.pk)
    # then
    read = _get(investor_client, "/api/v1/notifications", unread.headers["ETag"])
    assert read.status_code == 200
    assert [n["read"] for n in read.json()["results"]] == [True]


@pytest.mark.django_db
def test_another_users_portfolio_stays_a_404_with_the_owners_etag(investor_client, other_client, portfolio):
    # given: the owner's reads are cached and tagged
    etags = _etags(investor_client, portfolio.pk)
    for name in ("holdings", "transactions", "risk"):
        path = _paths(portfolio.pk)[name]
        # when: someone else asks, even sending the owner's tag
        plain, conditional = _get(other_client, path), _get(other_client, path, etags[name])
        # then
        assert (plain.status_code, conditional.status_code) == (404, 404), name
        assert plain.json()["errors"][0]["attr"] == "portfolio"


@pytest.mark.django_db
def test_another_users_list_and_inbox_are_their_own(investor_client, other_client, investor, portfolio):
    # given
    notification_create(user_id=investor.pk, kind="rebalanced", title="Mine", body="b", portfolio_id=portfolio.pk)
    mine = _etags(investor_client, portfolio.pk)
    for name in ("list", "notifications"):
        # when
        response = _get(other_client, _paths(portfolio.pk)[name], mine[name])
        # then
        assert response.status_code == 200, name
        assert response.json()["results"] == [], name
        assert response.headers["ETag"] != mine[name]


@pytest.mark.django_db
def test_a_deposit_through_the_api_is_never_answered_from_the_old_entry(investor_client, portfolio):
    # given
    paths = _paths(portfolio.pk)
    old = _get(investor_client, paths["transactions"]).json()
    # when
    response = investor_client.post(f"/api/v1/portfolios/{portfolio.pk}/cash", {"operation": "deposit", "amount": "7.00"})
    # then
    assert response.status_code == 201, response.content
    new = _get(investor_client, paths["transactions"]).json()
    assert new["count"] == old["count"] + 1


@pytest.mark.django_db
def test_with_the_cache_off_reads_have_no_etag_and_never_304(investor_client, portfolio, settings):
    # given
    etags = _etags(investor_client, portfolio.pk)
    settings.API_READ_CACHE = False
    for name, path in _paths(portfolio.pk).items():
        # when
        response = _get(investor_client, path, etags[name])
        # then
        assert response.status_code == 200, name
        assert "ETag" not in response.headers, name


BUDGETS = {
    # name: (queries of a first read, of a read served from the cache, of a 304); the cached
    # and 304 reads: the JWT user plus the versions (risk: its limits, snapshot and alerts)
    "list": (11, 2, 2),
    "holdings": (10, 2, 2),
    "transactions": (5, 2, 2),
    "risk": (28, 7, 7),  # cold: return panel, exposures, snapshot of the view
    "notifications": (4, 2, 2),
    "market": (7, 3, 3),
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_query_budget_per_endpoint(name, investor_client, investor, portfolio, django_assert_max_num_queries):
    # given
    notification_create(user_id=investor.pk, kind="rebalanced", title="Done", body="b", portfolio_id=portfolio.pk)
    cash_deposit(portfolio=portfolio, amount=D("10"))
    path = _paths(portfolio.pk)[name]
    cold, cached, not_modified = BUDGETS[name]
    # when / then
    with django_assert_max_num_queries(cold):
        first = _get(investor_client, path)
    with django_assert_max_num_queries(cached):
        assert _get(investor_client, path).status_code == 200
    with django_assert_max_num_queries(not_modified):
        assert _get(investor_client, path, first.headers["ETag"]).status_code == 304
