"""Write side of the risk app: nightly snapshots, alert synchronisation, acknowledgement."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict

from django.db import transaction
from django.utils import timezone

from common.errors import ApplicationError, Conflict
from portfolios.models import Portfolio, Position
from risk.measures.alerts import AlertSignal
from risk.models import RiskAlert, RiskSnapshot
from risk.selectors import RiskView, portfolio_risk_view_get

logger = logging.getLogger(__name__)
STRESS_SUMMARY_SIZE = 5
SNAPSHOT_BATCH_SIZE = 200


def _snapshot_fields(view: RiskView) -> dict:
    m = view.metrics
    attribution = {}
    if view.attribution is not None:
        attribution = {
            "method": view.attribution.method,
            "by_asset": [asdict(a) for a in view.attribution.by_asset],
            "by_asset_class": view.attribution.by_asset_class,
        }
    stress = {}
    if view.stress is not None:
        worst = sorted(view.stress.results, key=lambda r: r.pnl)[:STRESS_SUMMARY_SIZE]
        stress = {"worst": [{"name": r.name, "title": r.title, "pnl": r.pnl} for r in worst]}
    return {
        "method": "historical",
        "confidence_level": view.var_1d.confidence_level if view.var_1d else 0.95,
        "portfolio_value": view.portfolio_value,
        "var_1d": view.var_1d.var if view.var_1d else 0.0,
        "var_5d": view.var_5d.var if view.var_5d else 0.0,
        "expected_shortfall": view.var_1d.expected_shortfall if view.var_1d else 0.0,
        "volatility": m.annual_volatility if m else None,
        "beta": m.beta if m else None,
        "tracking_error": m.tracking_error if m else None,
        "max_drawdown": m.max_drawdown if m else None,
        "current_drawdown": view.current_drawdown,
        "sharpe_ratio": m.sharpe_ratio if m else None,
        "sortino_ratio": m.sortino_ratio if m else None,
        "avg_correlation": view.avg_correlation,
        "n_observations": view.n_observations,
        "weights": view.weights,
        "attribution": attribution,
        "stress_summary": stress,
    }


@transaction.atomic
def risk_snapshot_take(*, portfolio: Portfolio, as_of: dt.date | None = None) -> RiskSnapshot:
    """Compute the portfolio's risk now, store it for its price date (idempotent per day),
    and raise, refresh or resolve its alerts."""
    view = portfolio_risk_view_get(portfolio=portfolio, as_of=as_of)
    snapshot, _ = RiskSnapshot.objects.update_or_create(
        portfolio=portfolio, date=view.as_of, defaults=_snapshot_fields(view)
    )
    risk_alerts_sync(portfolio=portfolio, signals=view.signals, snapshot=snapshot)
    return snapshot


def _alert_fields(signal: AlertSignal, snapshot: RiskSnapshot | None, now) -> dict:
    """The fields an alert takes from a signal (one builder for both writers below)."""
    return {"severity": signal.severity, "action": signal.action, "value": signal.value,
            "limit": signal.limit, "message": signal.message, "snapshot": snapshot, "last_seen_at": now}


@transaction.atomic
def risk_alerts_sync(
    *, portfolio: Portfolio, signals: list[AlertSignal], snapshot: RiskSnapshot | None = None
) -> list[RiskAlert]:
    """Make the unresolved alerts match the signals: new breaches open an alert, continuing
    ones are refreshed (value, message, last seen; an acknowledgement is kept), and
    breaches that ended are resolved. Returns the unresolved alerts."""
    now = timezone.now()
    current = {
        (a.rule, a.symbol): a
        for a in RiskAlert.objects.select_for_update()
        .filter(portfolio=portfolio)
        .exclude(status=RiskAlert.Status.RESOLVED)
    }
    kept = []
    for signal in signals:
        alert = current.pop((signal.rule, signal.symbol), None)
        fields = _alert_fields(signal, snapshot, now)
        if alert is None:
            alert = RiskAlert.objects.create(portfolio=portfolio, rule=signal.rule, symbol=signal.symbol, **fields)
        else:
            for name, value in fields.items():
                setattr(alert, name, value)
            alert.save()
        kept.append(alert)
    for alert in current.values():
        alert.status = RiskAlert.Status.RESOLVED
        alert.resolved_at = now
        alert.save(update_fields=["status", "resolved_at", "updated_at"])
    return kept


_SYNC_FIELDS = ["severity", "action", "value", "limit", "message", "snapshot", "last_seen_at", "updated_at"]


@transaction.atomic
def risk_alerts_sync_many(
    *, signals: dict[int, list[AlertSignal]], snapshots: dict[int, RiskSnapshot | None] | None = None
) -> dict[int, list[RiskAlert]]:
    """:func:`risk_alerts_sync` for many portfolios (by id) at once, with a constant number
    of queries: one lock of their unresolved alerts, one insert, one bulk update of the
    refreshed ones and one update of the resolved ones per 500 (the
    intraday monitor's path, where a market-wide move changes thousands together)."""
    now = timezone.now()
    snapshots = snapshots or {}
    current: dict[int, dict[tuple[str, str], RiskAlert]] = {pid: {} for pid in signals}
    for alert in (RiskAlert.objects.select_for_update().filter(portfolio_id__in=list(signals))
                  .exclude(status=RiskAlert.Status.RESOLVED).order_by("pk")):
        current[alert.portfolio_id][(alert.rule, alert.symbol)] = alert
    kept: dict[int, list[RiskAlert]] = {pid: [] for pid in signals}
    new, refreshed, resolved = [], [], []
    for pid, portfolio_signals in signals.items():
        for signal in portfolio_signals:
            alert = current[pid].pop((signal.rule, signal.symbol), None)
            fields = _alert_fields(signal, snapshots.get(pid), now)
            if alert is None:
                alert = RiskAlert(portfolio_id=pid, rule=signal.rule, symbol=signal.symbol, **fields)
                new.append(alert)
            else:
                for name, value in fields.items():
                    setattr(alert, name, value)
                alert.updated_at = now
                refreshed.append(alert)
            kept[pid].append(alert)
        for alert in current[pid].values():
            alert.status, alert.resolved_at, alert.updated_at = RiskAlert.Status.RESOLVED, now, now
            resolved.append(alert)
    RiskAlert.objects.bulk_create(new, batch_size=500)
    RiskAlert.objects.bulk_update(refreshed, _SYNC_FIELDS, batch_size=500)
    for start in range(0, len(resolved), 500):  # same values for all: one UPDATE, not CASE per row
        RiskAlert.objects.filter(pk__in=[a.pk for a in resolved[start : start + 500]]).update(
            status=RiskAlert.Status.RESOLVED, resolved_at=now, updated_at=now)
    return kept


@transaction.atomic
def risk_alert_acknowledge(*, alert: RiskAlert, user) -> RiskAlert:
    alert = RiskAlert.objects.select_for_update().get(pk=alert.pk)
    if alert.status == RiskAlert.Status.RESOLVED:
        raise Conflict("The alert is already resolved.", code="alert_resolved", field="status")
    if alert.status == RiskAlert.Status.OPEN:
        alert.status = RiskAlert.Status.ACKNOWLEDGED
        alert.acknowledged_by = user
        alert.acknowledged_at = timezone.now()
        alert.save(update_fields=["status", "acknowledged_by", "acknowledged_at", "updated_at"])
    return alert


def risk_snapshots_take(*, as_of: dt.date | None = None, portfolio_ids: list[int] | None = None) -> int:
    """Snapshot every portfolio holding positions (or the given ones); one transaction per
    portfolio so one failure does not undo the others. Returns how many were stored."""
    ids = portfolio_ids
    if ids is None:
        ids = sorted(set(Position.objects.filter(quantity__gt=0).values_list("portfolio_id", flat=True)))
    stored = 0
    for start in range(0, len(ids), SNAPSHOT_BATCH_SIZE):
        for portfolio in Portfolio.objects.filter(pk__in=ids[start : start + SNAPSHOT_BATCH_SIZE]):
            try:
                risk_snapshot_take(portfolio=portfolio, as_of=as_of)
                stored += 1
            except ApplicationError as exc:
                logger.warning("risk snapshot of portfolio %s skipped: %s", portfolio.pk, exc.message)
    return stored
