"""The project's Prometheus collectors, read at scrape time from the database.

``django-prometheus`` exports request rates and latencies per view (its middleware);
:class:`ProjectCollector` adds the product's own series, computed by the console's
selectors (a constant number of aggregate queries per scrape). Series, all prefixed
``rebalancer_``:

| series | labels | what |
| --- | --- | --- |
| ``cycle_duration_seconds`` | | first start to last finish of the latest cycle |
| ``cycle_runs`` | ``status``, ``action`` | the latest cycle's runs |
| ``cycle_not_started`` | | eligible portfolios without a run in the latest cycle |
| ``portfolios`` | ``state`` | autopilot, advise, paused, unmanaged |
| ``assets_under_management`` | | cash + positions at the latest closes (base currency) |
| ``decisions`` | ``status`` | decisions of the latest cycle |
| ``risk_alerts_open`` | ``severity``, ``rule`` | unresolved alerts |
| ``alert_responses_24h`` | ``response``, ``status`` | responses to alerts over the last day |
| ``data_age_days`` | ``asset_class`` | days since the stalest active asset's last bar |
| ``data_pull_age_seconds`` | ``provider`` | since the provider's last successful pull |
| ``agent_confidence`` | ``strategy`` | mean confidence of the latest cycle's decisions |
| ``agent_sharpe_ratio`` | ``algorithm``, ``version`` | held-out Sharpe of the active agents |
| ``primal_dual_lambda`` | ``constraint`` | λ of the active primal-dual agent (cvar, turnover, concentration) |
| ``portfolio_cvar`` | ``stat`` | 1-day CVaR (ES) over the latest risk snapshots: mean, p50, p90, max |
| ``celery_queue_length`` | ``queue`` | messages waiting (Redis broker) |
| ``celery_workers`` | | workers answering a ping |
| ``celery_task_failures_total`` | ``task`` | task failures (counted by a Celery signal) |
| ``sweeper_actions_24h`` | ``kind``, ``outcome`` | stuck work re-enqueued or failed over the last day |
| ``intraday_last_quote_timestamp_seconds`` | | the newest intraday quote |
| ``kill_switch`` | ``mode`` | 1 for the current mode |

A figure whose query fails (e.g. a table not migrated yet) is left out of that scrape
and counted in ``rebalancer_metrics_collect_errors``; the scrape itself never fails.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from django.db import DatabaseError
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

logger = logging.getLogger(__name__)
PREFIX = "rebalancer_"


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, doc, labels=labels)


def _cycles() -> Iterator:
    from rebalancer.ops import selectors

    status = selectors.cycle_status_get()
    duration = _gauge("cycle_duration_seconds", "First start to last finish of the latest cycle.")
    if status.duration_s is not None:
        duration.add_metric([], status.duration_s)
    yield duration
    runs = _gauge("cycle_runs", "Cycle runs of the latest cycle by status and action.", ["status", "action"])
    if status.as_of is not None:
        from django.db.models import Count

        from rebalancer.autopilot.models import CycleRun

        for row in CycleRun.objects.filter(as_of=status.as_of).values("status", "action").annotate(n=Count("id")):
            runs.add_metric([row["status"], row["action"] or ""], row["n"])
    yield runs
    not_started = _gauge("cycle_not_started", "Eligible portfolios without a run in the latest cycle.")
    not_started.add_metric([], status.not_started)
    yield not_started
    decisions = _gauge("decisions", "Decisions of the latest cycle by status.", ["status"])
    for s, n in selectors.decisions_by_status_get(as_of=status.as_of).items():
        decisions.add_metric([s], n)
    yield decisions
    confidence = _gauge("agent_confidence", "Mean confidence of the latest cycle's decisions by strategy.",
                        ["strategy"])
    for strategy, value in selectors.agent_confidence_get(as_of=status.as_of).items():
        confidence.add_metric([strategy], value)
    yield confidence


def _portfolios() -> Iterator:
    from rebalancer.ops import selectors

    states = _gauge("portfolios", "Portfolios by autonomy state.", ["state"])
    for state, n in selectors.portfolios_by_state_get().items():
        states.add_metric([state], n)
    yield states
    aum = _gauge("assets_under_management", "Cash plus positions at the latest closes, base currency.")
    aum.add_metric([], float(selectors.aum_get()))
    yield aum


def _risk() -> Iterator:
    from rebalancer.ops import selectors

    alerts = _gauge("risk_alerts_open", "Unresolved risk alerts.", ["severity", "rule"])
    for (severity, rule), n in selectors.alerts_open_get().items():
        alerts.add_metric([severity, rule], n)
    yield alerts
    responses = _gauge("alert_responses_24h", "Responses to alerts over the last day.", ["response", "status"])
    since = timezone.now() - dt.timedelta(days=1)
    for (response, status), n in selectors.alert_responses_get(since=since).items():
        responses.add_metric([response, status], n)
    yield responses
    cvar = _gauge("portfolio_cvar", "1-day CVaR (expected shortfall, loss fraction) over the latest "
                                    "risk snapshots.", ["stat"])
    for stat, value in selectors.cvar_summary_get().items():
        cvar.add_metric([stat], value)
    yield cvar


def _data() -> Iterator:
    from rebalancer.ops import selectors

    age = _gauge("data_age_days", "Days since the stalest active asset's last bar, per asset class.",
                 ["asset_class"])
    for asset_class, row in selectors.data_age_get().items():
        if row["age_days"] is not None:
            age.add_metric([asset_class], row["age_days"])
    yield age
    pulls = _gauge("data_pull_age_seconds", "Seconds since the provider's last successful pull.", ["provider"])
    for row in selectors.data_pulls_by_provider_get():
        if row["age"] is not None:
            pulls.add_metric([row["provider"]], row["age"].total_seconds())
    yield pulls
    intraday = _gauge("intraday_last_quote_timestamp_seconds", "Unix time of the newest intraday quote.")
    last = selectors.intraday_status_get()["last_quote_at"]
    if last is not None:
        intraday.add_metric([], last.timestamp())
    yield intraday


def _agents() -> Iterator:
    from rebalancer.ops import selectors

    sharpe = _gauge("agent_sharpe_ratio", "Held-out Sharpe ratio of the active agents.", ["algorithm", "version"])
    for row in selectors.agents_get():
        if row.active is not None and row.active.sharpe_ratio is not None:
            sharpe.add_metric([row.algorithm, str(row.active.version)], row.active.sharpe_ratio)
    yield sharpe
    lambdas = _gauge("primal_dual_lambda", "Lagrange multiplier of the active primal-dual agent per constraint.",
                     ["constraint"])
    for constraint, value in selectors.primal_dual_lambdas_get().items():
        lambdas.add_metric([constraint], value)
    yield lambdas


def _workers() -> Iterator:
    from rebalancer.ops import selectors

    status = selectors.celery_status_get()
    queues = _gauge("celery_queue_length", "Messages waiting in each Celery queue.", ["queue"])
    for name, n in status["queues"].items():
        queues.add_metric([name], n)
    yield queues
    workers = _gauge("celery_workers", "Celery workers answering a ping.")
    if status["workers"] is not None:
        workers.add_metric([], status["workers"])
    yield workers
    failures = CounterMetricFamily(PREFIX + "celery_task_failures", "Celery task failures.", labels=["task"])
    for task, n in selectors.task_failures_get().items():
        failures.add_metric([task], n)
    yield failures


def _operations() -> Iterator:
    from rebalancer.autopilot.models import KillSwitch
    from rebalancer.ops import selectors

    sweeps = _gauge("sweeper_actions_24h", "Stuck work re-enqueued or failed over the last day.",
                    ["kind", "outcome"])
    for (kind, outcome), n in selectors.sweeps_get(since=timezone.now() - dt.timedelta(days=1)).items():
        sweeps.add_metric([kind, outcome], n)
    yield sweeps
    mismatches = _gauge("reconciliation_mismatches_open",
                        "Broker reconciliations with an unresolved mismatch (each pauses its portfolio).")
    mismatches.add_metric([], selectors.reconciliation_mismatches_open_get())
    yield mismatches
    switch = _gauge("kill_switch", "1 for the kill switch's current mode.", ["mode"])
    current = selectors.kill_switch_get().mode
    for mode in KillSwitch.Mode.values:
        switch.add_metric([mode], 1.0 if mode == current else 0.0)
    yield switch


SECTIONS = (_cycles, _portfolios, _risk, _data, _agents, _workers, _operations)


class ProjectCollector:
    """Yields every series in the module docstring; one failing section is skipped."""

    def describe(self) -> list:
        return []  # no collect() at registration (it reads the database)

    def collect(self) -> Iterator:
        errors = 0
        for section in SECTIONS:
            try:
                yield from list(section())
            except DatabaseError:
                errors += 1
                logger.exception("metrics section %s failed", section.__name__)
        failed = _gauge("metrics_collect_errors", "Sections of this scrape that failed.")
        failed.add_metric([], errors)
        yield failed


_registered: list[ProjectCollector] = []


def collectors_register() -> None:
    """Register the collector with the default registry once per process."""
    from prometheus_client import REGISTRY

    if not _registered:
        collector = ProjectCollector()
        REGISTRY.register(collector)
        _registered.append(collector)
