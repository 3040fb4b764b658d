"""POST rebalance/predict: holdings or weights in, targets, trades and explanation out."""

from __future__ import annotations

import pytest

from portfolios.models import Decision, Trade

from .conftest import AS_OF

URL = "/api/v1/rebalance/predict"
pytestmark = pytest.mark.django_db


def test_predict_from_cash_proposes_equal_weight_buys(investor_client, market_history):
    # given only cash
    body = {"holdings": {}, "cash": 10000, "strategy": "equal_weight", "as_of": AS_OF.isoformat()}
    # when
    response = investor_client.post(URL, body, format="json")
    # then
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["action"] == "rebalance"
    assert data["target_weights"] == {s: pytest.approx(0.245) for s in ("AAA", "BBB", "BND", "TIP")}
    assert [t["side"] for t in data["trades"]] == ["buy"] * 4
    assert data["explanation"]["summary"].startswith("We reviewed your portfolio because")
    assert {c["name"] for c in data["explanation"]["checks"]} >= {"position", "var"}
    # and the body has the documented shape, and nothing was stored
    from rebalancer.autopilot.apis import PredictOutputSerializer

    shape = PredictOutputSerializer(data=data)
    assert shape.is_valid(), shape.errors
    assert Decision.objects.count() == 0 and Trade.objects.count() == 0


def test_predict_from_weights_with_optimizer(investor_client, market_history):
    # given a portfolio all in AAA
    body = {"weights": {"AAA": 0.98}, "portfolio_value": 50000, "strategy": "optimizer:min_volatility",
            "universe": ["AAA", "BBB", "BND", "TIP"], "limits": {"max_position": 0.6}}
    # when
    response = investor_client.post(URL, body, format="json")
    # then AAA is sold down and the volatility falls
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["trades"][0]["side"] == "sell" and data["trades"][0]["symbol"] == "AAA"
    explanation = data["explanation"]
    assert explanation["after"]["volatility"] < explanation["before"]["volatility"]
    assert max(data["target_weights"].values()) <= 0.6 + 1e-6


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({"holdings": {"NOPE": 1}}, "holdings"),
        ({"strategy": "optimizer:nope"}, "strategy"),
        ({"weights": {"AAA": 0.7, "BBB": 0.7}}, "weights"),
        ({"holdings": {"AAA": -1}}, "holdings.AAA"),
        ({"holdings": {"AAA": 1}, "weights": {"AAA": 0.5}}, "weights"),
        ({"strategy": "target_allocation"}, "target_weights"),
        ({"universe": [f"S{i}" for i in range(101)]}, "universe"),
    ],
)
def test_predict_rejects_bad_input_naming_the_field(investor_client, market_history, body, attr):
    # when
    response = investor_client.post(URL, body, format="json")
    # then
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][0]["attr"] == attr


def test_predict_requires_authentication(api_client, market_history):
    assert api_client.post(URL, {}, format="json").status_code == 401


def test_predict_refuses_a_misspelt_field_naming_it(investor_client, market_history):
    # given: risk_tolerence would have run at the default tier
    body = {"weights": {"AAA": 0.5}, "strategy": "optimizer:min_volatility",
            "risk_tolerence": "aggressive", "as_of": AS_OF.isoformat()}
    # when
    response = investor_client.post(URL, body, format="json")
    # then
    assert response.status_code == 400, response.json()
    error = response.json()["errors"][0]
    assert (error["code"], error["attr"], error["detail"]) == (
        "unknown_field", "risk_tolerence", "unknown field 'risk_tolerence' (did you mean 'risk_tolerance'?)"
    )
    assert Decision.objects.count() == 0
