"""Services of the investor's push devices (the tokens ``rebalancer.autopilot.push`` sends to)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from common.errors import NotFound
from users.models import Device, User


def devices_list(*, user: User) -> QuerySet[Device]:
    return Device.objects.filter(user=user).order_by("-last_seen_at", "-id")


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
