"""Operators' view of risk: snapshots and alerts (acknowledge from the list); limits are in portfolios."""

from django.contrib import admin, messages

from risk.models import RiskAlert, RiskSnapshot


@admin.register(RiskSnapshot)
class RiskSnapshotAdmin(admin.ModelAdmin):
    list_display = ["portfolio", "date", "var_1d", "var_5d", "expected_shortfall", "beta",
                    "max_drawdown", "current_drawdown", "sharpe_ratio", "avg_correlation"]
    list_filter = ["date"]
    search_fields = ["portfolio__name", "portfolio__owner__email"]
    date_hierarchy = "date"
    raw_id_fields = ["portfolio"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(RiskAlert)
class RiskAlertAdmin(admin.ModelAdmin):
    list_display = ["created_at", "portfolio", "severity", "rule", "symbol", "value", "limit", "status",
                    "acknowledged_by", "last_seen_at"]
    list_filter = ["severity", "status", "rule"]
    search_fields = ["portfolio__name", "portfolio__owner__email", "symbol", "message"]
    raw_id_fields = ["portfolio", "snapshot"]
    readonly_fields = ["portfolio", "rule", "severity", "action", "symbol", "value", "limit", "message",
                       "snapshot", "acknowledged_by", "acknowledged_at", "resolved_at", "last_seen_at",
                       "created_at", "updated_at"]
    actions = ["acknowledge"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # alerts are the record of every breach

    @admin.action(description="Acknowledge the selected alerts")
    def acknowledge(self, request, queryset):
        from common.errors import ApplicationError
        from risk.services import risk_alert_acknowledge

        done = 0
        for alert in queryset:
            try:
                risk_alert_acknowledge(alert=alert, user=request.user)
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"alert {alert.pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{done} alert(s) acknowledged.", messages.SUCCESS)
