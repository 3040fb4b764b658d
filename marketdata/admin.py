"""Admin for operators: assets with their data health, read-only bars, corporate actions,
and the log of data pulls."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone

from marketdata.models import Asset, CorporateAction, DataPull, PriceBar


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ("symbol", "name", "asset_class", "sector", "currency", "esg_score", "is_active")
    list_filter = ("asset_class", "is_active", "sector", "currency")
    search_fields = ("symbol", "name")
    readonly_fields = ("created_at", "updated_at")
    actions = ("health_check",)

    @admin.action(description="Check data health as of today")
    def health_check(self, request, queryset):
        from marketdata.selectors import asset_health_get

        symbols = list(queryset.values_list("symbol", flat=True))
        for symbol, health in asset_health_get(symbols=symbols, as_of=timezone.now().date()).items():
            level = messages.SUCCESS if health.status == "ok" else messages.WARNING
            detail = "; ".join(health.reasons[:5]) or "no problem found"
            self.message_user(request, f"{symbol}: {health.status} (last bar {health.last_date}) - {detail}", level)


@admin.register(PriceBar)
class PriceBarAdmin(admin.ModelAdmin):
    """Bars are written only by imports and pulls (so that every change is recorded in a
    DataPull); the admin shows them read-only."""

    list_display = ("asset", "date", "open", "high", "low", "close", "adj_close", "volume")
    list_filter = ("asset__asset_class",)
    search_fields = ("asset__symbol",)
    date_hierarchy = "date"
    list_select_related = ("asset",)
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CorporateAction)
class CorporateActionAdmin(admin.ModelAdmin):
    list_display = ("asset", "date", "kind", "ratio", "note")
    list_filter = ("kind",)
    search_fields = ("asset__symbol", "note")
    autocomplete_fields = ("asset",)
    date_hierarchy = "date"


@admin.register(DataPull)
class DataPullAdmin(admin.ModelAdmin):
    list_display = ("id", "provider", "status", "start", "end", "rows_inserted", "rows_updated", "started_at", "finished_at")
    list_filter = ("status", "provider")
    readonly_fields = [f.name for f in DataPull._meta.fields]
    date_hierarchy = "started_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
