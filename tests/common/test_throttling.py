"""Throttles: forged X-Forwarded-For does not pick a new bucket; accounts and users are
counted wherever the requests come from; heavy scopes have their own budget."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from common.throttling import client_ip, parse_rate
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
LOGIN, REFRESH = "/api/v1/auth/token", "/api/v1/auth/token/refresh"


@pytest.fixture
def rates(settings):
    """Set some throttle rates for one test (read per request)."""

    def set_rates(**scopes: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **scopes},
        }

    return set_rates


class _Request:
    def __init__(self, remote: str, forwarded: str | None = None) -> None:
        self.META = {"REMOTE_ADDR": remote}
        if forwarded is not None:
            self.META["HTTP_X_FORWARDED_FOR"] = forwarded


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "6.6.6.6", "10.0.0.9"),  # no proxy of ours: the header is the client's invention
        (0, None, "10.0.0.9"),
        (1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # what our proxy appended, not what the client wrote
        (2, "6.6.6.6, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
        (1, None, "10.0.0.9"),
    ],
)
def test_client_ip_trusts_only_as_many_forwarded_entries_as_our_proxies(settings, proxies, forwarded, expected):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}
    assert client_ip(_Request("10.0.0.9", forwarded)) == expected


def test_parse_rate():
    assert parse_rate("20/minute") == (20, 60)
    assert parse_rate("3/hour") == (3, 3600)
    assert parse_rate("1/s") == (1, 1)
    assert parse_rate("5/day") == (5, 86400)


def test_rotating_forged_forwarded_for_does_not_reset_the_login_throttle(rates, investor):
    # given 3 logins a minute per IP (and accounts unlimited for this test)
    rates(auth_login="3/minute", auth_login_account="1000/minute")
    client = APIClient(REMOTE_ADDR="198.51.100.4")
    # when each attempt claims another client IP
    statuses = [
        client.post(LOGIN, {"email": investor.email, "password": "wrong-password-1"}, format="json",
                    HTTP_X_FORWARDED_FOR=f"10.1.{i}.{i}").status_code
        for i in range(5)
    ]
    # then the real address is counted: the 4th and 5th are refused
    assert statuses == [401, 401, 401, 429, 429]
    right = client.post(LOGIN, {"email": investor.email, "password": PASSWORD}, format="json",
                        HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert right.status_code == 429


def test_the_account_is_throttled_from_every_ip_and_the_right_password_waits(rates, investor):
    # given 3 attempts an hour per account, IPs unlimited
    rates(auth_login="1000/minute", auth_login_account="3/hour")
    # when a guesser uses a new address for each attempt
    statuses = [
        APIClient(REMOTE_ADDR=f"203.0.113.{i}").post(
            LOGIN, {"email": investor.email.upper(), "password": f"guess-{i}-xxxxxx"}, format="json"
        ).status_code
        for i in range(4)
    ]
    # then the 4th is refused, and so is the owner's correct password until the window ends
    assert statuses == [401, 401, 401, 429]
    owner = APIClient(REMOTE_ADDR="192.0.2.50").post(LOGIN, {"email": investor.email, "password": PASSWORD}, format="json")
    assert owner.status_code == 429
    assert int(owner["Retry-After"]) >= 1
    assert owner.json()["errors"][0]["code"] == "throttled"
    # another account is unaffected
    other = APIClient(REMOTE_ADDR="192.0.2.50").post(LOGIN, {"email": "nobody@example.com", "password": "x" * 12}, format="json")
    assert other.status_code == 401


def test_refresh_is_throttled_per_account(rates, investor):
    rates(auth_refresh="1000/minute", auth_refresh_account="2/minute")
    refresh = APIClient().post(LOGIN, {"email": investor.email, "password": PASSWORD}, format="json").json()["refresh"]
    first = APIClient(REMOTE_ADDR="203.0.113.1").post(REFRESH, {"refresh": refresh}, format="json")
    refresh = first.json()["refresh"]
    second = APIClient(REMOTE_ADDR="203.0.113.2").post(REFRESH, {"refresh": refresh}, format="json")
    third = APIClient(REMOTE_ADDR="203.0.113.3").post(REFRESH, {"refresh": second.json()["refresh"]}, format="json")
    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 429]


def test_register_is_throttled_per_email_across_ips(rates):
    from tests.conftest import DEFAULT_PROFILE

    rates(auth_register="1000/minute", auth_register_account="2/hour")
    body = {"email": "spray@example.com", "password": "x", "profile": DEFAULT_PROFILE}
    statuses = [APIClient(REMOTE_ADDR=f"203.0.113.{i}").post("/api/v1/auth/register", body, format="json").status_code
                for i in range(3)]
    assert statuses == [400, 400, 429]


def test_password_reset_is_throttled_per_email_across_ips_and_per_ip(rates):
    # given 2 resets an hour per email, 3 per IP
    rates(auth_password_reset="3/hour", auth_password_reset_account="2/hour")
    body = {"email": "Victim@Example.com"}
    spread = [APIClient(REMOTE_ADDR=f"203.0.113.{i}").post("/api/v1/auth/password/reset", body, format="json")
              .status_code for i in range(3)]
    # then the third address gets 429 for the same email (case ignored), whoever asks
    assert spread == [202, 202, 429]
    one_ip = APIClient(REMOTE_ADDR="198.51.100.7")
    statuses = [one_ip.post("/api/v1/auth/password/reset", {"email": f"u{i}@example.com"}, format="json")
                .status_code for i in range(4)]
    assert statuses == [202, 202, 202, 429]


@pytest.mark.parametrize("path", ["/api/v1/auth/password/reset/confirm", "/api/v1/auth/email/verify"])
def test_emailed_links_are_throttled_per_uid_across_ips(rates, path):
    rates(auth_link="1000/hour", auth_link_account="2/hour")
    body = {"uid": "MQ", "token": "guess", "new_password": "a long new passphrase 42"}
    statuses = [APIClient(REMOTE_ADDR=f"203.0.113.{i}").post(path, body, format="json").status_code
                for i in range(3)]
    assert statuses == [400, 400, 429]


def test_password_change_is_throttled_per_user(rates, investor_client):
    # given 2 attempts an hour: old-password guesses with a stolen token stop at the third
    rates(auth_password_change="2/hour")
    body = {"old_password": "wrong guess", "new_password": "a long new passphrase 42"}
    statuses = [investor_client.post("/api/v1/auth/password/change", body, format="json").status_code
                for _ in range(3)]
    assert statuses == [400, 400, 429]


def test_every_api_call_is_throttled_per_user(rates, investor_client, other_client):
    rates(user="3/minute")
    statuses = [investor_client.get("/api/v1/portfolios").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert other_client.get("/api/v1/portfolios").status_code == 200  # per user, not global


def test_heavy_scopes_have_their_own_budget(rates, investor_client):
    # given two VaR computations a minute, reads plentiful
    rates(compute="2/minute", user="1000/minute")
    body = {"weights": {"A": 1.0}, "returns": {"A": [0.01, -0.02, 0.005, 0.0, -0.01] * 10}}
    statuses = [investor_client.post("/api/v1/risk/var", body, format="json").status_code for _ in range(3)]
    # then the third is refused while reads go on
    assert statuses[2] == 429 and statuses[:2] != [429, 429]
    assert investor_client.get("/api/v1/portfolios").status_code == 200


def test_health_is_never_throttled(rates, api_client):
    rates(anon="1/minute")
    assert [api_client.get("/api/v1/health/").status_code for _ in range(3)] == [200, 200, 200]
