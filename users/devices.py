"""Services and selectors of the investor's push devices (the tokens ``rebalancer.autopilot.push``
sends to). Other apps read and delete devices through these functions only."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from common.errors import NotFound
from users.models import Device, User


def devices_list(*, user: User) -> QuerySet[Device]:
    return Device.objects.filter(user=user).order_by("-last_seen_at", "-id")


def device_get(*, device_id: int | None) -> Device | None:
    """The device, or ``None`` when it was pruned or unregistered."""
    return Device.objects.filter(pk=device_id).first()


def devices_of_users(*, user_ids: Iterable[int]) -> list[tuple[int, int, str]]:
    """``(device id, user id, provider)`` of every device of ``user_ids`` (one query)."""
    return list(Device.objects.filter(user_id__in=list(user_ids)).values_list("pk", "user_id", "provider"))


def device_register(
    *, user: User, provider: str, token: str, platform: str, app_version: str = "", name: str = ""
) -> tuple[Device, bool]:
    """Register a token, or refresh it; a token held by another account moves to ``user``.

    One install has one token, so the last account that logged in on the phone gets its pushes.
    Returns ``(device, created)``.
    """
    fields = {"user": user, "platform": platform, "app_version": app_version, "name": name,
              "last_seen_at": timezone.now()}
    for _ in range(2):  # a concurrent first registration of the same token wins the insert
        try:
            with transaction.atomic():
                return Device.objects.update_or_create(provider=provider, token=token, defaults=fields)
        except IntegrityError:
            continue
    return Device.objects.update_or_create(provider=provider, token=token, defaults=fields)


@transaction.atomic
def device_unregister(*, user: User, device_id: int) -> None:
    deleted, _ = Device.objects.filter(user=user, pk=device_id).delete()
    if not deleted:
        raise NotFound(f"device {device_id} not found", field="id")


@transaction.atomic
def device_prune(*, device_id: int) -> bool:
    """Delete a device whose token the provider reports dead; ``False`` when it is already gone.

    Push deliveries keep their record (their ``device`` is set to null)."""
    deleted, _ = Device.objects.filter(pk=device_id).delete()
    return bool(deleted)
