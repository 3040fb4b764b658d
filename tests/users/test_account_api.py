"""The account lifecycle as the app uses it: registration, verification, reset, change, export,
deletion; every email read back from Django's file backend."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from tests.conftest import DEFAULT_PROFILE, PASSWORD, client_for
from users.models import InvestorProfile, User

pytestmark = pytest.mark.django_db
REGISTER, LOGIN, ME = "/api/v1/auth/register", "/api/v1/auth/token", "/api/v1/users/me"
RESET, RESET_CONFIRM = "/api/v1/auth/password/reset", "/api/v1/auth/password/reset/confirm"
CHANGE, VERIFY, EXPORT = "/api/v1/auth/password/change", "/api/v1/auth/email/verify", "/api/v1/users/me/export"
NEW_PASSWORD = "another-Strong-passphrase-7"


def register(client: APIClient, email: str, password: str = PASSWORD):
    return client.post(REGISTER, {"email": email, "password": password, "profile": DEFAULT_PROFILE}, format="json")


def login(email: str, password: str = PASSWORD):
    return APIClient().post(LOGIN, {"email": email, "password": password}, format="json")


def test_registration_sends_a_verification_link_that_works_once(api_client, mailbox, django_capture_on_commit_callbacks):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = register(api_client, "Ada@Example.com")
    # then the answer says nothing about the account, which exists, lower-cased and unverified
    assert response.status_code == 202
    assert set(response.json()) == {"detail"}
    user = User.objects.get(email="ada@example.com")
    assert user.email_verified is False
    [message] = mailbox.to("ada@example.com")
    assert message.subject == "Confirm your email address"
    assert "ada@example.com" in message.html
    path, query = message.link()
    assert path == "/open/verify-email" and set(query) == {"uid", "token"}
    # when the app posts the link's uid and token
    verified = api_client.post(VERIFY, query, format="json")
    # then the address is verified, and the link does not work twice
    assert verified.json() == {"email": "ada@example.com", "email_verified": True}
    assert User.objects.get(pk=user.pk).email_verified is True
    again = api_client.post(VERIFY, query, format="json")
    assert (again.status_code, again.json()["errors"][0]["attr"]) == (400, "token")


def test_registering_a_taken_email_answers_the_same_and_tells_only_its_owner(
    api_client, investor, mailbox, django_capture_on_commit_callbacks
):
    # given a new address's answer
    with django_capture_on_commit_callbacks(execute=True):
        fresh = register(api_client, "fresh@example.com")
    # when the investor's own address registers again, in another case and with another password
    with django_capture_on_commit_callbacks(execute=True):
        taken = register(api_client, "INVESTOR@example.com", password="some-Other-passphrase-9")
    # then both answers are identical, no account was made, the owner was told, the password kept
    assert (taken.status_code, taken.json()) == (fresh.status_code, fresh.json())
    assert User.objects.filter(email__iexact="investor@example.com").count() == 1
    [notice] = mailbox.to("investor@example.com")
    assert notice.subject == "You already have an account"
    assert login("investor@example.com").status_code == 200


def test_a_weak_password_is_400_for_a_taken_email_as_for_a_new_one(api_client, investor):
    taken = register(api_client, "investor@example.com", password="short")
    fresh = register(api_client, "nobody@example.com", password="short")
    assert taken.status_code == fresh.status_code == 400
    assert taken.json() == fresh.json()


def test_login_ignores_the_case_of_the_email(investor):
    assert login("Investor@EXAMPLE.com").status_code == 200


def test_password_reset_by_emailed_link_once(api_client, investor, mailbox, django_capture_on_commit_callbacks):
    # when the investor asks, and someone asks for an unknown address
    with django_capture_on_commit_callbacks(execute=True):
        known = api_client.post(RESET, {"email": "INVESTOR@example.com"}, format="json")
        unknown = api_client.post(RESET, {"email": "nobody@example.com"}, format="json")
    # then both are 202 with the same body, and only the investor got an email
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (202, known.json())
    assert [m.to for m in mailbox.messages()] == ["investor@example.com"]
    path, query = mailbox.to("investor@example.com")[0].link()
    assert path == "/open/reset-password" and set(query) == {"uid", "token"}
    # when the app sets a new password with the link
    old_access = RefreshToken.for_user(investor).access_token
    confirmed = api_client.post(RESET_CONFIRM, {**query, "new_password": NEW_PASSWORD}, format="json")
    # then the new password works, the old one and old tokens do not, and the link is spent
    assert confirmed.status_code == 204
    assert login("investor@example.com", NEW_PASSWORD).status_code == 200
    assert login("investor@example.com").status_code == 401
    assert APIClient(HTTP_AUTHORIZATION=f"Bearer {old_access}").get(ME).status_code == 401
    reused = api_client.post(RESET_CONFIRM, {**query, "new_password": "yet-Another-phrase-3"}, format="json")
    assert (reused.status_code, reused.json()["errors"][0]["code"]) == (400, "invalid_token")


@pytest.mark.parametrize("query", [{"uid": "garbage", "token": "x"}, {"uid": "MQ", "token": "1-abc"}])
def test_a_bad_reset_link_is_400_naming_token_and_changes_nothing(api_client, investor, query):
    response = api_client.post(RESET_CONFIRM, {**query, "new_password": NEW_PASSWORD}, format="json")
    assert (response.status_code, response.json()["errors"][0]["attr"]) == (400, "token")
    assert login("investor@example.com").status_code == 200


def test_password_change_needs_the_old_one_and_returns_fresh_tokens(investor_client, investor):
    wrong = investor_client.post(CHANGE, {"old_password": "not-it-at-all-1", "new_password": NEW_PASSWORD}, format="json")
    assert (wrong.status_code, wrong.json()["errors"][0]["attr"]) == (400, "old_password")
    weak = investor_client.post(CHANGE, {"old_password": PASSWORD, "new_password": "12345678901"}, format="json")
    assert (weak.status_code, weak.json()["errors"][0]["attr"]) == (400, "new_password")
    assert login("investor@example.com").status_code == 200  # nothing changed so far
    # when
    changed = investor_client.post(CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json")
    # then the old access token is dead and the returned one works
    assert changed.status_code == 200
    assert investor_client.get(ME).status_code == 401
    assert APIClient(HTTP_AUTHORIZATION=f"Bearer {changed.json()['access']}").get(ME).status_code == 200


def test_email_change_takes_effect_when_the_new_address_confirms(
    investor_client, investor, api_client, mailbox, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = investor_client.patch(ME, {"email": "New@Example.com", "password": PASSWORD}, format="json")
    # then the address is pending and the link went to it
    assert (response.json()["email"], response.json()["pending_email"]) == ("investor@example.com", "new@example.com")
    [message] = mailbox.to("new@example.com")
    verified = api_client.post(VERIFY, message.link()[1], format="json")
    assert verified.json() == {"email": "new@example.com", "email_verified": True}
    assert login("NEW@example.com").status_code == 200
    assert login("investor@example.com").status_code == 401


def test_email_change_needs_the_password_and_to_a_taken_address_reveals_nothing(
    investor_client, investor, other_investor, mailbox, django_capture_on_commit_callbacks
):
    missing = investor_client.patch(ME, {"email": "x@example.com"}, format="json")
    assert (missing.status_code, missing.json()["errors"][0]["attr"]) == (400, "password")
    with django_capture_on_commit_callbacks(execute=True):
        taken = investor_client.patch(ME, {"email": "OTHER@example.com", "password": PASSWORD}, format="json")
    # the same answer as for a free address; the address's owner is told, no link is sent
    assert (taken.status_code, taken.json()["pending_email"]) == (200, "other@example.com")
    [notice] = mailbox.to("other@example.com")
    assert notice.subject == "You already have an account" and "verify-email" not in notice.text
    assert User.objects.get(pk=investor.pk).email == "investor@example.com"


@pytest.fixture
def invested(investor, market_prices):
    """A portfolio with cash and two positions bought at the closes."""
    from portfolios.services import cash_deposit, portfolio_create, trades_execute
    from portfolios.trading import ProposedTrade

    portfolio = portfolio_create(owner=investor, name="Nest egg")
    cash_deposit(portfolio=portfolio, amount=Decimal("10000"))
    trades_execute(portfolio=portfolio, as_of=market_prices, trades=[
        ProposedTrade("AAA", "buy", Decimal(10), Decimal(100), Decimal(0), "start"),
        ProposedTrade("BBB", "buy", Decimal(20), Decimal(50), Decimal(0), "start"),
    ])
    portfolio.refresh_from_db()
    return portfolio


@pytest.fixture
def market_prices(db):
    from datetime import date

    from marketdata.models import Asset, PriceBar

    day = date(2024, 1, 2)
    for symbol, close in {"AAA": "100", "BBB": "50"}.items():
        asset = Asset.objects.create(symbol=symbol, name=symbol, asset_class="equity")
        PriceBar.objects.create(asset=asset, date=day, open=close, high=close, low=close, close=close,
                                adj_close=close, volume=1000)
    return day


def test_export_holds_the_profile_and_the_ledger(investor_client, investor, invested):
    # when
    response = investor_client.get(EXPORT)
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["email"] == "investor@example.com"
    assert body["profile"]["risk_tier"] == "balanced"
    [portfolio] = body["portfolios"]
    assert portfolio["name"] == "Nest egg"
    assert [(m["kind"], m["amount"]) for m in portfolio["cash_movements"]] == [("deposit", "10000.0000")]
    assert sorted((t["asset__symbol"], t["side"], t["quantity"]) for t in portfolio["trades"]) == [
        ("AAA", "buy", "10.00000000"), ("BBB", "buy", "20.00000000")
    ]
    assert {"notifications", "notification_preferences", "backtests", "devices"} <= set(body)


def test_deleting_an_account_that_is_not_flat_needs_liquidate_and_changes_nothing(investor_client, investor, invested):
    # when
    response = investor_client.delete(ME, {"password": PASSWORD}, format="json")
    # then
    assert (response.status_code, response.json()["errors"][0]["attr"]) == (409, "liquidate")
    investor.refresh_from_db()
    assert (investor.is_active, investor.email, investor.deleted_at) == (True, "investor@example.com", None)
    assert invested.positions.filter(quantity__gt=0).count() == 2


def test_a_wrong_password_does_not_delete(investor_client, investor):
    response = investor_client.delete(ME, {"password": "wrong-password-99"}, format="json")
    assert (response.status_code, response.json()["errors"][0]["attr"]) == (400, "password")
    assert User.objects.get(pk=investor.pk).is_active


def test_deletion_liquidates_keeps_the_ledger_and_removes_personal_data(
    investor_client, investor, other_investor, invested, mailbox, django_capture_on_commit_callbacks
):
    from portfolios.models import CashMovement, Trade

    # given a refresh token and an other investor who must not be touched
    refresh = str(RefreshToken.for_user(investor))
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = investor_client.delete(ME, {"password": PASSWORD, "liquidate": True}, format="json")
    # then the positions were sold at the close, the cash paid out, the ledger kept
    assert response.status_code == 204
    invested.refresh_from_db()
    assert invested.cash == 0
    assert invested.positions.filter(quantity__gt=0).count() == 0
    assert Trade.objects.filter(portfolio=invested, side="sell").count() == 2
    kinds = list(CashMovement.objects.filter(portfolio=invested).order_by("id").values_list("kind", flat=True))
    assert kinds == ["deposit", "withdrawal"]
    withdrawal = CashMovement.objects.get(portfolio=invested, kind="withdrawal")
    assert withdrawal.amount == -(Decimal("10000") - invested.trades.filter(side="buy").count() * 0
                                  + sum(t.cash_flow for t in Trade.objects.filter(portfolio=invested)))
    # and the person is gone: anonymous, inactive, no profile, tokens dead, the closing email sent
    user = User.objects.get(pk=investor.pk)
    assert user.email == f"deleted-{user.pk}@deleted.invalid"
    assert (user.first_name, user.is_active, user.has_usable_password()) == ("", False, False)
    assert not InvestorProfile.objects.filter(user=user).exists()
    assert login("investor@example.com").status_code == 401
    assert APIClient().post("/api/v1/auth/token/refresh", {"refresh": refresh}, format="json").status_code == 401
    [closing] = mailbox.to("investor@example.com")
    assert closing.subject == "Your account is closed" and "Nest egg" in closing.text
    # the address can open a new account; the other investor is untouched
    assert User.objects.get(pk=other_investor.pk).is_active
    assert client_for(other_investor).get(ME).status_code == 200
