"""Reads of the operator's console: the figures the dashboard shows and ``/metrics`` exports.

Each figure is a constant number of aggregate queries whatever the number of portfolios
(thousands), so the dashboard and a Prometheus scrape stay cheap. Numbers shown on the
dashboard carry the admin changelist (filtered) that lists the rows they count.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Min, Sum
from django.urls import reverse
from django.utils import timezone

from marketdata.models import Asset, DataPull, PriceBar
from mlagents.models import AgentModel, AgentStatus, Algorithm
from portfolios.models import AutonomySettings, Decision, Portfolio, PortfolioSnapshot, Position
from portfolios.prices import latest_closes
from rebalancer.autopilot.models import CycleRun, KillSwitch
from rebalancer.ops.models import AlertResponse, AuditRecord, IntradayPrice, SweepAction
from risk.models import RiskAlert, RiskSnapshot

CELERY_STATUS_SECONDS = 15
"""How long the queue depth and worker ping are cached (a ping waits up to 0.5 s)."""


def admin_url(model: str, **filters: Any) -> str:
    """The admin changelist of ``app_label.model`` filtered by ``filters`` (field lookups)."""
    app, name = model.split(".")
    url = reverse(f"admin:{app}_{name}_changelist")
    query = {k: (",".join(map(str, v)) if isinstance(v, list | tuple) else v) for k, v in filters.items()}
    return f"{url}?{urlencode(query)}" if query else url


@dataclass(frozen=True)
class Figure:
    """A number on the dashboard and the admin list behind it."""

    label: str
    value: Any
    url: str = ""
    key: str = ""
    """A stable name (the browser test and ``data-figure`` attributes use it)."""


# --- assets under management --------------------------------------------------------------


def aum_get() -> Decimal:
    """Cash plus every position at its latest close, over all portfolios."""
    cash = Portfolio.objects.aggregate(total=Sum("cash"))["total"] or Decimal(0)
    held = dict(
        Position.objects.filter(quantity__gt=0).values("asset__symbol").annotate(q=Sum("quantity"))
        .values_list("asset__symbol", "q")
    )
    closes = latest_closes(symbols=sorted(held))
    invested = sum((Decimal(str(q)) * closes[s][0] for s, q in held.items() if s in closes), Decimal(0))
    return (Decimal(cash) + invested).quantize(Decimal("0.01"))


def aum_history_get(*, days: int = 365) -> list[tuple[dt.date, float]]:
    """Total snapshot value per date over the last ``days`` days of snapshots."""
    last = PortfolioSnapshot.objects.aggregate(last=Max("date"))["last"]
    if last is None:
        return []
    rows = (
        PortfolioSnapshot.objects.filter(date__gt=last - dt.timedelta(days=days)).values("date")
        .annotate(total=Sum("value")).order_by("date").values_list("date", "total")
    )
    return [(d, float(v)) for d, v in rows]


# --- portfolios and cycles ----------------------------------------------------------------


def portfolios_by_state_get() -> dict[str, int]:
    """Portfolios by autonomy state: autopilot, advise (autonomy on), paused, unmanaged."""
    counts = {"autopilot": 0, "advise": 0, "paused": 0, "unmanaged": 0}
    for mode, enabled, n in AutonomySettings.objects.values("mode", "enabled").annotate(n=Count("id")).values_list(
        "mode", "enabled", "n"
    ):
        counts[mode if enabled else "paused"] += n
    counts["unmanaged"] = Portfolio.objects.filter(autonomy__isnull=True).count()
    return counts


def cycle_date_get() -> dt.date | None:
    """The as-of of the latest cycle (runs), or the latest close when none ran yet."""
    last = CycleRun.objects.aggregate(last=Max("as_of"))["last"]
    return last or PriceBar.objects.aggregate(last=Max("date"))["last"]


@dataclass
class CycleStatus:
    as_of: dt.date | None
    eligible: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_action: dict[str, int] = field(default_factory=dict)
    not_started: int = 0
    skip_reasons: list[tuple[str, int]] = field(default_factory=list)
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    trades: int = 0

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0.0, (self.finished_at - self.started_at).total_seconds())


def cycle_status_get(*, as_of: dt.date | None = None) -> CycleStatus:
    """Done (by action) / failed / pending runs of one cycle, why portfolios skipped, duration."""
    as_of = as_of or cycle_date_get()
    status = CycleStatus(as_of=as_of)
    status.eligible = AutonomySettings.objects.filter(enabled=True).count()
    if as_of is None:
        return status
    runs = CycleRun.objects.filter(as_of=as_of)
    status.by_status = dict(runs.values("status").annotate(n=Count("id")).values_list("status", "n"))
    status.by_action = dict(
        runs.filter(status=CycleRun.Status.DONE).values("action").annotate(n=Count("id")).values_list("action", "n")
    )
    status.not_started = max(0, status.eligible - sum(status.by_status.values()))
    status.skip_reasons = list(
        runs.filter(action="skipped").values("reason").annotate(n=Count("id")).order_by("-n")
        .values_list("reason", "n")[:5]
    )
    span = runs.aggregate(start=Min("started_at"), end=Max("finished_at"), trades=Sum("trades_count"))
    status.started_at, status.finished_at, status.trades = span["start"], span["end"], span["trades"] or 0
    return status


def cycle_history_get(*, days: int = 14) -> list[tuple[dt.date, dict[str, int]]]:
    """Outcome counts per as-of for the last ``days`` cycles (rebalance/proposed/hold/skipped/failed/pending)."""
    dates = list(CycleRun.objects.values_list("as_of", flat=True).distinct().order_by("-as_of")[:days])
    out: dict[dt.date, dict[str, int]] = defaultdict(dict)
    rows = CycleRun.objects.filter(as_of__in=dates).values("as_of", "status", "action").annotate(n=Count("id"))
    for row in rows:
        key = row["action"] if row["status"] == CycleRun.Status.DONE else row["status"]
        out[row["as_of"]][key] = out[row["as_of"]].get(key, 0) + row["n"]
    return sorted(out.items())


def decisions_by_status_get(*, as_of: dt.date | None) -> dict[str, int]:
    if as_of is None:
        return {}
    return dict(
        Decision.objects.filter(as_of=as_of).values("status").annotate(n=Count("id")).values_list("status", "n")
    )


def agent_confidence_get(*, as_of: dt.date | None) -> dict[str, float]:
    """Mean confidence of the decisions of ``as_of`` per strategy (agents and the others)."""
    if as_of is None:
        return {}
    rows = (
        Decision.objects.filter(as_of=as_of, confidence__isnull=False).exclude(strategy="")
        .values("strategy").annotate(total=Sum("confidence"), n=Count("id")).values_list("strategy", "total", "n")
    )
    return {s: float(t) / n for s, t, n in rows if n}


# --- risk ----------------------------------------------------------------------------------


def alerts_open_get() -> dict[tuple[str, str], int]:
    """Unresolved alerts by (severity, rule)."""
    rows = RiskAlert.objects.exclude(status=RiskAlert.Status.RESOLVED).values("severity", "rule").annotate(
        n=Count("id")).values_list("severity", "rule", "n")
    return {(sev, rule): n for sev, rule, n in rows}


def cvar_summary_get() -> dict[str, float]:
    """1-day expected shortfall (CVaR) over the portfolios' latest snapshots: mean, median, p90, max."""
    last = RiskSnapshot.objects.aggregate(last=Max("date"))["last"]
    if last is None:
        return {}
    values = sorted(RiskSnapshot.objects.filter(date=last).values_list("expected_shortfall", flat=True))
    if not values:
        return {}

    def q(p: float) -> float:
        return float(values[min(len(values) - 1, int(round(p * (len(values) - 1))))])

    return {"mean": float(sum(values) / len(values)), "p50": q(0.5), "p90": q(0.9), "max": float(values[-1])}


def alert_responses_get(*, since: dt.datetime) -> dict[tuple[str, str], int]:
    rows = AlertResponse.objects.filter(created_at__gte=since).values("response", "status").annotate(
        n=Count("id")).values_list("response", "status", "n")
    return {(r, s): n for r, s, n in rows}


# --- data ------------------------------------------------------------------------------------


def data_age_get(*, today: dt.date | None = None) -> dict[str, dict[str, Any]]:
    """Per asset class of the active assets: the stalest and the freshest last bar, and the
    age in days of the stalest (what a stale-data skip is about)."""
    today = today or timezone.now().date()
    lasts = (
        PriceBar.objects.filter(asset__is_active=True).values("asset__asset_class", "asset_id")
        .annotate(last=Max("date")).values_list("asset__asset_class", "last")
    )
    by_class: dict[str, list[dt.date]] = defaultdict(list)
    for asset_class, last in lasts:
        by_class[asset_class].append(last)
    never = dict(
        Asset.objects.filter(is_active=True, bars__isnull=True).values("asset_class").annotate(n=Count("id"))
        .values_list("asset_class", "n")
    )
    out = {}
    for asset_class in sorted(set(by_class) | set(never)):
        dates = by_class.get(asset_class, [])
        stalest = min(dates) if dates else None
        out[asset_class] = {
            "stalest": stalest, "freshest": max(dates) if dates else None,
            "age_days": (today - stalest).days if stalest else None, "without_bars": never.get(asset_class, 0),
        }
    return out


def data_pulls_by_provider_get() -> list[dict[str, Any]]:
    """The latest pull and the latest successful pull of each provider."""
    out = []
    for provider in DataPull.objects.values_list("provider", flat=True).distinct().order_by("provider"):
        pulls = DataPull.objects.filter(provider=provider).order_by("-started_at", "-id")
        latest = pulls.first()
        good = pulls.filter(status__in=[DataPull.Status.SUCCEEDED, DataPull.Status.PARTIAL]).first()
        out.append({"provider": provider, "latest": latest, "last_success": good,
                    "age": (timezone.now() - good.finished_at) if good and good.finished_at else None})
    return out


def intraday_status_get() -> dict[str, Any]:
    agg = IntradayPrice.objects.aggregate(last=Max("at"), n=Count("id"))
    return {"last_quote_at": agg["last"], "assets": agg["n"]}


# --- regime and agents -----------------------------------------------------------------------


def regime_get() -> Any:
    from mlagents.regime.models import MarketRegime

    return MarketRegime.objects.select_related("market").order_by("-date", "-id").first()


@dataclass(frozen=True)
class AgentsRow:
    algorithm: str
    label: str
    active: AgentModel | None
    candidates: int
    latest: AgentModel | None


def agents_get() -> list[AgentsRow]:
    rows = []
    for algorithm, label in Algorithm.choices:
        models = AgentModel.objects.filter(algorithm=algorithm)
        rows.append(AgentsRow(
            algorithm, label, models.filter(status=AgentStatus.ACTIVE).first(),
            models.filter(status=AgentStatus.CANDIDATE).count(), models.order_by("-created_at", "-id").first(),
        ))
    return rows


def primal_dual_lambdas_get() -> dict[str, float]:
    """λ per constraint of the active primal-dual agent (its last training statistics)."""
    agent = AgentModel.objects.filter(algorithm=Algorithm.PRIMAL_DUAL, status=AgentStatus.ACTIVE).first()
    training = ((agent.evaluation or {}).get("training") or {}) if agent else {}
    return {k.removeprefix("lambda_"): float(v) for k, v in training.items()
            if k.startswith("lambda_") and k != "lambda_loss" and v is not None}


# --- workers and queues ------------------------------------------------------------------------


def queue_names_get() -> list[str]:
    queues = getattr(settings, "CELERY_TASK_QUEUES", None) or ()
    names = [getattr(q, "name", q) for q in queues]
    return [str(n) for n in names] or [getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")]


def celery_status_get(*, fresh: bool = False) -> dict[str, Any]:
    """Queue lengths (Redis ``LLEN``) and how many workers answer a ping; cached a few seconds.

    With the in-process default (no broker) there are no queues and no workers to watch.
    """
    url = getattr(settings, "CELERY_BROKER_URL", "memory://")
    if url.startswith("memory://"):
        return {"mode": "in process", "queues": {}, "workers": None, "error": ""}
    if not fresh and (cached := cache.get("ops:celery_status")) is not None:
        return cached
    status: dict[str, Any] = {"mode": "broker", "queues": {}, "workers": None, "error": ""}
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        status["queues"] = {name: int(client.llen(name)) for name in queue_names_get()}
        from rebalancer.celery import app

        status["workers"] = len(app.control.ping(timeout=0.5) or [])
    except Exception as exc:  # noqa: BLE001 - the console shows the broker as down, never fails
        status["error"] = f"{type(exc).__name__}: {exc}"[:200]
    cache.set("ops:celery_status", status, CELERY_STATUS_SECONDS)
    return status


def task_failures_get() -> dict[str, int]:
    """Failures per task name (counted by a Celery signal into the shared cache)."""
    from rebalancer.ops.logs import task_failures_get as counted

    return counted()


# --- kill switch, audit, sweeper -------------------------------------------------------------


def kill_switch_get() -> KillSwitch:
    return KillSwitch.objects.select_related("updated_by").filter(pk=1).first() or KillSwitch(pk=1)


def audit_recent_get(*, action: str | None = None, limit: int = 10) -> list[AuditRecord]:
    rows = AuditRecord.objects.all()
    if action:
        rows = rows.filter(action=action)
    return list(rows.order_by("-at", "-id")[:limit])


def sweeps_get(*, since: dt.datetime) -> dict[tuple[str, str], int]:
    rows = SweepAction.objects.filter(at__gte=since).values("kind", "outcome").annotate(n=Count("id")).values_list(
        "kind", "outcome", "n")
    return {(k, o): n for k, o, n in rows}


def stuck_now_get() -> dict[str, int]:
    """What the sweeper would look at now (pending/queued/running rows, whatever their age)."""
    from rebalancer.backtests.models import Backtest, BacktestStatus

    return {
        "cycle_runs_pending": CycleRun.objects.filter(status=CycleRun.Status.PENDING).count(),
        "backtests_waiting": Backtest.objects.filter(status__in=[BacktestStatus.QUEUED, BacktestStatus.RUNNING]).count(),
        "data_pulls_running": DataPull.objects.filter(status=DataPull.Status.RUNNING).count(),
        "training": AgentModel.objects.filter(status=AgentStatus.CANDIDATE, progress__lt=1.0).count(),
        "reconciliation_mismatches": reconciliation_mismatches_open_get(),
    }


def reconciliation_mismatches_open_get() -> int:
    """Broker reconciliations whose mismatch nobody has resolved yet (each pauses a portfolio)."""
    from portfolios.models import Reconciliation

    return Reconciliation.objects.filter(status=Reconciliation.Status.MISMATCH).count()
