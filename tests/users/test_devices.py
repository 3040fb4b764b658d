"""The device services and selectors other apps use (the push outbox): prune, get, list by user."""

from __future__ import annotations

from users.devices import device_get, device_prune, device_register, devices_of_users
from users.models import Device


def test_a_dead_token_is_pruned_once_and_the_other_devices_stay(investor, other_investor):
    # given
    dead, _ = device_register(user=investor, provider="fcm", token="dead", platform="android")
    kept, _ = device_register(user=investor, provider="apns", token="kept", platform="ios")
    device_register(user=other_investor, provider="fcm", token="other", platform="android")
    # when
    first = device_prune(device_id=dead.pk)
    again = device_prune(device_id=dead.pk)
    # then
    assert (first, again) == (True, False)
    assert sorted(Device.objects.values_list("token", flat=True)) == ["kept", "other"]
    assert device_get(device_id=dead.pk) is None
    assert device_get(device_id=kept.pk) == kept and device_get(device_id=None) is None


def test_devices_of_users_lists_id_owner_and_provider_of_those_users_only(investor, other_investor, db):
    # given
    a, _ = device_register(user=investor, provider="fcm", token="a", platform="android")
    b, _ = device_register(user=investor, provider="apns", token="b", platform="ios")
    device_register(user=other_investor, provider="fcm", token="c", platform="android")
    # when
    rows = devices_of_users(user_ids={investor.pk})
    # then
    assert sorted(rows) == [(a.pk, investor.pk, "fcm"), (b.pk, investor.pk, "apns")]
    assert devices_of_users(user_ids=[]) == []
