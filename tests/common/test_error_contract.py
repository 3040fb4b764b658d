"""The error contract (README, "One contract for errors"), one row per rule, through the API.

400 for input malformed whatever the server holds, 422 for well-formed input the data
cannot satisfy, 404 only for the object a URL names; the same failure gets the same
status and code on every endpoint; every body is ``{"type", "errors": [{"code", "detail",
"attr"}]}`` with one entry per problem.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from marketdata.models import Asset, PriceBar
from portfolios.services import cash_deposit, portfolio_create

pytestmark = pytest.mark.django_db
DAYS = [date(2024, 1, d) for d in (2, 3, 4, 5, 8, 9, 10, 11, 12, 15)]


@pytest.fixture
def world(investor, other_investor):
    for symbol, base in (("AAA", 100), ("BBB", 50)):
        asset = Asset.objects.create(symbol=symbol, name=symbol, asset_class="equity")
        for i, day in enumerate(DAYS):
            close = Decimal(base + (i % 3) - 1)
            PriceBar.objects.create(asset=asset, date=day, open=close, high=close, low=close, close=close,
                                    adj_close=close, volume=1000)
    mine = portfolio_create(owner=investor, name="Mine")
    cash_deposit(portfolio=mine, amount=Decimal("100"))
    theirs = portfolio_create(owner=other_investor, name="Theirs")
    return {"mine": mine.pk, "theirs": theirs.pk}


# (case, method, path, body, status, type, code, attr); {mine}/{theirs} are portfolio ids
CONTRACT = [
    ("page not a number", "get", "/api/v1/portfolios?page=abc", None, 400, "validation_error", "invalid", "page"),
    ("page zero", "get", "/api/v1/portfolios?page=0", None, 400, "validation_error", "min_value", "page"),
    ("page past the last", "get", "/api/v1/portfolios?page=99", None, 400, "validation_error",
     "page_out_of_range", "page"),
    ("page_size zero", "get", "/api/v1/portfolios?page_size=0", None, 400, "validation_error", "min_value",
     "page_size"),
    ("page_size negative", "get", "/api/v1/notifications?page_size=-5", None, 400, "validation_error",
     "min_value", "page_size"),
    ("page_size over the maximum", "get", "/api/v1/portfolios/{mine}/transactions?page_size=100000", None, 400,
     "validation_error", "max_value", "page_size"),
    ("trailing slash", "get", "/api/v1/portfolios/", None, 404, "client_error", "not_found", None),
    ("no such route", "post", "/api/v1/no-such-thing", {}, 404, "client_error", "not_found", None),
    ("another user's portfolio", "get", "/api/v1/portfolios/{theirs}", None, 404, "client_error", "not_found",
     "portfolio"),
    ("another user's portfolio's risk", "get", "/api/v1/portfolios/{theirs}/risk", None, 404, "client_error",
     "not_found", "portfolio"),
    ("an unknown symbol in the path", "get", "/api/v1/market/data/NOPE", None, 404, "client_error",
     "unknown_symbol", "symbol"),
    ("an unknown symbol in targets", "put", "/api/v1/portfolios/{mine}/targets",
     {"targets": [{"symbol": "NOPE", "weight": "0.5"}]}, 422, "client_error", "unknown_symbol", "targets"),
    ("an unknown symbol in optimize", "post", "/api/v1/optimize", {"universe": ["AAA", "NOPE"]}, 422,
     "client_error", "unknown_symbol", "universe"),
    ("an unknown symbol in VaR", "post", "/api/v1/risk/var", {"weights": {"NOPE": 1.0}}, 422, "client_error",
     "unknown_symbol", "weights"),
    ("an unknown symbol in a stress test", "post", "/api/v1/risk/stress-test", {"weights": {"NOPE": 1.0}}, 422,
     "client_error", "unknown_symbol", "weights"),
    ("another user's portfolio in a body", "post", "/api/v1/risk/var", {"portfolio_id": "{theirs}"}, 422,
     "client_error", "not_found", "portfolio_id"),
    ("an unknown market in the query", "get", "/api/v1/market/regime?market=mars", None, 422, "client_error",
     "unknown_market", "market"),
    ("target weights over 1", "put", "/api/v1/portfolios/{mine}/targets",
     {"targets": [{"symbol": "AAA", "weight": "0.7"}, {"symbol": "BBB", "weight": "0.4"}]}, 400,
     "validation_error", "weights_exceed_one", "targets"),
    ("predict weights over 1", "post", "/api/v1/rebalance/predict", {"weights": {"AAA": 0.7, "BBB": 0.4}}, 400,
     "validation_error", "weights_exceed_one", "weights"),
    ("one weight over 1", "post", "/api/v1/rebalance/predict", {"weights": {"AAA": 1.5}}, 400,
     "validation_error", "max_value", "weights.AAA"),
    ("withdrawing more than the cash", "post", "/api/v1/portfolios/{mine}/cash",
     {"operation": "withdraw", "amount": "1000"}, 422, "client_error", "insufficient_cash", "amount"),
    ("a missing field", "post", "/api/v1/portfolios", {}, 400, "validation_error", "required", "name"),
    ("an unknown device", "delete", "/api/v1/devices/999", None, 404, "client_error", "not_found", "id"),
    ("a stale If-Match", "put", "/api/v1/portfolios/{mine}/autonomy", {"rebalance_threshold": "0.1"}, 412,
     "client_error", "precondition_failed", "If-Match"),
]


@pytest.mark.parametrize(("case", "method", "path", "body", "status", "kind", "code", "attr"), CONTRACT,
                         ids=[row[0] for row in CONTRACT])
def test_the_error_contract(investor_client, world, case, method, path, body, status, kind, code, attr):
    # given
    path = path.format(**world)
    if isinstance(body, dict):
        body = {k: (int(v.format(**world)) if isinstance(v, str) and v.startswith("{") else v)
                for k, v in body.items()}
    headers = {"HTTP_IF_MATCH": '"stale"'} if code == "precondition_failed" else {}
    # when
    response = getattr(investor_client, method)(path, body, format="json", **headers)
    # then
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    payload = response.json()
    assert payload["type"] == kind
    assert [(e["code"], e["attr"]) for e in payload["errors"]] == [(code, attr)], payload


@pytest.mark.parametrize(("header", "code"), [
    ("Bearer not.a.token", "token_not_valid"),
    ("Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "token_not_valid"),
    ("Bearer ", "bad_authorization_header"),
])
def test_a_bad_token_is_one_entry_with_a_stable_code(header, code):
    # simplejwt says it in 2-5 entries (detail, code, messages.0.token_class...): one here
    response = APIClient(HTTP_AUTHORIZATION=header).get("/api/v1/users/me")
    assert response.status_code == 401
    assert [(e["code"], e["attr"]) for e in response.json()["errors"]] == [(code, None)]


def test_an_expired_token_is_token_not_valid(investor):
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(investor)
    token.set_exp(lifetime=-timedelta(seconds=1))
    response = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/users/me")
    assert response.json() == {"type": "client_error", "errors": [
        {"code": "token_not_valid", "detail": "Given token not valid for any token type", "attr": None}
    ]}


def test_a_refresh_with_a_garbage_token_is_one_entry(api_client):
    response = api_client.post("/api/v1/auth/token/refresh", {"refresh": "garbage"}, format="json")
    assert response.status_code == 401
    assert [e["code"] for e in response.json()["errors"]] == ["token_not_valid"]


def test_the_schema_states_the_page_limits(api_client):
    schema = api_client.get("/api/v1/schema/", {"format": "json"}).json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/portfolios"]["get"]["parameters"]}
    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 500}
    assert parameters["page"]["schema"] == {"type": "integer", "minimum": 1}
