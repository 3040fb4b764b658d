"""The operators' admin pages for market data."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from marketdata.models import DataPull, PriceBar

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(db) -> Client:
    from users.models import User

    client = Client()
    client.force_login(User.objects.create_superuser(email="ops@example.com", password="x-Strong-passphrase-1"))
    return client


@pytest.mark.parametrize("model", ["asset", "pricebar", "corporateaction", "datapull"])
def test_changelists_render(operator_client, priced, model):
    DataPull.objects.create(provider="synthetic", start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 5))
    response = operator_client.get(f"/admin/marketdata/{model}/")
    assert response.status_code == 200


def test_bars_are_read_only_with_a_date_hierarchy(operator_client, priced):
    # given
    bar = PriceBar.objects.first()

    # when
    listing = operator_client.get("/admin/marketdata/pricebar/?date__year=2024")
    change = operator_client.post(f"/admin/marketdata/pricebar/{bar.pk}/change/", {"close": "1"})
    add = operator_client.get("/admin/marketdata/pricebar/add/")

    # then
    assert listing.status_code == 200
    assert b"date__month" in listing.content  # the hierarchy drills into months
    assert change.status_code == 403
    assert add.status_code == 403
    assert PriceBar.objects.get(pk=bar.pk).close == bar.close


def test_health_action_reports_each_asset(operator_client, priced):
    # when
    response = operator_client.post(
        "/admin/marketdata/asset/",
        {"action": "health_check", "_selected_action": [priced["AAA"].pk, priced["CCC"].pk]},
        follow=True,
    )

    # then: checked as of today, so AAA (last bar 2024-01-05) is stale and CCC missing
    text = response.content.decode()
    assert "AAA: stale (last bar 2024-01-05)" in text
    assert "CCC: missing (last bar None)" in text
