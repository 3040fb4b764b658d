"""Idempotency-Key on every state-changing POST of an authenticated investor: cash (tests/common),
proposals, backtests, portfolio creation, stored optimizations, devices, notifications read,
the verification resend. (Login, registration, refresh and the reset flow are anonymous and
answer the same to a repeat; a password change revokes the token a retry would carry.)"""

from datetime import date
from decimal import Decimal as D

from portfolios.models import Decision, Portfolio, Trade
from portfolios.services import cash_deposit, decision_create, portfolio_create
from portfolios.trading import ProposedTrade

BASE = "/api/v1/portfolios"


def test_the_money_posts_document_the_optional_idempotency_key_header(investor_client):
    schema = investor_client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("/api/v1/portfolios/{id}/cash", "/api/v1/portfolios/{id}/proposals/{pid}/approve",
                 "/api/v1/portfolios/{id}/proposals/{pid}/reject", "/api/v1/backtests", "/api/v1/portfolios",
                 "/api/v1/portfolios/{id}/optimize", "/api/v1/devices", "/api/v1/notifications/{id}/read",
                 "/api/v1/notifications/read", "/api/v1/auth/email/verify/resend"):
        operation = schema["paths"][path]["post"]
        (header,) = [p for p in operation["parameters"] if p["in"] == "header"]
        assert (header["name"], header.get("required", False)) == ("Idempotency-Key", False), path
        assert {"409", "422"} <= set(operation["responses"]), path


def _proposal(portfolio):
    trade = ProposedTrade(symbol="AAA", side="buy", quantity=D(1), est_price=D(100), est_cost=D(0), reason="buy",
                          price=D(100))
    return decision_create(portfolio=portfolio, as_of=date(2024, 1, 4), mode="advise", trades=[trade], summary="Buy.",
                           prices={"AAA": "90"})


def test_approve_and_reject_replay_their_first_response(investor_client, investor, market):
    mine = portfolio_create(owner=investor, name="Mine")
    cash_deposit(portfolio=mine, amount=D(1000))
    approve_me, reject_me = _proposal(mine), _proposal(mine)
    url = f"{BASE}/{mine.pk}/proposals"
    first = investor_client.post(f"{url}/{approve_me.pk}/approve", format="json", HTTP_IDEMPOTENCY_KEY="approve-1")
    again = investor_client.post(f"{url}/{approve_me.pk}/approve", format="json", HTTP_IDEMPOTENCY_KEY="approve-1")
    assert (first.status_code, again.status_code, again.content) == (200, 200, first.content)
    assert Trade.objects.filter(decision=approve_me).count() == 1
    # without the key the second approval is the usual 409
    assert investor_client.post(f"{url}/{approve_me.pk}/approve", format="json").status_code == 409
    rejected = investor_client.post(f"{url}/{reject_me.pk}/reject", {"reason": "no"}, format="json",
                                    HTTP_IDEMPOTENCY_KEY="reject-1")
    replayed = investor_client.post(f"{url}/{reject_me.pk}/reject", {"reason": "no"}, format="json",
                                    HTTP_IDEMPOTENCY_KEY="reject-1")
    assert (rejected.status_code, replayed.status_code, replayed.content) == (200, 200, rejected.content)
    assert Decision.objects.get(pk=reject_me.pk).status == "rejected"


def test_a_stale_approval_keeps_its_expiry_committed_inside_the_request_transaction(investor_client, investor, market):
    mine = portfolio_create(owner=investor, name="Mine")
    # given a proposal two trading days old: the approval marks it expired and answers 409
    trade = ProposedTrade(symbol="AAA", side="buy", quantity=D(1), est_price=D(100), est_cost=D(0), reason="buy",
                          price=D(100))
    stale = decision_create(portfolio=mine, as_of=date(2024, 1, 2), mode="advise", trades=[trade], summary="Buy.")
    response = investor_client.post(f"{BASE}/{mine.pk}/proposals/{stale.pk}/approve", format="json",
                                    HTTP_IDEMPOTENCY_KEY="stale-1")
    assert response.status_code == 409
    assert Decision.objects.get(pk=stale.pk).status == "expired"
    assert Portfolio.objects.get(pk=mine.pk).cash == D(0)


def test_a_retried_portfolio_creation_makes_one_portfolio(investor_client, investor):
    body = {"name": "Retirement", "mode": "advise"}
    first = investor_client.post(BASE, body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    again = investor_client.post(BASE, body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    assert (first.status_code, again.status_code, again.content) == (201, 201, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Portfolio.objects.filter(owner=investor).count() == 1
    # a different body with the same key is refused and creates nothing
    other = investor_client.post(BASE, {"name": "Other"}, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    assert (other.status_code, other.json()["errors"][0]["code"]) == (422, "idempotency_key_reused")
    assert Portfolio.objects.filter(owner=investor).count() == 1


def test_a_retried_stored_optimization_is_stored_once(investor_client, investor, bars_make):
    import math
    from datetime import timedelta

    from portfolios.models import PortfolioOptimization

    for i in range(80):
        bars_make(date(2023, 1, 2) + timedelta(days=i), {
            "AAA": f"{100 * math.exp(0.002 * i + 0.02 * math.sin(i)):.4f}",
            "BBB": f"{50 * math.exp(0.001 * i + 0.015 * math.cos(1.3 * i)):.4f}",
        })
    mine = portfolio_create(owner=investor, name="Mine")
    url = f"{BASE}/{mine.pk}/optimize"
    body = {"objective": "min_volatility", "universe": ["AAA", "BBB"]}
    first = investor_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="opt-1")
    again = investor_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="opt-1")
    assert (first.status_code, again.status_code, again.content) == (200, 200, first.content)
    assert PortfolioOptimization.objects.filter(portfolio=mine).count() == 1
