"""Sessions of JWTs: a reused refresh token ends its whole family; logout ends the
session's access tokens at once; other sessions go on."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from tests.conftest import PASSWORD
from users.tokens import FAMILY_CLAIM, family_revoke

pytestmark = pytest.mark.django_db
LOGIN, REFRESH, LOGOUT, ME = "/api/v1/auth/token", "/api/v1/auth/token/refresh", "/api/v1/auth/logout", "/api/v1/users/me"


def login(email: str = "investor@example.com") -> dict:
    response = APIClient().post(LOGIN, {"email": email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def refresh(token: str):
    return APIClient().post(REFRESH, {"refresh": token}, format="json")


def me(access: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get(ME).status_code


def claims(token: str) -> dict:
    import jwt

    return jwt.decode(token, options={"verify_signature": False})


def test_a_session_is_one_family_through_rotation(investor):
    first = login()
    second = refresh(first["refresh"]).json()
    family = claims(first["refresh"])[FAMILY_CLAIM]
    assert family == claims(first["refresh"])["jti"]
    assert claims(second["refresh"])[FAMILY_CLAIM] == family
    assert claims(second["access"])[FAMILY_CLAIM] == family
    # the stored token names its family too (what revoking reads)
    assert FAMILY_CLAIM in claims(OutstandingToken.objects.get(jti=claims(second["refresh"])["jti"]).token)


def test_reusing_a_rotated_refresh_token_revokes_the_tokens_issued_after_it(investor):
    # given a session rotated twice: the thief holds the first refresh token
    first = login()
    second = refresh(first["refresh"]).json()
    third = refresh(second["refresh"]).json()
    assert me(third["access"]) == 200
    # when the first one is presented again
    reuse = refresh(first["refresh"])
    # then it is refused, and everything the session issued since is dead
    assert reuse.status_code == 401
    assert refresh(third["refresh"]).status_code == 401
    assert me(third["access"]) == 401
    assert me(second["access"]) == 401


def test_reuse_in_one_session_leaves_the_users_other_sessions_alive(investor):
    phone, laptop = login(), login()
    refresh(phone["refresh"])
    assert refresh(phone["refresh"]).status_code == 401  # reuse: the phone's session ends
    assert me(laptop["access"]) == 200
    assert refresh(laptop["refresh"]).status_code == 200


def test_logout_refuses_the_sessions_access_tokens_at_once(investor):
    # given two sessions
    session, other = login(), login()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {session['access']}")
    # when the first logs out
    assert client.post(LOGOUT, {"refresh": session["refresh"]}, format="json").status_code == 204
    # then its access token is refused now, not in 15 minutes; its refresh token too
    assert me(session["access"]) == 401
    assert refresh(session["refresh"]).status_code == 401
    # and the other session goes on
    assert me(other["access"]) == 200


def test_logout_ends_older_access_tokens_of_the_same_session(investor):
    first = login()
    rotated = refresh(first["refresh"]).json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {rotated['access']}")
    assert client.post(LOGOUT, {"refresh": rotated["refresh"]}, format="json").status_code == 204
    assert me(first["access"]) == 401  # issued before the rotation, same session


def test_family_revoke_is_idempotent_and_touches_only_its_family(investor):
    a, b = login(), login()
    family = claims(a["refresh"])[FAMILY_CLAIM]
    assert family_revoke(user=investor, family=family) == 1
    assert family_revoke(user=investor, family=family) == 0
    assert BlacklistedToken.objects.count() == 1
    assert refresh(b["refresh"]).status_code == 200


@pytest.mark.parametrize("password", [" " * 10, "\t" * 12, " \n " * 5])
def test_a_whitespace_only_password_is_refused(api_client, password):
    from tests.conftest import DEFAULT_PROFILE
    from users.models import User

    response = api_client.post(
        "/api/v1/auth/register", {"email": "ws@example.com", "password": password, "profile": DEFAULT_PROFILE}, format="json"
    )
    assert response.status_code == 400
    assert "password" in [e["attr"] for e in response.json()["errors"]]
    assert not User.objects.filter(email="ws@example.com").exists()


def test_a_password_with_inner_spaces_is_fine(api_client):
    from tests.conftest import DEFAULT_PROFILE

    response = api_client.post(
        "/api/v1/auth/register",
        {"email": "ok@example.com", "password": "  correct horse battery  ", "profile": DEFAULT_PROFILE},
        format="json",
    )
    assert response.status_code == 202  # registration answers 202 whatever the email (issue 17)
    from users.models import User

    assert User.objects.get(email="ok@example.com").check_password("  correct horse battery  ")
