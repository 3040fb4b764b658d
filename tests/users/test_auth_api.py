"""The auth flow the mobile app uses, including its failure modes."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.conftest import DEFAULT_PROFILE, PASSWORD
from users.models import InvestorProfile, User

pytestmark = pytest.mark.django_db
REGISTER, LOGIN, REFRESH, LOGOUT, ME = (
    "/api/v1/auth/register", "/api/v1/auth/token", "/api/v1/auth/token/refresh", "/api/v1/auth/logout", "/api/v1/users/me",
)


def register(client: APIClient, email: str = "new@example.com", password: str = PASSWORD, **extra):
    return client.post(REGISTER, {"email": email, "password": password, "profile": DEFAULT_PROFILE, **extra}, format="json")


def login(client: APIClient, email: str = "investor@example.com", password: str = PASSWORD):
    return client.post(LOGIN, {"email": email, "password": password}, format="json")


def assert_error_shape(response, status: int, attr: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["type"] in {"validation_error", "client_error", "server_error"}
    assert isinstance(body["errors"], list) and body["errors"]
    for error in body["errors"]:
        assert set(error) == {"code", "detail", "attr"}
    if attr is not None:
        assert attr in [e["attr"] for e in body["errors"]]
    return body


def test_register_creates_user_and_scored_profile(api_client):
    # when
    response = register(api_client, first_name="Ada")
    # then (the answer is the same for a taken email, so it carries no account data)
    assert response.status_code == 202
    assert "password" not in response.json()
    user = User.objects.get(email="new@example.com")
    assert (user.first_name, user.profile.risk_score, user.profile.risk_tier) == ("Ada", 6, "balanced")
    assert user.check_password(PASSWORD)
    assert InvestorProfile.objects.get(user=user).investment_horizon == 8


def test_duplicate_email_is_answered_like_a_new_one_and_creates_nothing(api_client, investor):
    # when the same email registers again, in another case
    response = register(api_client, email="INVESTOR@example.com")
    # then nothing tells that the address has an account (tests/users/test_account_api.py: its owner is told)
    assert response.status_code == 202
    assert response.json() == register(api_client, email="someone-new@example.com").json()
    assert User.objects.filter(email__iexact="investor@example.com").count() == 1


@pytest.mark.parametrize("password", ["short", "1234567890123", "password123", "new@example.com"])
def test_weak_password_is_400_naming_password(api_client, password):
    response = register(api_client, password=password)
    assert_error_shape(response, 400, attr="password")
    assert not User.objects.filter(email="new@example.com").exists()


def test_bad_questionnaire_answer_is_400_naming_the_field(api_client):
    response = api_client.post(REGISTER, {"email": "q@example.com", "password": PASSWORD,
                                          "profile": {**DEFAULT_PROFILE, "loss_reaction": "panic"}}, format="json")
    assert_error_shape(response, 400, attr="profile.loss_reaction")
    assert User.objects.count() == 0


@pytest.mark.parametrize("body", [{}, {"email": "not-an-email"}, [], "text", {"email": "a@b.co", "password": 5, "profile": "x"}])
def test_malformed_register_bodies_are_400(api_client, body):
    response = api_client.post(REGISTER, body, format="json")
    assert_error_shape(response, 400)


def test_login_returns_tokens_and_access_works(api_client, investor):
    response = login(api_client)
    assert response.status_code == 200
    tokens = response.json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    me = api_client.get(ME)
    assert me.status_code == 200
    assert me.json()["email"] == "investor@example.com"
    assert me.json()["profile"]["risk_tier"] == "balanced"


def test_wrong_password_is_401(api_client, investor):
    assert_error_shape(login(api_client, password="wrong-password-123"), 401)


def test_unknown_email_is_401(api_client, investor):
    assert_error_shape(login(api_client, email="nobody@example.com"), 401)


def test_me_without_token_is_401(api_client):
    assert_error_shape(api_client.get(ME), 401)


def test_expired_access_token_is_401(api_client, investor):
    token = AccessToken.for_user(investor)
    token.set_exp(lifetime=-timedelta(seconds=1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_error_shape(api_client.get(ME), 401)


def test_tampered_access_token_is_401(api_client, investor, other_investor):
    # given a valid token whose payload is rewritten to another user's id, signature kept
    header, payload, signature = str(AccessToken.for_user(investor)).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["user_id"] = str(other_investor.pk)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {header}.{forged}.{signature}")
    assert_error_shape(api_client.get(ME), 401)


def test_alg_none_token_is_401(api_client, investor):
    # given an unsigned token claiming alg=none with otherwise valid claims
    claims = dict(AccessToken.for_user(investor).payload)
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {enc({'alg': 'none', 'typ': 'JWT'})}.{enc(claims)}.")
    assert_error_shape(api_client.get(ME), 401)


def test_refresh_token_is_not_an_access_token(api_client, investor):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(investor)}")
    assert_error_shape(api_client.get(ME), 401)


def test_refresh_rotates_and_the_old_refresh_token_is_dead(api_client, investor):
    # given
    first = login(api_client).json()
    # when
    rotated = api_client.post(REFRESH, {"refresh": first["refresh"]}, format="json")
    # then a new pair comes back, the new refresh works once, and the old one is refused
    assert rotated.status_code == 200
    pair = rotated.json()
    assert pair["refresh"] != first["refresh"]
    again = api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert again.status_code == 200
    assert_error_shape(api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401)
    # (presenting a rotated token again also ends its session: tests/users/test_tokens.py)


def test_garbage_refresh_token_is_401(api_client):
    assert_error_shape(api_client.post(REFRESH, {"refresh": "not.a.token"}, format="json"), 401)


def test_logout_blacklists_the_refresh_token(investor_client, api_client):
    refresh = login(api_client).json()["refresh"]
    response = investor_client.post(LOGOUT, {"refresh": refresh}, format="json")
    assert response.status_code == 204
    assert_error_shape(api_client.post(REFRESH, {"refresh": refresh}, format="json"), 401)


def test_logout_with_someone_elses_refresh_token_is_400_and_keeps_it_alive(investor_client, other_investor, api_client):
    refresh = str(RefreshToken.for_user(other_investor))
    assert_error_shape(investor_client.post(LOGOUT, {"refresh": refresh}, format="json"), 400, attr="refresh")
    assert api_client.post(REFRESH, {"refresh": refresh}, format="json").status_code == 200


def test_deactivated_user_gets_401_for_access_and_refresh(api_client, investor):
    tokens = login(api_client).json()
    User.objects.filter(pk=investor.pk).update(is_active=False)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert_error_shape(api_client.get(ME), 401)
    assert_error_shape(APIClient().post(REFRESH, {"refresh": tokens["refresh"]}, format="json"), 401)
    assert_error_shape(login(APIClient()), 401)


def test_deleted_user_refresh_is_401(api_client, investor):
    refresh = login(api_client).json()["refresh"]
    User.objects.filter(pk=investor.pk).delete()
    assert_error_shape(api_client.post(REFRESH, {"refresh": refresh}, format="json"), 401)


def test_patch_me_updates_names_and_rescores_the_questionnaire(investor_client, investor):
    response = investor_client.patch(ME, {"first_name": "Grace", "profile": {"investment_horizon": 1}}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["first_name"] == "Grace"
    assert body["profile"]["investment_horizon"] == 1
    assert (body["profile"]["risk_score"], body["profile"]["risk_tier"]) == (3, "moderate")  # short-horizon cap
    investor.profile.refresh_from_db()
    assert investor.profile.risk_score == 3


def test_patch_me_ignores_read_only_and_privileged_fields(investor_client, investor):
    # when the client tries mass assignment
    response = investor_client.patch(
        ME,
        {"is_staff": True, "is_superuser": True, "email_verified": True, "pending_email": "hijack@example.com",
         "id": 999, "date_joined": "2000-01-01T00:00:00Z", "profile": {"risk_score": 10, "risk_tier": "aggressive"}},
        format="json",
    )
    # then nothing changed
    assert response.status_code == 200
    user = User.objects.get(pk=investor.pk)
    assert (user.is_staff, user.is_superuser, user.email, user.email_verified, user.pending_email) == (
        False, False, "investor@example.com", False, ""
    )
    assert (user.profile.risk_score, user.profile.risk_tier) == (6, "balanced")


def test_patch_me_with_a_bad_answer_changes_nothing(investor_client, investor):
    response = investor_client.patch(ME, {"first_name": "X", "profile": {"age_band": "ancient"}}, format="json")
    assert_error_shape(response, 400, attr="profile.age_band")
    assert User.objects.get(pk=investor.pk).first_name == ""


def test_login_and_register_are_throttled_with_retry_after(api_client, investor, settings):
    # given tight rates (read per request, so the override applies at once)
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "auth_register": "2/minute", "auth_login": "3/minute",
        },
    }
    # when / then
    statuses = [login(api_client, password="wrong-password-1").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    throttled = login(api_client)
    assert_error_shape(throttled, 429)
    assert int(throttled["Retry-After"]) > 0
    assert [register(api_client, email=f"r{i}@example.com").status_code for i in range(3)] == [202, 202, 429]
