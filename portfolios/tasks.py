"""Celery tasks of the portfolios app: thin callers of the services."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="portfolios.snapshots_take_task", acks_late=True)
def snapshots_take_task(as_of: str | None = None) -> int:
    """Snapshot every portfolio at the latest close (or ``as_of``, ISO date); returns how many.

    Idempotent: a day's snapshot is replaced, so a retry or a second beat does no harm.
    """
    from datetime import date

    from marketdata.selectors import latest_price_date_get
    from portfolios.services import snapshots_take

    day = date.fromisoformat(as_of) if as_of else latest_price_date_get()
    if day is None:
        return 0
    return len(snapshots_take(as_of=day))


@shared_task(name="portfolios.corporate_actions_apply_task", acks_late=True)
def corporate_actions_apply_task(as_of: str | None = None) -> int:
    """Apply due splits and dividends to every holder's ledger and pay accrued dividends
    (``as_of`` ISO date; default today); returns how many applications it recorded.

    Safe to retry and to run twice: each (portfolio, action) is applied once.
    """
    from datetime import date

    from portfolios.services.corporate_actions import corporate_actions_apply

    return corporate_actions_apply(as_of=date.fromisoformat(as_of) if as_of else None).total


# --- real brokers (portfolios.services.orders / reconciliation) -------------------------


@shared_task(name="portfolios.orders_submit_task", acks_late=True)
def orders_submit_task(decision_id: int) -> dict:
    """Send a decision's due orders (enqueued after the commit that placed them).

    Safe to redeliver: an order already at the broker is found by its client_order_id.
    A broker that cannot be reached leaves the orders pending for ``orders_sync_task``.
    """
    from portfolios.brokers import BrokerError
    from portfolios.services.orders import orders_submit

    try:
        summary = orders_submit(decision_id=decision_id)
    except BrokerError as exc:
        return {"decision_id": decision_id, "error": str(exc)}
    return {"decision_id": decision_id, "submitted": summary.submitted, "held": summary.held,
            "waiting": summary.waiting, "refused": summary.refused}


@shared_task(name="portfolios.orders_sync_task", acks_late=True)
def orders_sync_task(portfolio_ids: list[int] | None = None) -> dict:
    """Poll the open orders, record new fills, send orders held for the open (beat: every minute)."""
    from portfolios.services.orders import orders_sync

    summary = orders_sync(portfolio_ids=portfolio_ids)
    return {"accounts": summary.accounts, "polled": summary.polled, "fills": summary.fills,
            "submitted": summary.submitted, "held": summary.held, "errors": summary.errors}


@shared_task(name="portfolios.reconciliations_run_task", acks_late=True)
def reconciliations_run_task(portfolio_id: int | None = None, trigger: str = "daily") -> dict:
    """Reconcile one portfolio (on demand) or every broker portfolio (daily); returns statuses."""
    from portfolios.selectors import portfolio_by_id_get
    from portfolios.services.reconciliation import reconciliation_run, reconciliations_run_all

    if portfolio_id is not None:
        rows = [reconciliation_run(portfolio=portfolio_by_id_get(portfolio_id=portfolio_id), trigger=trigger)]
    else:
        rows = reconciliations_run_all(trigger=trigger)
    return {str(r.portfolio_id): r.status for r in rows}
