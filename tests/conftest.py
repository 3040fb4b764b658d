"""Fixtures shared by the whole suite: API clients and investors."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

DEFAULT_PROFILE = {
    "age_band": "30_44",
    "investment_horizon": 8,
    "income_stability": "stable",
    "loss_reaction": "hold",
    "experience": "basic",
    "emergency_fund": "3_to_6_months",
}
PASSWORD = "a-Strong-passphrase-42"


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttle counters and cached panels live in the cache; tests must not share them.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def make_investor(email: str, **profile_overrides: object):
    from users.services import user_register

    return user_register(
        email=email, password=PASSWORD, profile={**DEFAULT_PROFILE, **profile_overrides}
    )


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def investor(db):
    return make_investor("investor@example.com")


@pytest.fixture
def other_investor(db):
    return make_investor("other@example.com")


@pytest.fixture
def investor_client(investor) -> APIClient:
    return client_for(investor)


@pytest.fixture
def other_client(other_investor) -> APIClient:
    return client_for(other_investor)
