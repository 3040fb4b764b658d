"""Reads (and the token-table housekeeping that goes with them)."""

from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken


def tokens_flush_expired() -> int:
    """Delete outstanding refresh tokens past expiry (their blacklist rows cascade)."""
    deleted, _ = OutstandingToken.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
