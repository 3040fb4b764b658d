"""Periodic maintenance of the auth tables."""

from celery import shared_task


@shared_task(name="users.tokens_flush_expired_task")
def tokens_flush_expired_task() -> int:
    """Delete expired outstanding (and so blacklisted) refresh tokens; returns how many."""
    from users.services import tokens_flush_expired

    return tokens_flush_expired()


@shared_task(name="users.email_deliver_task", autoretry_for=(OSError,), retry_backoff=30, max_retries=5)
def email_send_task(*, template: str, to: str, context: dict) -> None:
    """Render ``templates/emails/<template>`` and send it (retried when the SMTP server is down)."""
    from users.emails import email_deliver

    email_deliver(template=template, to=to, context=context)
