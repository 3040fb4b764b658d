"""Refresh-token rotation under a real race, on PostgreSQL (SQLite serialises writers)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

pytestmark = pytest.mark.integration


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refreshes_of_one_token_exactly_one_succeeds(investor):
    # given one refresh token and two clients, each on its own database connection
    login = APIClient().post("/api/v1/auth/token", {"email": investor.email, "password": PASSWORD}, format="json")
    refresh = login.json()["refresh"]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def race() -> None:
        try:
            barrier.wait()
            response = APIClient().post("/api/v1/auth/token/refresh", {"refresh": refresh}, format="json")
            statuses.append(response.status_code)
        finally:
            connection.close()

    # when both refresh at once
    threads = [threading.Thread(target=race) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then exactly one wins; the loser gets a 401, not a second pair of tokens
    assert sorted(statuses) == [200, 401]
