"""GET /api/v1/market/regime: current regime, paginated history, validation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from mlagents.regime.models import MarketRegime, ReferenceMarket

URL = "/api/v1/market/regime"


@pytest.fixture
def history(db):
    """Five stored days: bull, bull, sideways, bear, bear (2024-03-04..08)."""
    market = ReferenceMarket.objects.get(name="default")
    calls = ["bull", "bull", "sideways", "bear", "bear"]
    for i, regime in enumerate(calls):
        probs = {"bull": 0.1, "bear": 0.1, "sideways": 0.1} | {regime: 0.8}
        MarketRegime.objects.create(
            market=market, date=dt.date(2024, 3, 4) + dt.timedelta(days=i), regime=regime,
            confidence=Decimal("0.8000"), probabilities=probs,
            features={"log_return": -0.01, "realized_vol": 0.3, "trend": -0.2},
        )
    return market


def test_current_regime_and_history(investor_client, history):
    # when
    response = investor_client.get(URL)
    # then
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("market", "as_of", "current_regime", "confidence", "changed")} == {
        "market": "default", "as_of": "2024-03-08", "current_regime": "bear", "confidence": 0.8, "changed": False,
    }
    assert body["regime_probabilities"] == {"bull": 0.1, "bear": 0.8, "sideways": 0.1}
    page = body["regime_history"]
    assert page["count"] == 5 and page["next"] is None
    assert [r["date"] for r in page["results"]] == ["2024-03-08", "2024-03-07", "2024-03-06", "2024-03-05",
                                                   "2024-03-04"]
    assert page["results"][0] == {
        "date": "2024-03-08", "regime": "bear", "confidence": 0.8,
        "probabilities": {"bull": 0.1, "bear": 0.8, "sideways": 0.1},
        "features": {"log_return": -0.01, "realized_vol": 0.3, "trend": -0.2},
    }


def test_history_date_range_and_pagination(investor_client, history):
    response = investor_client.get(URL, {"start": "2024-03-05", "end": "2024-03-07", "page_size": 2})
    page = response.json()["regime_history"]
    assert page["count"] == 3
    assert [r["date"] for r in page["results"]] == ["2024-03-07", "2024-03-06"]
    assert "page=2" in page["next"]
    second = investor_client.get(page["next"]).json()["regime_history"]
    assert [r["date"] for r in second["results"]] == ["2024-03-05"]
    # the current regime does not depend on the history window
    assert response.json()["current_regime"] == "bear"


def test_changed_when_the_latest_call_differs(investor_client, history):
    MarketRegime.objects.filter(date=dt.date(2024, 3, 8)).delete()
    assert investor_client.get(URL).json()["changed"] is True


@pytest.mark.parametrize(
    ("params", "attr", "code"),
    [
        ({"start": "2024-13-01"}, "start", "invalid"),
        ({"end": "yesterday"}, "end", "invalid"),
        ({"start": "2024-03-07", "end": "2024-03-05"}, "end", "inverted_range"),
        ({"market": "not a slug!"}, "market", "invalid"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(investor_client, history, params, attr, code):
    response = investor_client.get(URL, params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == attr
    assert response.json()["errors"][0]["code"] == code


def test_unknown_market_is_422(investor_client, db):
    # a market named in the query is not a path object (README, one contract for errors)
    response = investor_client.get(URL, {"market": "mars"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"code": "unknown_market", "detail": "Unknown market 'mars'.",
                                          "attr": "market"}]


def test_no_detection_yet_is_an_empty_answer(investor_client, db):
    body = investor_client.get(URL).json()
    assert body["current_regime"] is None and body["confidence"] is None and body["as_of"] is None
    assert body["regime_history"] == {"count": 0, "next": None, "previous": None, "results": []}


def test_anonymous_is_401(api_client, history):
    assert api_client.get(URL).status_code == 401


def test_operation_is_in_the_schema(investor_client):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/market/regime"]["get"]
    assert operation["operationId"] == "market_regime"
    assert {p["name"] for p in operation["parameters"]} == {"market", "start", "end", "page", "page_size"}
    assert {"200", "400", "401", "404"} <= set(operation["responses"])
