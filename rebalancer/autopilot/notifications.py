"""The investor's notifications (what the autopilot did or proposes): read and mark read.

Written by the cycle (``rebalancer.autopilot.bulk`` / ``services``); the app lists them
through ``GET notifications`` and marks them read with ``POST notifications/{id}/read``.
Another user's notification is invisible (404).
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from common.errors import NotFound
from rebalancer.autopilot.models import Notification, NotificationPreference
from rebalancer.autopilot.push import push_enqueue


def decision_notification_texts(
    *, explanation: dict, portfolio_name: str, currency: str, mode: str, defensive: bool
) -> tuple[str, str, str]:
    """``(kind, title, body)`` of the notification about a cycle's trades, in the site's
    language (the one place both the per-portfolio and the bulk path build it). The body
    is the decision's plain-language explanation (:mod:`rebalancer.autopilot.wording`);
    the API also renders it in the reader's language (``explanation_text``)."""
    from rebalancer.autopilot.wording import investor_text

    with translation.override(settings.LANGUAGE_CODE):
        if defensive:
            kind, title = Notification.Kind.RISK, _("%(name)s moved to a defensive allocation")
        elif mode == "autopilot":
            kind, title = Notification.Kind.REBALANCED, _("%(name)s was rebalanced")
        else:
            kind, title = Notification.Kind.PROPOSAL, _("A rebalance of %(name)s awaits your approval")
        body = investor_text(explanation, currency=currency, proposal=mode == "advise")
        return str(kind), (title % {"name": portfolio_name})[:200], body


def notifications_list(*, user, unread: bool = False, portfolio_id: int | None = None) -> QuerySet[Notification]:
    """The user's notifications, newest first (``unread``: only those not read yet)."""
    rows = Notification.objects.filter(user=user).select_related("decision__portfolio")
    if unread:
        rows = rows.filter(read_at__isnull=True)
    if portfolio_id is not None:
        rows = rows.filter(portfolio_id=portfolio_id)
    return rows.order_by("-created_at", "-id")


def notifications_version(*, user) -> list[tuple]:
    """What the user's notification list shows besides the rows' immutable text: each one's
    read state and its decision's status (the explanation reads differently once a proposal
    is decided), in one query of a few columns (``common.read_cache`` keys on it)."""
    return list(
        Notification.objects.filter(user=user).order_by("id")
        .values_list("id", "read_at", "decision__status", "decision__mode", "decision__portfolio__base_currency")
    )


def notification_get(*, user, notification_id: int) -> Notification:
    notification = Notification.objects.filter(user=user, pk=notification_id).first()
    if notification is None:
        raise NotFound(f"notification {notification_id} not found", field="id")
    return notification


@transaction.atomic
def notification_mark_read(*, user, notification_id: int) -> Notification:
    """Mark one notification read (idempotent: the first read time is kept)."""
    notification = notification_get(user=user, notification_id=notification_id)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


@transaction.atomic
def notifications_mark_all_read(*, user) -> int:
    """Mark every unread notification of the user read; returns how many changed."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


def notification_create(
    *, user_id: int, kind: str, title: str, body: str, portfolio_id: int | None = None,
    decision_id: int | None = None,
) -> Notification:
    """Tell the investor something (the one entry point for messages outside the cycle's
    bulk path; push delivery hooks in here, in :func:`notifications_create`)."""
    return notifications_create(items=[{"user_id": user_id, "kind": kind, "title": title, "body": body,
                                        "portfolio_id": portfolio_id, "decision_id": decision_id}])[0]


def notifications_create(*, items: list[dict]) -> list[Notification]:
    """Many messages at once (``user_id``, ``kind``, ``title``, ``body``, optional
    ``portfolio_id``, ``decision_id``), one insert: e.g. a market-wide risk alert."""
    rows = []
    for item in items:
        if item["kind"] not in Notification.Kind.values:
            raise ValueError(f"unknown notification kind {item['kind']!r}")
        rows.append(Notification(
            user_id=item["user_id"], portfolio_id=item.get("portfolio_id"), decision_id=item.get("decision_id"),
            kind=item["kind"], title=item["title"][:200], body=item["body"],
        ))
    created = Notification.objects.bulk_create(rows, batch_size=500)
    push_enqueue(notification_ids=[n.pk for n in created])
    return created


def notification_preferences_get(*, user) -> dict[str, bool]:
    """Push on or off for every kind of notification (on unless the investor turned it off)."""
    stored = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "push"))
    return {kind: stored.get(kind, True) for kind in Notification.Kind.values}


@transaction.atomic
def notification_preferences_set(*, user, push: dict[str, bool]) -> dict[str, bool]:
    """Set push on or off for the kinds given (the others keep their setting)."""
    for kind, enabled in push.items():
        NotificationPreference.objects.update_or_create(user=user, kind=kind, defaults={"push": enabled})
    return notification_preferences_get(user=user)


def reconciliation_mismatch_notify(reconciliation) -> Notification:
    """Tell the investor that their broker's account and our ledger disagree and that the
    autopilot is paused for the portfolio until an operator has checked it (registered with
    ``portfolios.services.reconciliation`` at app start; push goes out with it)."""
    from portfolios.models import Portfolio

    portfolio = Portfolio.objects.only("name", "owner_id", "base_currency").get(pk=reconciliation.portfolio_id)
    with translation.override(settings.LANGUAGE_CODE):
        title = _("%(name)s: your broker's account needs a check") % {"name": portfolio.name}
        parts = [_("Your broker's records and ours differ, so we have paused automatic trading for "
                   "this portfolio until our team has checked them.")]
        symbols = [d["symbol"] for d in reconciliation.differences]
        if symbols:
            parts.append(_("Holdings that differ: %(symbols)s.") % {"symbols": ", ".join(symbols)})
        if reconciliation.cash_difference:
            parts.append(_("Cash differs by %(amount)s %(currency)s.") % {
                "amount": f"{reconciliation.cash_difference:,.2f}", "currency": portfolio.base_currency})
        parts.append(_("Your money stays with your broker; nothing is traded in the meantime."))
    return notification_create(user_id=portfolio.owner_id, kind=Notification.Kind.RISK, title=title[:200],
                               body=" ".join(str(p) for p in parts), portfolio_id=portfolio.pk)
