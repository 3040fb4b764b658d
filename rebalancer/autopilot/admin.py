"""Admin of the autopilot: the kill switch, cycle runs, notifications, portfolio actions.

The portfolios app registers ``Portfolio`` (with holdings inline); this module
re-registers it with a subclass that adds two actions — run a cycle now for the
selected portfolios, and pause their autonomy — so operators find them where they
look at portfolios. Actions only call services.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest

from portfolios.models import Portfolio
from rebalancer.autopilot.models import (
    CycleRun,
    KillSwitch,
    Notification,
    NotificationPreference,
    PushDelivery,
)
from rebalancer.autopilot.services import (
    autonomy_pause_many,
    cycle_run_many,
    kill_switch_ensure,
    kill_switch_set,
    latest_market_date,
)


@admin.register(KillSwitch)
class KillSwitchAdmin(admin.ModelAdmin):
    """One row: flip ``mode`` to halt all autonomous trading or go defensive."""

    list_display = ("mode", "reason", "updated_by", "updated_at")
    readonly_fields = ("updated_by", "updated_at")
    fields = ("mode", "reason", "updated_by", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not KillSwitch.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        # Through the service: validated, locked, logged with who flipped it.
        switch = kill_switch_set(mode=obj.mode, reason=obj.reason, user=request.user)
        obj.pk, obj.updated_by, obj.updated_at = switch.pk, switch.updated_by, switch.updated_at

    def changelist_view(self, request, extra_context=None):
        kill_switch_ensure()
        return super().changelist_view(request, extra_context)


@admin.register(CycleRun)
class CycleRunAdmin(admin.ModelAdmin):
    list_display = ("portfolio", "as_of", "status", "action", "trades_count", "attempt", "finished_at")
    list_filter = ("status", "action", "as_of")
    search_fields = ("portfolio__name", "portfolio__owner__email", "reason", "error")
    date_hierarchy = "as_of"
    list_select_related = ("portfolio",)
    readonly_fields = [f.name for f in CycleRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # the record of what each cycle did (exactly once)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("user", "portfolio", "kind", "title", "created_at", "read_at")
    list_filter = ("kind", "created_at")
    search_fields = ("user__email", "title", "body")
    list_select_related = ("user", "portfolio")
    readonly_fields = [f.name for f in Notification._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.action(description="Run an autopilot cycle now (review even without a trigger)")
def run_cycle_now(modeladmin, request: HttpRequest, queryset) -> None:
    as_of = latest_market_date()
    if as_of is None:
        modeladmin.message_user(request, "There are no prices yet; pull market data first.", messages.ERROR)
        return
    results = cycle_run_many(portfolio_ids=list(queryset.values_list("pk", flat=True)), as_of=as_of, force=True)
    for r in results:
        level = messages.ERROR if r.status == "failed" else messages.INFO
        text = f"Portfolio #{r.portfolio_id} on {as_of}: {r.status} {r.action} ({r.trades_count} trades)"
        if r.error:
            text += f" — {r.error}"
        modeladmin.message_user(request, text, level)


@admin.action(description="Pause autonomy of the selected portfolios")
def pause_autonomy(modeladmin, request: HttpRequest, queryset) -> None:
    count = autonomy_pause_many(
        portfolio_ids=list(queryset.values_list("pk", flat=True)),
        reason=f"paused by operator {request.user}",
    )
    modeladmin.message_user(request, f"Paused autonomy of {count} portfolio(s).", messages.SUCCESS)


def _portfolio_admin_extend() -> None:
    """Re-register the portfolios app's PortfolioAdmin with the autopilot's actions."""
    base = type(admin.site._registry[Portfolio]) if admin.site.is_registered(Portfolio) else admin.ModelAdmin
    if admin.site.is_registered(Portfolio):
        admin.site.unregister(Portfolio)
    actions = [*(base.actions or []), run_cycle_now, pause_autonomy]
    admin.site.register(Portfolio, type("AutopilotPortfolioAdmin", (base,), {"actions": actions}))


_portfolio_admin_extend()


@admin.register(PushDelivery)
class PushDeliveryAdmin(admin.ModelAdmin):
    """The push outbox: what was sent to which device, what is waiting for a retry, what failed."""

    list_display = ("id", "notification", "device", "provider", "status", "attempts", "next_attempt_at", "sent_at")
    list_filter = ("status", "provider")
    search_fields = ("notification__user__email", "notification__title")
    readonly_fields = ("notification", "device", "provider", "attempts", "sent_at", "created_at", "last_error")
    list_select_related = ("notification",)
    raw_id_fields = ("notification", "device")


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "push", "updated_at")
    list_filter = ("kind", "push")
    search_fields = ("user__email",)
    raw_id_fields = ("user",)
