"""GET portfolios/{id}/orders and /execution, and the portfolio's broker field in the API."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portfolios.services.orders import orders_submit, orders_sync
from tests.conftest import client_for

D = Decimal


@pytest.fixture
def client(owner):
    return client_for(owner)


@pytest.fixture
def executed(alpaca_portfolio, place, fake_alpaca, committed):
    """A buy of 5 AAA at a decision price of 100: 2 filled at 100.50, then expired."""
    fake_alpaca.script("AAA", ("fill", "2", "100.50"), ("expire",))
    decision, (order,) = place(alpaca_portfolio, ("AAA", "buy", "5", "100"))
    committed(orders_submit, decision_id=decision.pk)
    for _ in range(2):
        fake_alpaca.tick()
        committed(orders_sync)
    return decision, order


def test_orders_list_their_states_and_fills(client, alpaca_portfolio, executed):
    decision, _order = executed
    response = client.get(f"/api/v1/portfolios/{alpaca_portfolio.pk}/orders")
    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert (row["client_order_id"], row["status"], row["filled_quantity"], row["decision_id"]) == (
        f"rb-d{decision.pk}-l0", "expired", "2.00000000", decision.pk)
    assert [(f["quantity"], f["price"]) for f in row["fills"]] == [("2.00000000", "100.500000")]
    # filters
    assert client.get(f"/api/v1/portfolios/{alpaca_portfolio.pk}/orders?status=filled").json()["count"] == 0
    assert client.get(f"/api/v1/portfolios/{alpaca_portfolio.pk}/orders?status=expired&decision={decision.pk}"
                      ).json()["count"] == 1


def test_the_execution_report_computes_the_shortfall_by_hand(client, alpaca_portfolio, executed):
    _decision, _order = executed
    # by hand: paper notional 5 x 100 = 500; execution (100.50 - 100) x 2 = 1.00; commission 0;
    # the order ended on 2024-05-15, whose latest close of AAA is 90 (2024-01-04), so the 3 unfilled
    # shares missed (90 - 100) x 3 = -30.00 (a saving); shortfall 1.00 - 30.00 = -29.00 = -580 bps of 500
    response = client.get(f"/api/v1/portfolios/{alpaca_portfolio.pk}/execution")
    assert response.status_code == 200
    body = response.json()
    (report,) = body["decisions"]
    (leg,) = report["orders"]
    q = leg["quality"]
    assert (q["paper_notional"], q["execution_cost"], q["opportunity_cost"], q["shortfall"]) == (
        "500.0000", "1.0000", "-30.0000", "-29.0000")
    assert q["shortfall_bps"] == -580.0
    assert q["slippage_bps"] == 50.0  # 1.00 / (2 x 100)
    assert (q["model_slippage_bps"], q["slippage_vs_model_bps"]) == (10.0, 40.0)
    assert q["fill_rate"] == 0.4
    assert body["totals"]["shortfall"] == "-29.0000"
    assert body["calibration"]["slippage_bps"] == pytest.approx(50.0)


def test_paper_decisions_report_their_cost_model(client, portfolio):
    from portfolios.services import decision_create, decision_execute
    from portfolios.trading import ProposedTrade
    from tests.portfolios.conftest import DAY3

    trade = ProposedTrade(symbol="AAA", side="buy", quantity=D("10"), est_price=D("90.09"), est_cost=D("0"),
                          reason="", price=D("90"))
    decision = decision_create(portfolio=portfolio, as_of=DAY3, mode="autopilot", trades=[trade])
    decision_execute(decision=decision)
    body = client.get(f"/api/v1/portfolios/{portfolio.pk}/execution").json()
    q = body["decisions"][0]["orders"][0]["quality"]
    # fills at 90 x (1 + 10 bps) = 90.09: slippage 10 bps, as modelled; commission max(0.1% x 900.90, 1) = 1
    assert (q["slippage_bps"], q["slippage_vs_model_bps"], q["commission"]) == (10.0, 0.0, "1.0000")
    assert body["broker"] == "paper"


@pytest.mark.parametrize(("query", "attr"), [("status=bogus", "status"), ("decision=abc", "decision")])
def test_bad_order_filters_are_400_naming_the_parameter(client, alpaca_portfolio, query, attr):
    response = client.get(f"/api/v1/portfolios/{alpaca_portfolio.pk}/orders?{query}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == attr


@pytest.mark.parametrize(("query", "attr"), [("limit=0", "limit"), ("start=2024-02-01&end=2024-01-01", "end")])
def test_bad_execution_parameters_are_400_naming_the_parameter(client, alpaca_portfolio, query, attr):
    response = client.get(f"/api/v1/portfolios/{alpaca_portfolio.pk}/execution?{query}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == attr


def test_another_users_orders_and_execution_are_404(alpaca_portfolio, stranger):
    other = client_for(stranger)
    for path in ("orders", "execution"):
        assert other.get(f"/api/v1/portfolios/{alpaca_portfolio.pk}/{path}").status_code == 404


def test_a_portfolio_created_on_alpaca_never_returns_its_keys(client, settings):
    from cryptography.fernet import Fernet

    settings.BROKER_CREDENTIALS_KEYS = [Fernet.generate_key().decode()]
    response = client.post("/api/v1/portfolios", {
        "name": "Real", "broker": "alpaca",
        "broker_account": {"api_key": "PKABCDEFGH1234", "secret_key": "very-secret", "open_orders_policy": "wait"},
    }, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["broker"] == "alpaca"
    assert body["broker_account"]["key_hint"] == "…1234"
    assert body["broker_account"]["open_orders_policy"] == "wait"
    assert "PKABCDEFGH1234" not in response.content.decode() and "very-secret" not in response.content.decode()
    detail = client.get(f"/api/v1/portfolios/{body['id']}").content.decode()
    assert "very-secret" not in detail and "PKABCDEFGH" not in detail


def test_patching_the_broker_without_keys_anywhere_is_a_422_and_changes_nothing(client, portfolio, settings):
    settings.ALPACA_API_KEY = ""
    response = client.patch(f"/api/v1/portfolios/{portfolio.pk}", {"broker": "alpaca"}, format="json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["attr"] == "broker_account"
    assert client.get(f"/api/v1/portfolios/{portfolio.pk}").json()["broker"] == "paper"


def test_a_paper_portfolio_shows_no_broker_account(client, portfolio):
    body = client.get(f"/api/v1/portfolios/{portfolio.pk}").json()
    assert (body["broker"], body["broker_account"]) == ("paper", None)
