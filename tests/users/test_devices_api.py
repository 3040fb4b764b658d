"""Devices and notification preferences through the API."""

from __future__ import annotations

import pytest

from users.models import Device

pytestmark = pytest.mark.django_db
DEVICES, PREFERENCES = "/api/v1/devices", "/api/v1/notifications/preferences"
PHONE = {"provider": "fcm", "token": "fcm-token-1", "platform": "android", "app_version": "1.4.2", "name": "Pixel"}


def test_register_refresh_list_and_delete_a_device(investor_client, other_client):
    # when the app registers its token, then again at the next start
    first = investor_client.post(DEVICES, PHONE, format="json")
    again = investor_client.post(DEVICES, {**PHONE, "app_version": "1.5.0"}, format="json")
    # then one device, refreshed
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["app_version"] == "1.5.0"
    listed = investor_client.get(DEVICES).json()
    assert [d["id"] for d in listed["results"]] == [first.json()["id"]]
    assert "token" not in listed["results"][0]
    # another investor can neither see nor delete it
    assert other_client.get(DEVICES).json()["results"] == []
    assert other_client.delete(f"{DEVICES}/{first.json()['id']}").status_code == 404
    assert investor_client.delete(f"{DEVICES}/{first.json()['id']}").status_code == 204
    assert not Device.objects.exists()


def test_a_token_registered_by_another_account_moves_to_the_one_logged_in(investor_client, other_client, investor):
    other_client.post(DEVICES, PHONE, format="json")
    investor_client.post(DEVICES, PHONE, format="json")
    assert list(Device.objects.values_list("user_id", flat=True)) == [investor.pk]


@pytest.mark.parametrize(("change", "attr"), [
    ({"provider": "gcm"}, "provider"), ({"token": ""}, "token"), ({"platform": "symbian"}, "platform"),
    ({"provider": "apns", "platform": "android"}, "platform"),
])
def test_bad_devices_are_400_naming_the_field(investor_client, change, attr):
    response = investor_client.post(DEVICES, {**PHONE, **change}, format="json")
    assert (response.status_code, response.json()["errors"][0]["attr"]) == (400, attr)
    assert not Device.objects.exists()


def test_preferences_default_on_and_a_put_changes_only_the_kinds_given(investor_client, other_client):
    assert investor_client.get(PREFERENCES).json() == {
        "rebalanced": True, "proposal": True, "skipped": True, "risk": True, "failed": True,
    }
    response = investor_client.put(PREFERENCES, {"proposal": False}, format="json")
    assert response.json() == {"rebalanced": True, "proposal": False, "skipped": True, "risk": True, "failed": True}
    assert investor_client.put(PREFERENCES, {"risk": "maybe"}, format="json").status_code == 400
    assert other_client.get(PREFERENCES).json()["proposal"] is True
