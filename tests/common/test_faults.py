"""A dependency down is a 503 with Retry-After in the one error shape, never a 500; and no
work after a commit can turn a committed change into an error response."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from decimal import Decimal as D

import pytest
from django.db import OperationalError, connection
from rest_framework.test import APIClient

from common.faults import dependency_down
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def quiet(client: APIClient) -> APIClient:
    """The test client re-raises what Django reports as a server error (5xx); a server only
    logs it and answers. Let the response through, as gunicorn would."""
    client.raise_request_exception = False
    return client


def assert_503(response) -> dict:
    assert response.status_code == 503, response.content
    assert int(response["Retry-After"]) >= 1
    body = response.json()
    assert body["type"] == "server_error"
    assert [e["code"] for e in body["errors"]] == ["service_unavailable"]
    return body


@pytest.fixture
def redis_down(settings):
    """The cache (throttle counters, token denylist) points at a port nobody listens on."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }


def test_dependency_down_names_database_and_redis_errors_only():
    import kombu.exceptions
    import redis.exceptions
    from django.db import IntegrityError, ProgrammingError

    assert dependency_down(OperationalError("connection refused")) == "database"
    assert dependency_down(redis.exceptions.ConnectionError("refused")) == "redis"
    assert dependency_down(redis.exceptions.TimeoutError("slow")) == "redis"
    assert dependency_down(kombu.exceptions.OperationalError("broker")) == "redis"
    assert dependency_down(IntegrityError("dup")) is None
    assert dependency_down(ProgrammingError("bug")) is None
    assert dependency_down(ValueError("bug")) is None


def test_database_down_in_a_view_is_503(investor_client, monkeypatch):
    from portfolios import selectors

    def down(**kwargs):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')

    monkeypatch.setattr(selectors, "portfolio_list", down)
    body = assert_503(quiet(investor_client).get("/api/v1/portfolios"))
    assert "database" in body["errors"][0]["detail"].lower()


def test_redis_down_makes_login_and_reads_503(redis_down, investor):
    login = quiet(APIClient()).post("/api/v1/auth/token", {"email": investor.email, "password": PASSWORD}, format="json")
    assert_503(login)
    from tests.conftest import client_for

    assert_503(quiet(client_for(investor)).get("/api/v1/portfolios"))


def test_a_non_api_page_with_the_database_down_is_a_plain_503(rf):
    from common.views import server_error

    request = rf.get("/admin/")
    try:
        raise OperationalError("the database system is shutting down")
    except OperationalError:
        assert sys.exc_info()[0] is OperationalError
        response = server_error(request)
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1


def test_api_500_stays_500_when_no_dependency_failed(rf):
    from common.views import server_error

    try:
        raise ValueError("a bug")
    except ValueError:
        response = server_error(rf.get("/api/v1/portfolios"))
    assert response.status_code == 500


def test_a_deposit_answers_201_even_if_the_database_fails_right_after_its_commit(
    transactional_db, investor_client, investor, monkeypatch
):
    # given a portfolio, and a database that goes away as soon as the deposit has committed
    # (a real transaction: the money POST commits its work and its response together, at the end)
    from portfolios import services
    from portfolios.models import CashMovement

    pid = investor_client.post("/api/v1/portfolios", {"name": "Pot"}, format="json").json()["id"]
    real_deposit = services.cash_deposit
    after_commit = ExitStack()

    def boom(execute, sql, params, many, context):
        raise OperationalError("server closed the connection unexpectedly")

    def deposit_then_database_down(**kwargs):
        movement = real_deposit(**kwargs)
        after_commit.enter_context(connection.execute_wrapper(boom))
        return movement

    monkeypatch.setattr(services, "cash_deposit", deposit_then_database_down)
    # when
    with after_commit:
        response = investor_client.post(f"/api/v1/portfolios/{pid}/cash", {"operation": "deposit", "amount": "250.00"}, format="json")
    # then the committed deposit is answered as such, with the balance it wrote
    assert response.status_code == 201, response.content
    assert D(response.json()["cash"]) == D("250.00")
    assert CashMovement.objects.filter(portfolio_id=pid).count() == 1


@pytest.mark.parametrize("edit", ["targets", "autonomy", "portfolio"])
def test_an_edit_whose_answer_cannot_be_read_is_rolled_back_with_the_503(
    transactional_db, investor_client, investor, monkeypatch, edit
):
    # given a portfolio, and a database that goes away right after the edit's service wrote
    from portfolios import services
    from portfolios.models import AutonomySettings, Portfolio, TargetAllocation

    pid = investor_client.post("/api/v1/portfolios", {"name": "Pot"}, format="json").json()["id"]
    url, body, service = {
        "targets": (f"/api/v1/portfolios/{pid}/targets", {"targets": [{"asset_class": "bond", "weight": "0.2"}]},
                    "targets_set"),
        "autonomy": (f"/api/v1/portfolios/{pid}/autonomy", {"rebalance_threshold": 0.09}, "autonomy_update"),
        "portfolio": (f"/api/v1/portfolios/{pid}", {"name": "Renamed"}, "portfolio_update"),
    }[edit]
    real = getattr(services, service)
    down = ExitStack()

    def boom(execute, sql, params, many, context):
        raise OperationalError("server closed the connection unexpectedly")

    def write_then_database_down(**kwargs):
        result = real(**kwargs)
        down.enter_context(connection.execute_wrapper(boom))
        return result

    monkeypatch.setattr(services, service, write_then_database_down)
    # when
    with down:
        client = quiet(investor_client)
        response = (client.patch if edit == "portfolio" else client.put)(url, body, format="json")
    # then the investor is told to retry, and nothing was committed that the answer denies
    assert_503(response)
    assert not TargetAllocation.objects.filter(portfolio_id=pid).exists()
    assert AutonomySettings.objects.filter(portfolio_id=pid, rebalance_threshold=0.09).count() == 0
    assert Portfolio.objects.get(pk=pid).name == "Pot"
