"""From registration to an executed, explained rebalance, through the API."""

from __future__ import annotations

import pytest

from rebalancer.autopilot.services import cycle_run

from .conftest import AS_OF

pytestmark = pytest.mark.django_db

PROFILE = {
    "age_band": "30_44",
    "investment_horizon": 15,
    "income_stability": "stable",
    "loss_reaction": "hold",
    "experience": "basic",
    "emergency_fund": "3_to_6_months",
}


def test_register_to_executed_explained_rebalance(api_client, market_history):
    # given a new investor registered and logged in
    email, password = "newcomer@example.com", "a-Strong-passphrase-42"
    registered = api_client.post(
        "/api/v1/auth/register", {"email": email, "password": password, "profile": PROFILE}, format="json"
    )
    assert registered.status_code == 202, registered.json()  # the same answer for a taken email
    token = api_client.post("/api/v1/auth/token", {"email": email, "password": password}, format="json")
    assert token.status_code == 200, token.json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['access']}")
    # and a portfolio funded and handed to the autopilot
    created = api_client.post("/api/v1/portfolios", {"name": "Retirement"}, format="json")
    assert created.status_code == 201, created.json()
    pid = created.json()["id"]
    deposit = api_client.post(f"/api/v1/portfolios/{pid}/cash", {"operation": "deposit", "amount": "25000"}, format="json")
    assert deposit.status_code == 201, deposit.json()
    autonomy = api_client.put(
        f"/api/v1/portfolios/{pid}/autonomy",
        {"mode": "autopilot", "strategy": "optimizer:min_volatility", "calendar": "none"},
        format="json",
    )
    assert autonomy.status_code == 200, autonomy.json()

    # when the scheduler's cycle runs
    result = cycle_run(portfolio_id=pid, as_of=AS_OF)

    # then the transactions show the executed trades with their reasons
    assert (result.status, result.action) == ("done", "rebalance")
    transactions = api_client.get(f"/api/v1/portfolios/{pid}/transactions")
    assert transactions.status_code == 200
    rows = transactions.json()["results"]
    trades = [r for r in rows if r["decision_id"] == result.decision_id]
    assert len(trades) == result.trades_count > 0
    assert all(r["reason"].startswith("Buy to raise") for r in trades)
    # and the decision carries its explanation
    decisions = api_client.get(f"/api/v1/portfolios/{pid}/proposals", {"status": "executed"})
    assert decisions.status_code == 200, decisions.json()
    decision = decisions.json()["results"][0]
    assert decision["id"] == result.decision_id
    assert decision["strategy"] == "optimizer:min_volatility"
    assert "We reviewed your portfolio because" in decision["summary"]
    assert {t["kind"] for t in decision["triggers"]} == {"review", "drift", "cash"}
    assert decision["after"]["volatility"] > 0
    assert all("passed" in c for c in decision["checks"])
