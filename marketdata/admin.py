"""Admin for operators: assets with their data health, read-only bars, corporate actions,
and the log of data pulls."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from marketdata.models import Asset, CorporateAction, DataPull, PriceBar


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ("symbol", "name", "asset_class", "sector", "currency", "esg_score", "price_basis", "is_active")
    list_filter = ("asset_class", "is_active", "price_basis", "sector", "currency")
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


class CorporateActionForm(forms.ModelForm):
    """A split needs its terms (numerator for denominator); a dividend its cash per share."""

    class Meta:
        model = CorporateAction
        fields = ("asset", "date", "kind", "numerator", "denominator", "ratio", "pay_date", "qualified", "note")

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == CorporateAction.Kind.SPLIT:
            numerator, denominator = data.get("numerator"), data.get("denominator")
            if not numerator or not denominator or numerator <= 0 or denominator <= 0:
                raise forms.ValidationError({"numerator": "A split needs a positive numerator and denominator (2 for 1)."})
            data["ratio"] = (numerator / denominator).quantize(Decimal("0.00000001"))
            if data.get("pay_date") or data.get("qualified") is not None:
                raise forms.ValidationError({"pay_date": "Only dividends have a pay date or a qualification."})
        elif kind == CorporateAction.Kind.DIVIDEND:
            ratio = data.get("ratio")
            if ratio is None or ratio <= 0:
                raise forms.ValidationError({"ratio": "A dividend needs its positive cash amount per share."})
            if data.get("numerator") or data.get("denominator"):
                raise forms.ValidationError({"numerator": "Only splits have a numerator and denominator."})
            pay_date = data.get("pay_date")
            if pay_date and data.get("date") and pay_date < data["date"]:
                raise forms.ValidationError({"pay_date": "The pay date is before the ex-date."})
        return data

    def clean_ratio(self):
        return self.cleaned_data.get("ratio")


@admin.register(CorporateAction)
class CorporateActionAdmin(admin.ModelAdmin):
    """Splits (numerator for denominator) and dividends (ratio = cash per share, paid on the
    pay date); ``date`` is the ex-date. The portfolios app applies them to ledgers."""

    form = CorporateActionForm
    list_display = ("asset", "date", "kind", "ratio", "numerator", "denominator", "pay_date", "qualified", "note")
    list_filter = ("kind", "qualified")
    search_fields = ("asset__symbol", "note")
    autocomplete_fields = ("asset",)
    date_hierarchy = "date"
    readonly_fields = ("ledger_checked_through", "created_at")


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
