"""The console's pages (staff only) and ``/metrics``.

Pages are thin: a form checks the input, one service (actions) or selectors (dashboard)
do the work. Refusals come back as the page with the message and the error's status
(400 bad input, 403 not an operator, 404 unknown object, 409 refused by the system),
never a 500. Anyone who is not active staff gets the admin's login redirect.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from common.errors import ApplicationError
from mlagents.models import AgentModel, AgentStatus
from portfolios.models import Decision
from rebalancer.ops import charts, forms, selectors
from rebalancer.ops.models import AuditRecord
from rebalancer.ops.services import actions

CHART_CACHE_SECONDS = 60


def _error_page(request: HttpRequest, template: str, context: dict, exc: ApplicationError) -> HttpResponse:
    messages.error(request, exc.message)
    return render(request, template, {**context, "error": exc}, status=exc.status_code)


# --- dashboard ---------------------------------------------------------------------------


def _cycle_figures(status: selectors.CycleStatus) -> list[selectors.Figure]:
    day = status.as_of.isoformat() if status.as_of else ""
    url = selectors.admin_url
    figures = [
        selectors.Figure("eligible (autonomy on)", status.eligible,
                         url("portfolios.portfolio", autonomy__enabled__exact=1), "cycle_eligible"),
    ]
    for action in ("rebalance", "proposed", "hold", "skipped"):
        figures.append(selectors.Figure(
            f"done: {action}", status.by_action.get(action, 0),
            url("autopilot.cyclerun", as_of=day, status="done", action=action), f"cycle_{action}"))
    for state in ("failed", "pending"):
        figures.append(selectors.Figure(
            state, status.by_status.get(state, 0), url("autopilot.cyclerun", as_of=day, status=state), f"cycle_{state}"))
    figures.append(selectors.Figure("not started", status.not_started, "", "cycle_not_started"))
    return figures


def dashboard_context() -> dict:
    url = selectors.admin_url
    status = selectors.cycle_status_get()
    day = status.as_of.isoformat() if status.as_of else ""
    now = timezone.now()
    open_alerts = selectors.alerts_open_get()
    by_severity: dict[str, int] = {}
    for (severity, _), n in open_alerts.items():
        by_severity[severity] = by_severity.get(severity, 0) + n
    unresolved = ["open", "acknowledged"]
    aum = selectors.aum_get()
    states = selectors.portfolios_by_state_get()
    return {
        "now": now,
        "aum": selectors.Figure("assets under management", f"{aum:,.2f}", url("portfolios.portfolio"), "aum"),
        "portfolio_states": [
            selectors.Figure(state, n, url("portfolios.portfolio", **filters), f"portfolios_{state}")
            for state, n, filters in (
                ("autopilot", states["autopilot"], {"autonomy__mode__exact": "autopilot", "autonomy__enabled__exact": 1}),
                ("advise", states["advise"], {"autonomy__mode__exact": "advise", "autonomy__enabled__exact": 1}),
                ("paused", states["paused"], {"autonomy__enabled__exact": 0}),
            )
        ],
        "cycle": status,
        "cycle_figures": _cycle_figures(status),
        "skip_reasons": status.skip_reasons,
        "decisions": [
            selectors.Figure(s, n, url("portfolios.decision", as_of=day, status=s), f"decisions_{s}")
            for s, n in sorted(selectors.decisions_by_status_get(as_of=status.as_of).items())
        ],
        "alerts": [
            selectors.Figure(sev, by_severity.get(sev, 0),
                             url("risk.riskalert", severity=sev, status__in=unresolved), f"alerts_{sev}")
            for sev in ("critical", "warning")
        ],
        "alert_rules": sorted(open_alerts.items()),
        "responses": sorted(selectors.alert_responses_get(since=now - dt.timedelta(days=1)).items()),
        "intraday": selectors.intraday_status_get(),
        "pulls": selectors.data_pulls_by_provider_get(),
        "data_age": selectors.data_age_get(),
        "regime": selectors.regime_get(),
        "agents": selectors.agents_get(),
        "celery": selectors.celery_status_get(),
        "task_failures": selectors.task_failures_get(),
        "kill_switch": selectors.kill_switch_get(),
        "kill_switch_history": selectors.audit_recent_get(action=AuditRecord.Action.KILL_SWITCH, limit=5),
        "audit": selectors.audit_recent_get(limit=8),
        "sweeps": sorted(selectors.sweeps_get(since=now - dt.timedelta(days=1)).items()),
        "stuck": selectors.stuck_now_get(),
        "url_kill_switch_audit": url("ops.auditrecord", action=AuditRecord.Action.KILL_SWITCH),
        "url_sweeps": url("ops.sweepaction"),
        "url_audit": url("ops.auditrecord"),
        "url_pending": url("autopilot.cyclerun", status="pending"),
        "url_mismatches": url("portfolios.reconciliation", status="mismatch"),
        "url_backtests": url("backtests.backtest", status__in=["queued", "running"]),
        "url_pulls_running": url("marketdata.datapull", status="running"),
        "url_training": url("mlagents.agentmodel", status="candidate", progress__lt=1),
        "url_proposals": url("portfolios.decision", status="proposed"),
    }


@never_cache
@staff_member_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "ops/dashboard.html", dashboard_context())


CHARTS = {
    "aum": lambda: charts.aum_chart_png(selectors.aum_history_get()),
    "cycles": lambda: charts.cycles_chart_png(selectors.cycle_history_get()),
    "alerts": lambda: charts.alerts_chart_png(selectors.alerts_open_get()),
}


@staff_member_required
@require_GET
def chart(request: HttpRequest, name: str) -> HttpResponse:
    render_chart = CHARTS.get(name)
    if render_chart is None:
        return HttpResponse(f"no chart {name!r}; charts: {', '.join(CHARTS)}", status=404, content_type="text/plain")
    png = cache.get(f"ops:chart:{name}")
    if png is None:
        png = render_chart()
        cache.set(f"ops:chart:{name}", png, CHART_CACHE_SECONDS)
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = f"private, max-age={CHART_CACHE_SECONDS}"
    return response


# --- actions ----------------------------------------------------------------------------------


def _action_page(request, *, form_class, template: str, context: dict, perform, success: str, initial=None):
    """GET shows the form; POST validates (400), performs (4xx on refusal), redirects."""
    form = form_class(request.POST or None, initial=initial)
    context = {**context, "form": form}
    if request.method != "POST":
        return render(request, template, context)
    if not form.is_valid():
        return render(request, template, context, status=400)
    try:
        message = perform(form.cleaned_data)
    except ApplicationError as exc:
        return _error_page(request, template, context, exc)
    messages.success(request, message or success)
    return redirect("ops:dashboard")


@never_cache
@staff_member_required
@require_http_methods(["GET", "POST"])
def kill_switch(request: HttpRequest) -> HttpResponse:
    switch = selectors.kill_switch_get()

    def perform(data):
        flipped = actions.kill_switch_flip(user=request.user, mode=data["mode"], reason=data["reason"])
        return f"Kill switch is now {flipped.mode}."

    return _action_page(
        request, form_class=forms.KillSwitchForm, template="ops/kill_switch.html", perform=perform,
        context={"switch": switch, "history": selectors.audit_recent_get(action=AuditRecord.Action.KILL_SWITCH)},
        success="", initial={"mode": switch.mode},
    )


@never_cache
@staff_member_required
@require_http_methods(["GET", "POST"])
def autonomy(request: HttpRequest) -> HttpResponse:
    def perform(data):
        enabled = data["action"] == "resume"
        changed = actions.autonomy_set(user=request.user, portfolio_ids=data["portfolio_ids"], enabled=enabled,
                                       reason=data["reason"])
        return f"{'Resumed' if enabled else 'Paused'} autonomy of {changed} portfolio(s)."

    return _action_page(request, form_class=forms.AutonomyForm, template="ops/autonomy.html", perform=perform,
                        context={}, success="", initial={"portfolio_ids": request.GET.get("ids", "")})


@never_cache
@staff_member_required
@require_http_methods(["GET", "POST"])
def cycles_retry(request: HttpRequest) -> HttpResponse:
    def perform(data):
        summary = actions.cycles_retry(user=request.user, as_of=data["as_of"], statuses=data["statuses"],
                                       reason=data["reason"])
        return f"Re-enqueued {summary.portfolios} cycle(s) of {summary.as_of} in {summary.chunks} chunk(s)."

    status = selectors.cycle_status_get()
    return _action_page(request, form_class=forms.CyclesRetryForm, template="ops/cycles_retry.html",
                        perform=perform, context={"cycle": status}, success="",
                        initial={"as_of": status.as_of, "statuses": ["failed", "pending"]})


@never_cache
@staff_member_required
@require_http_methods(["GET", "POST"])
def proposal(request: HttpRequest, pk: int) -> HttpResponse:
    decision = Decision.objects.select_related("portfolio__owner", "decided_by").filter(pk=pk).first()
    if decision is None:
        return render(request, "ops/not_found.html", {"what": f"proposal {pk}"}, status=404)

    def perform(data):
        approve = data["decision"] == "approve"
        row = actions.proposal_decide_for_investor(user=request.user, decision_id=pk, approve=approve,
                                                   reason=data["reason"])
        return f"Proposal {pk} is now {row.status} (decided by {request.user.email} for the investor)."

    return _action_page(request, form_class=forms.ProposalForm, template="ops/proposal.html", perform=perform,
                        context={"decision": decision}, success="")


@never_cache
@staff_member_required
@require_GET
def agents(request: HttpRequest) -> HttpResponse:
    rows = AgentModel.objects.order_by("algorithm", "-version")[:200]
    return render(request, "ops/agents.html", {
        "agents": rows, "summary": selectors.agents_get(), "rollback_form": forms.AgentRollbackForm(),
        "promote_form": forms.AgentPromoteForm(), "candidate": AgentStatus.CANDIDATE,
    })


@never_cache
@staff_member_required
@require_http_methods(["GET", "POST"])
def agent_promote(request: HttpRequest, pk: int) -> HttpResponse:
    agent = AgentModel.objects.filter(pk=pk).first()
    if agent is None:
        return render(request, "ops/not_found.html", {"what": f"agent {pk}"}, status=404)

    def perform(data):
        outcome = actions.agent_promote_for(user=request.user, agent_id=pk, reason=data["reason"])
        return f"{outcome.agent} is active: {outcome.reason}"

    return _action_page(request, form_class=forms.AgentPromoteForm, template="ops/agent_promote.html",
                        perform=perform, context={"agent": agent}, success="")


@never_cache
@staff_member_required
@require_http_methods(["GET", "POST"])
def agent_rollback(request: HttpRequest) -> HttpResponse:
    def perform(data):
        outcome = actions.agent_rollback_for(user=request.user, algorithm=data["algorithm"], reason=data["reason"])
        return f"Rolled back: {outcome.agent} is active again, {outcome.retired} retired."

    return _action_page(request, form_class=forms.AgentRollbackForm, template="ops/agent_rollback.html",
                        perform=perform, context={}, success="")


@never_cache
@staff_member_required
@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    action = request.GET.get("action") or None
    if action is not None and action not in AuditRecord.Action.values:
        return render(request, "ops/audit.html", {"page": None, "actions": AuditRecord.Action.choices,
                                                  "bad_action": action}, status=400)
    from rebalancer.ops.services.audit import audit_trail_list

    paginator = Paginator(audit_trail_list(action=action), 50)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "ops/audit.html", {"page": page, "actions": AuditRecord.Action.choices,
                                              "action": action})


# --- metrics ------------------------------------------------------------------------------------


def _metrics_allowed(request: HttpRequest) -> HttpResponse | None:
    """None when the scrape may proceed; otherwise the 401/403 answer."""
    token = getattr(settings, "METRICS_TOKEN", "")
    if not token:
        if getattr(settings, "METRICS_OPEN_WITHOUT_TOKEN", False):
            return None
        return HttpResponse("metrics are closed: set METRICS_TOKEN", status=403, content_type="text/plain")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        response = HttpResponse("a valid bearer token is required", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return None


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    refused = _metrics_allowed(request)
    if refused is not None:
        return refused
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)


def metrics_text() -> bytes:
    """The scrape: with ``PROMETHEUS_MULTIPROC_DIR`` set (several gunicorn workers, see
    deploy/gunicorn.conf.py) every worker's request counters and latencies summed from their
    files plus the project's collector; else this process's default registry."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return generate_latest(REGISTRY)
    from prometheus_client.multiprocess import MultiProcessCollector

    from rebalancer.ops.metrics import ProjectCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(ProjectCollector())
    return generate_latest(registry)
