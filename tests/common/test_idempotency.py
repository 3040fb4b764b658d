"""Idempotency-Key on the money-moving POSTs: replay, reuse, in-flight, expiry, user scope."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.idempotency import idempotency_keys_purge, request_fingerprint
from common.models import IdempotencyKey
from portfolios.models import CashMovement
from portfolios.services import portfolio_create

BASE = "/api/v1/portfolios"
KEY = "2f0a2c1e-6d39-4bb8-9d4f-0e5d3b7f1a11"


@pytest.fixture
def mine(investor):
    return portfolio_create(owner=investor, name="Mine")


def deposit(client, portfolio, amount="100.25", key=KEY, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(f"{BASE}/{portfolio.pk}/cash", {"operation": "deposit", "amount": amount, **extra},
                       format="json", **headers)


def test_the_same_key_twice_moves_cash_once_and_returns_the_same_response(investor_client, mine):
    # when
    first = deposit(investor_client, mine)
    again = deposit(investor_client, mine)
    # then one movement, one cash change, byte-identical bodies, the replay marked
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert (first.get("Idempotent-Replayed"), again["Idempotent-Replayed"]) == (None, "true")
    assert list(CashMovement.objects.filter(portfolio=mine).values_list("amount", flat=True)) == [D("100.2500")]
    mine.refresh_from_db()
    assert mine.cash == D("100.25") and first.json()["cash"] == "100.2500"


def test_json_key_order_and_spacing_do_not_change_the_request(investor_client, mine):
    deposit(investor_client, mine)
    replay = investor_client.generic(
        "POST", f"{BASE}/{mine.pk}/cash", '{ "amount": "100.25",  "operation": "deposit" }',
        content_type="application/json", HTTP_IDEMPOTENCY_KEY=KEY,
    )
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert CashMovement.objects.count() == 1


def test_the_same_key_with_another_body_is_422_and_changes_nothing(investor_client, mine):
    deposit(investor_client, mine)
    # when
    other = deposit(investor_client, mine, amount="999")
    # then
    assert other.status_code == 422
    assert other.json()["errors"][0]["code"] == "idempotency_key_reused"
    assert other.json()["errors"][0]["attr"] == "Idempotency-Key"
    assert CashMovement.objects.count() == 1


def test_a_duplicate_while_the_first_is_in_flight_is_409(investor_client, investor, mine, rf):
    # given the first request's key row, still running (its response not stored yet)
    request = rf.post(f"{BASE}/{mine.pk}/cash", {"operation": "deposit", "amount": "100.25"}, content_type="application/json")
    now = timezone.now()
    IdempotencyKey.objects.create(
        user=investor, key=KEY, method="POST", path=f"{BASE}/{mine.pk}/cash", fingerprint=request_fingerprint(request),
        owner="first", created_at=now, updated_at=now, expires_at=now + timedelta(hours=24),
    )
    # when
    duplicate = deposit(investor_client, mine)
    # then
    assert duplicate.status_code == 409
    assert (duplicate.json()["errors"][0]["code"], duplicate["Retry-After"]) == ("idempotency_request_in_flight", "1")
    assert not CashMovement.objects.exists()


def test_a_key_abandoned_by_a_dead_request_is_taken_over_by_the_retry(investor_client, investor, mine, rf):
    request = rf.post(f"{BASE}/{mine.pk}/cash", {"operation": "deposit", "amount": "100.25"}, content_type="application/json")
    old = timezone.now() - timedelta(minutes=5)
    IdempotencyKey.objects.create(
        user=investor, key=KEY, method="POST", path=f"{BASE}/{mine.pk}/cash", fingerprint=request_fingerprint(request),
        owner="dead", created_at=old, updated_at=old, expires_at=old + timedelta(hours=24),
    )
    retry = deposit(investor_client, mine)
    assert retry.status_code == 201 and retry.get("Idempotent-Replayed") is None
    assert CashMovement.objects.count() == 1
    assert IdempotencyKey.objects.get().status == "completed"


def test_keys_are_scoped_to_the_user(investor_client, other_client, other_investor, mine):
    theirs = portfolio_create(owner=other_investor, name="Theirs")
    deposit(investor_client, mine)
    # the other user's same key text is a key of their own: it runs
    assert deposit(other_client, theirs).status_code == 201
    assert CashMovement.objects.filter(portfolio=theirs).count() == 1
    # and another user's portfolio is a 404 with or without a key, stored for that user only
    assert deposit(other_client, mine, key="another-key").status_code == 404


def test_expired_keys_are_purged_and_a_key_after_24_hours_runs_again(investor_client, mine):
    deposit(investor_client, mine)
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert deposit(investor_client, mine).get("Idempotent-Replayed") is None
    assert CashMovement.objects.count() == 2
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert idempotency_keys_purge() == 1 and not IdempotencyKey.objects.exists()


def test_a_bad_key_is_400_naming_the_header(investor_client, mine):
    response = deposit(investor_client, mine, key="has space")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "Idempotency-Key"
    assert not CashMovement.objects.exists()


def test_an_error_response_is_stored_and_replayed_and_a_5xx_is_not(investor_client, mine, monkeypatch):
    # given a withdrawal beyond the cash: a 422 that is the key's answer
    key = "withdraw-1"
    first = investor_client.post(f"{BASE}/{mine.pk}/cash", {"operation": "withdraw", "amount": "5"}, format="json",
                                 HTTP_IDEMPOTENCY_KEY=key)
    again = investor_client.post(f"{BASE}/{mine.pk}/cash", {"operation": "withdraw", "amount": "5"}, format="json",
                                 HTTP_IDEMPOTENCY_KEY=key)
    assert (first.status_code, again.status_code, again.content) == (422, 422, first.content)
    # when the service crashes, nothing is stored and the key is free again
    from portfolios import services

    def boom(**_):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "cash_deposit", boom)
    investor_client.raise_request_exception = False
    crashed = deposit(investor_client, mine, key="crash-1")
    assert crashed.status_code == 500
    assert not IdempotencyKey.objects.filter(key="crash-1").exists()


def test_the_deposit_commits_last_nothing_reads_the_database_after_it(investor_client, mine):
    # The incident: a deposit committed, then a read failed and answered 500. Now the
    # response is built inside the transaction and its end is the last statement.
    with CaptureQueriesContext(connection) as queries:
        response = deposit(investor_client, mine, key=None)
    assert response.status_code == 201
    assert queries.captured_queries[-1]["sql"].startswith("RELEASE SAVEPOINT")
    assert any("INSERT INTO \"portfolios_cashmovement\"" in q["sql"] for q in queries.captured_queries)
