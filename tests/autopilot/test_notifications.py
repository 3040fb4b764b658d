"""The investor's notifications API: own only, unread filter, mark read (one and all)."""

from __future__ import annotations

import pytest

from portfolios.models import Portfolio
from rebalancer.autopilot.models import Notification

pytestmark = pytest.mark.django_db


def _notify(user, portfolio, title: str, *, read: bool = False) -> Notification:
    from django.utils import timezone

    return Notification.objects.create(
        user=user, portfolio=portfolio, kind=Notification.Kind.REBALANCED, title=title, body=f"{title}.",
        read_at=timezone.now() if read else None,
    )


def test_lists_own_notifications_newest_first_with_filters(investor, other_investor, investor_client):
    # given: two portfolios with three notifications (one read), and someone else's
    a = Portfolio.objects.create(owner=investor, name="A")
    b = Portfolio.objects.create(owner=investor, name="B")
    first = _notify(investor, a, "A rebalanced", read=True)
    second = _notify(investor, b, "B rebalanced")
    third = _notify(investor, a, "A again")
    _notify(other_investor, Portfolio.objects.create(owner=other_investor, name="X"), "not yours")
    # when / then: all of mine, newest first
    body = investor_client.get("/api/v1/notifications").json()
    assert [n["id"] for n in body["results"]] == [third.pk, second.pk, first.pk]
    assert body["results"][2]["read"] is True and body["results"][0]["read"] is False
    assert body["results"][0]["portfolio"] == a.pk
    # unread only, and one portfolio's only
    unread = investor_client.get("/api/v1/notifications", {"unread": "true"}).json()["results"]
    assert [n["id"] for n in unread] == [third.pk, second.pk]
    only_a = investor_client.get("/api/v1/notifications", {"portfolio": a.pk}).json()["results"]
    assert [n["id"] for n in only_a] == [third.pk, first.pk]


def test_bad_filter_names_the_field(investor_client):
    response = investor_client.get("/api/v1/notifications", {"portfolio": "abc"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "portfolio"


def test_mark_read_is_idempotent_and_another_users_is_404(investor, other_investor, investor_client, other_client):
    # given
    portfolio = Portfolio.objects.create(owner=investor, name="A")
    note = _notify(investor, portfolio, "A rebalanced")
    # when
    first = investor_client.post(f"/api/v1/notifications/{note.pk}/read")
    again = investor_client.post(f"/api/v1/notifications/{note.pk}/read")
    stranger = other_client.post(f"/api/v1/notifications/{note.pk}/read")
    # then
    assert first.status_code == 200 and first.json()["read"] is True
    assert again.json()["read_at"] == first.json()["read_at"]  # the first read time is kept
    assert stranger.status_code == 404
    assert other_client.get("/api/v1/notifications").json()["results"] == []


def test_mark_all_read_touches_only_own_unread(investor, other_investor, investor_client):
    # given
    portfolio = Portfolio.objects.create(owner=investor, name="A")
    _notify(investor, portfolio, "one")
    _notify(investor, portfolio, "two")
    _notify(investor, portfolio, "old", read=True)
    theirs = _notify(other_investor, Portfolio.objects.create(owner=other_investor, name="X"), "theirs")
    # when
    response = investor_client.post("/api/v1/notifications/read")
    # then
    assert response.status_code == 200 and response.json() == {"marked": 2}
    assert not Notification.objects.filter(user=investor, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_requires_authentication(api_client):
    assert api_client.get("/api/v1/notifications").status_code == 401
