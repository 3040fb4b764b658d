"""Periodic maintenance of the auth tables."""

from celery import shared_task


@shared_task(name="users.tokens_flush_expired_task")
def tokens_flush_expired_task() -> int:
    """Delete expired outstanding (and so blacklisted) refresh tokens; returns how many."""
    from users.services import tokens_flush_expired

    return tokens_flush_expired()
