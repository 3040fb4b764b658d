from decimal import Decimal

import numpy as np
import pytest

from risk.measures import var_historical, var_parametric
from risk.measures.stress import SCENARIOS

VAR_URL = "/api/v1/risk/var"
STRESS_URL = "/api/v1/risk/stress-test"


def test_var_of_weights_is_the_engines_historical_var_on_the_return_panel(investor_client, market):
    # given
    weights = {"AAA": 0.5, "BND": 0.3}
    returns = market[["AAA", "BND"]].pct_change().iloc[1:]
    # when
    response = investor_client.post(VAR_URL, {"weights": weights, "confidence_level": 0.99}, format="json")
    # then
    assert response.status_code == 200, response.json()
    body = response.json()
    expected = var_historical(returns, weights, confidence_level=0.99)
    assert body["var"] == pytest.approx(expected.var, rel=1e-6)
    assert body["expected_shortfall"] == pytest.approx(expected.expected_shortfall, rel=1e-6)
    assert (body["method"], body["horizon_days"], body["n_observations"]) == ("historical", 1, 319)
    assert body["var_amount"] is None and body["portfolio_value"] is None


def test_var_with_every_method_and_window(investor_client, market):
    for method, extra in [("parametric", {}), ("cornish_fisher", {}),
                          ("monte_carlo", {"n_simulations": 20000, "distribution": "t", "seed": 3})]:
        response = investor_client.post(VAR_URL, {
            "weights": {"AAA": 0.6, "CRY": 0.4}, "method": method, "horizon_days": 5,
            "start": "2022-03-01", "end": "2022-12-30", **extra}, format="json")
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["method"] == method and body["var"] > 0 and body["expected_shortfall"] >= body["var"]
        assert body["start"] >= "2022-03-01" and body["end"] <= "2022-12-30"
    assert body["n_observations"] == 20000 and body["distribution"] == "t"


def test_var_of_own_portfolio_gives_money_amounts(investor_client, portfolio, market):
    # given: 40 AAA + 30 BBB + 20 BND + 1000 cash at the last closes
    last = market.iloc[-1]
    value = 40 * last["AAA"] + 30 * last["BBB"] + 20 * last["BND"] + 1000
    weights = {"AAA": 40 * last["AAA"] / value, "BBB": 30 * last["BBB"] / value, "BND": 20 * last["BND"] / value}
    returns = market[["AAA", "BBB", "BND"]].pct_change().iloc[1:]
    # when
    response = investor_client.post(VAR_URL, {"portfolio_id": portfolio.pk, "method": "parametric"}, format="json")
    # then
    body = response.json()
    assert response.status_code == 200, body
    expected = var_parametric(returns, weights)
    assert body["var"] == pytest.approx(expected.var, rel=1e-6)
    assert Decimal(body["portfolio_value"]) == pytest.approx(Decimal(str(value)), abs=Decimal("0.01"))
    assert float(body["var_amount"]) == pytest.approx(value * body["var"], abs=0.01)


def test_another_users_portfolio_is_not_found(other_client, portfolio):
    # a portfolio named in the body is not a path object: 422, naming portfolio_id, same for "not yours"
    var = other_client.post(VAR_URL, {"portfolio_id": portfolio.pk}, format="json")
    assert (var.status_code, var.json()["errors"][0]["attr"]) == (422, "portfolio_id")
    assert other_client.get(f"/api/v1/portfolios/{portfolio.pk}/risk").status_code == 404
    assert other_client.post(STRESS_URL, {"portfolio_id": portfolio.pk}, format="json").status_code == 422


@pytest.mark.parametrize(("payload", "status", "attr"), [
    ({"weights": {"NOPE": 1.0}}, 422, "weights"),
    ({"weights": {"AAA": 1.0}, "portfolio_id": 1}, 400, "weights"),
    ({}, 400, "weights"),
    ({"weights": {"AAA": 1.0}, "method": "magic"}, 400, "method"),
    ({"weights": {"AAA": 1.0}, "confidence_level": 1.0}, 400, "confidence_level"),
    ({"weights": {"AAA": 1.0}, "method": "monte_carlo", "n_simulations": 2_000_000}, 400, "n_simulations"),
    ({"weights": {"AAA": 1.0}, "start": "2023-01-01", "end": "2022-01-01"}, 400, "end"),
    ({"weights": {"AAA": 1.0}, "start": "2030-01-01"}, 422, "start"),
    ({"weights": {"AAA": 1.0}, "end": "0001-01-05"}, 400, "end"),
    ({"weights": {"AAA": 1.0}, "confidence_level": 0.999}, 422, "returns"),
])
def test_bad_var_requests_name_the_field(investor_client, market, payload, status, attr):
    response = investor_client.post(VAR_URL, payload, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["errors"][0]["attr"] == attr


def test_scenarios_lists_the_built_ins(investor_client):
    response = investor_client.get("/api/v1/risk/scenarios")
    assert response.status_code == 200
    names = [s["name"] for s in response.json()]
    assert names == list(SCENARIOS) and len(names) >= 20
    covid = next(s for s in response.json() if s["name"] == "covid_crash_2020")
    assert covid["start"] == "2020-02-19" and covid["shocks"]["equity"] == -0.34


def test_stress_test_with_built_in_and_custom_scenarios(investor_client, market):
    # when
    response = investor_client.post(STRESS_URL, {
        "weights": {"AAA": 0.5, "BND": 0.3, "CRY": 0.2},
        "scenarios": ["covid_crash_2020", "crypto_crash_60"],
        "custom_scenarios": [{"name": "my_crash", "shocks": {"equity": -0.5}, "symbol_shocks": {"BND": 0.1}}],
    }, format="json")
    # then
    body = response.json()
    assert response.status_code == 200, body
    pnl = {r["name"]: r["pnl"] for r in body["scenario_results"]}
    assert pnl["covid_crash_2020"] == pytest.approx(0.5 * -0.34 + 0.3 * 0.01 + 0.2 * -0.45)
    assert pnl["crypto_crash_60"] == pytest.approx(0.2 * -0.6)
    assert pnl["my_crash"] == pytest.approx(0.5 * -0.5 + 0.3 * 0.1)
    assert body["worst_case"]["name"] == "covid_crash_2020"
    assert body["recommendations"]


def test_stress_test_replays_history_of_a_portfolio(investor_client, portfolio, market):
    # given the 2022 rate shock lies inside the fixture's data
    response = investor_client.post(STRESS_URL, {"portfolio_id": portfolio.pk, "scenarios": ["rate_shock_2022"]},
                                    format="json")
    body = response.json()
    assert response.status_code == 200, body
    result = body["scenario_results"][0]
    assert result["replayed_symbols"] == ["AAA", "BBB", "BND"]
    window = market.loc["2022-01-03":"2022-10-12"]  # closes from the start date to the end date
    aaa = next(c for c in result["contributions"] if c["symbol"] == "AAA")
    assert aaa["shock"] == pytest.approx(window["AAA"].iloc[-1] / window["AAA"].iloc[0] - 1, rel=1e-9)
    assert float(result["pnl_amount"]) == pytest.approx(float(body["portfolio_value"]) * result["pnl"], abs=0.01)


@pytest.mark.parametrize(("payload", "status", "attr"), [
    ({"weights": {"AAA": 1.0}, "scenarios": ["nope"]}, 422, "scenarios"),
    ({"weights": {"AAA": 1.0}, "custom_scenarios": [{"name": "x", "shocks": {"stocks": -0.1}}]}, 400,
     "custom_scenarios.0.shocks"),
    ({"weights": {"AAA": 1.0}, "custom_scenarios": [{"name": "x"}]}, 400, "custom_scenarios.0.shocks"),
    ({"weights": {"ZZZ": 1.0}}, 422, "weights"),
])
def test_bad_stress_requests_name_the_field(investor_client, market, payload, status, attr):
    response = investor_client.post(STRESS_URL, payload, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["errors"][0]["attr"] == attr


def test_portfolio_risk_shows_var_attribution_stress_alerts_and_advice(investor_client, portfolio, market):
    # given
    from risk.services import risk_snapshot_take

    risk_snapshot_take(portfolio=portfolio)
    # when
    response = investor_client.get(f"/api/v1/portfolios/{portfolio.pk}/risk")
    # then
    body = response.json()
    assert response.status_code == 200, body
    var = body["var_metrics"]
    components = sum(a["component_var"] for a in body["risk_attribution"]["by_asset"])
    assert components == pytest.approx(body["risk_attribution"]["var"], rel=1e-9)
    assert body["latest_snapshot"]["var_1d"] == pytest.approx(var["var_1d"])
    assert body["stress_test_results"]["scenarios_tested"] == len(SCENARIOS)
    # AAA and BBB are above the balanced tier's 25 % cap on one position (BND is not): the
    # concentration warnings use the limits the autopilot projects its targets onto
    assert sorted(a["symbol"] for a in body["alerts"] if a["rule"] == "concentration") == ["AAA", "BBB"]
    assert {a["limit"] for a in body["alerts"] if a["rule"] == "concentration"} == {0.25}
    assert any("rebalance" in r for r in body["recommendations"])
    assert np.isfinite(body["risk_metrics"]["annual_volatility"])
    assert body["risk_metrics"]["beta"] is not None  # SPY is in the market
    factor = body["factor_risk"]
    assert factor["benchmark"] == "SPY" and factor["beta"] == pytest.approx(body["risk_metrics"]["beta"])
    assert factor["systematic_volatility"] ** 2 + factor["idiosyncratic_volatility"] ** 2 == pytest.approx(
        factor["total_volatility"] ** 2)


def test_risk_of_an_empty_portfolio_says_why(investor_client, investor, market):
    from tests.risk.conftest import make_portfolio

    empty = make_portfolio(investor, {})
    body = investor_client.get(f"/api/v1/portfolios/{empty.pk}/risk").json()
    assert body["var_metrics"] is None and body["note"] == "no priced positions"
