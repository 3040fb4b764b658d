"""Admin of the console's records, and audited operator actions where operators look.

* The audit trail, sweeps, alert responses and intraday prices are read-only; audit
  records cannot be added, changed or deleted.
* Actions that change something ask for a reason on an intermediate page (like Django's
  delete confirmation), then call the console's audited services: on portfolios (run a
  cycle now, pause, resume), on proposals (approve or reject for the investor), on
  agents (promote through the gate, roll back). The kill switch's admin flips it
  through the audited service and requires a reason.
* An agent's ``status`` is read-only: it changes only through the promotion gate.

Registered models of other apps are re-registered with a subclass of their own admin
(as the autopilot does for portfolios), so their admin keeps everything else.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest
from django.template.response import TemplateResponse

from common.errors import ApplicationError
from mlagents.models import AgentModel
from portfolios.models import Decision, Portfolio
from rebalancer.autopilot.models import KillSwitch
from rebalancer.ops.models import AlertResponse, AuditRecord, IntradayPrice, SweepAction
from rebalancer.ops.services import actions


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor_email", "action", "target_type", "target_id", "target", "outcome", "reason")
    list_filter = ("action", "outcome", "target_type", "at")
    search_fields = ("actor_email", "target", "target_id", "reason", "detail")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditRecord._meta.fields]


@admin.register(SweepAction)
class SweepActionAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "key", "outcome", "reason")
    list_filter = ("kind", "outcome", "at")
    search_fields = ("key", "reason")
    readonly_fields = [f.name for f in SweepAction._meta.fields]


@admin.register(AlertResponse)
class AlertResponseAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "portfolio", "alert", "response", "status", "cycle_as_of", "deferred_after")
    list_filter = ("response", "status", "created_at")
    search_fields = ("portfolio__name", "portfolio__owner__email")
    list_select_related = ("portfolio", "alert")
    readonly_fields = [f.name for f in AlertResponse._meta.fields]


@admin.register(IntradayPrice)
class IntradayPriceAdmin(ReadOnlyAdmin):
    list_display = ("asset", "price", "at", "provider", "received_at")
    list_filter = ("provider",)
    search_fields = ("asset__symbol",)
    list_select_related = ("asset",)
    readonly_fields = [f.name for f in IntradayPrice._meta.fields]


# --- actions that ask why ----------------------------------------------------------------------


def reason_or_form(modeladmin, request: HttpRequest, queryset, *, title: str):
    """The reason the operator gave on the confirmation page, or that page (a response)."""
    reason = (request.POST.get("reason") or "").strip()
    if request.POST.get("confirm") and reason:
        return reason
    return TemplateResponse(request, "ops/admin_action_reason.html", {
        **modeladmin.admin_site.each_context(request),
        "title": title, "objects": list(queryset[:50]), "count": queryset.count(),
        "ids": list(queryset.values_list("pk", flat=True)), "action": request.POST.get("action", ""),
        "opts": modeladmin.model._meta, "missing": bool(request.POST.get("confirm")),
    })


def _report(modeladmin, request, run) -> None:
    try:
        text = run()
    except ApplicationError as exc:
        modeladmin.message_user(request, exc.message, messages.ERROR)
        return
    modeladmin.message_user(request, text, messages.SUCCESS)


@admin.action(description="Run an autopilot cycle now (review even without a trigger)…")
def run_cycle_now(modeladmin, request, queryset):
    from rebalancer.autopilot.services import latest_market_date

    reason = reason_or_form(modeladmin, request, queryset, title="Run a cycle now for these portfolios")
    if not isinstance(reason, str):
        return reason
    as_of = latest_market_date()
    if as_of is None:
        modeladmin.message_user(request, "There are no prices yet; pull market data first.", messages.ERROR)
        return None
    try:
        results = actions.cycle_run_now(user=request.user, portfolio_ids=list(queryset.values_list("pk", flat=True)),
                                        as_of=as_of, reason=reason)
    except ApplicationError as exc:
        modeladmin.message_user(request, exc.message, messages.ERROR)
        return None
    for r in results:
        text = f"Portfolio #{r.portfolio_id} on {as_of}: {r.status} {r.action} ({r.trades_count} trades)"
        modeladmin.message_user(request, text + (f" — {r.error}" if r.error else ""),
                                messages.ERROR if r.status == "failed" else messages.INFO)
    return None


def _autonomy_action(enabled: bool):
    verb = "Resume" if enabled else "Pause"

    def action(modeladmin, request, queryset):
        reason = reason_or_form(modeladmin, request, queryset, title=f"{verb} autonomy of these portfolios")
        if not isinstance(reason, str):
            return reason
        _report(modeladmin, request, lambda: (
            f"{verb}d autonomy of "
            f"{actions.autonomy_set(user=request.user, portfolio_ids=list(queryset.values_list('pk', flat=True)), enabled=enabled, reason=reason)}"
            " portfolio(s)."))
        return None

    action.__name__ = "resume_autonomy" if enabled else "pause_autonomy"
    return admin.action(description=f"{verb} autonomy of the selected portfolios…")(action)


pause_autonomy, resume_autonomy = _autonomy_action(False), _autonomy_action(True)


def _proposal_action(approve: bool):
    verb = "Approve" if approve else "Reject"

    def action(modeladmin, request, queryset):
        reason = reason_or_form(modeladmin, request, queryset, title=f"{verb} these proposals for the investor")
        if not isinstance(reason, str):
            return reason
        for decision in queryset:
            _report(modeladmin, request, lambda d=decision: (
                f"Proposal {d.pk}: "
                f"{actions.proposal_decide_for_investor(user=request.user, decision_id=d.pk, approve=approve, reason=reason).status}"))
        return None

    action.__name__ = "approve_for_investor" if approve else "reject_for_investor"
    return admin.action(description=f"{verb} the selected proposals for the investor…")(action)


@admin.action(description="Promote through the promotion gate…")
def promote_through_gate(modeladmin, request, queryset):
    reason = reason_or_form(modeladmin, request, queryset, title="Promote these agents through the gate")
    if not isinstance(reason, str):
        return reason
    for agent in queryset:
        _report(modeladmin, request, lambda a=agent: (
            f"{actions.agent_promote_for(user=request.user, agent_id=a.pk, reason=reason).agent} promoted"))
    return None


@admin.action(description="Roll back to the model this one replaced (through the gate)…")
def roll_back(modeladmin, request, queryset):
    reason = reason_or_form(modeladmin, request, queryset, title="Roll back these agents' algorithms")
    if not isinstance(reason, str):
        return reason
    for algorithm in sorted(set(queryset.filter(status="active").values_list("algorithm", flat=True))):
        _report(modeladmin, request, lambda a=algorithm: (
            f"{actions.agent_rollback_for(user=request.user, algorithm=a, reason=reason).agent} is active again"))
    return None


def _reregister(model, extra_actions=(), drop=(), **attrs) -> None:
    """Re-register ``model`` with a subclass of its current admin that adds ``extra_actions``."""
    base = type(admin.site._registry[model]) if admin.site.is_registered(model) else admin.ModelAdmin
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    names = {getattr(a, "__name__", a) for a in extra_actions} | set(drop)
    kept = [a for a in (base.actions or []) if getattr(a, "__name__", a) not in names]
    admin.site.register(model, type(f"Ops{base.__name__}", (base,), {"actions": [*kept, *extra_actions], **attrs}))


def _kill_switch_admin() -> None:
    base = type(admin.site._registry[KillSwitch]) if admin.site.is_registered(KillSwitch) else admin.ModelAdmin

    class OpsKillSwitchAdmin(base):
        """Flips go through the audited service; the reason is required."""

        def get_form(self, request, obj=None, change=False, **kwargs):
            form = super().get_form(request, obj, change=change, **kwargs)
            form.base_fields["reason"].required = True
            return form

        def save_model(self, request, obj, form, change) -> None:
            switch = actions.kill_switch_flip(user=request.user, mode=obj.mode, reason=obj.reason)
            obj.pk, obj.updated_by, obj.updated_at = switch.pk, switch.updated_by, switch.updated_at

    if admin.site.is_registered(KillSwitch):
        admin.site.unregister(KillSwitch)
    admin.site.register(KillSwitch, OpsKillSwitchAdmin)


_reregister(Portfolio, [run_cycle_now, pause_autonomy, resume_autonomy])
_reregister(Decision, [_proposal_action(True), _proposal_action(False)])
_reregister(
    AgentModel, [promote_through_gate, roll_back],
    readonly_fields=tuple(dict.fromkeys(
        ("status", *getattr(admin.site._registry.get(AgentModel), "readonly_fields", ()))
    )),
)
_kill_switch_admin()
