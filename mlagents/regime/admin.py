"""Operators' view of the regime app: markets, fitted models, the history, the policy."""

from __future__ import annotations

from django.contrib import admin, messages

from mlagents.regime.models import MarketRegime, ReferenceMarket, RegimeModel, RegimePolicy


@admin.register(ReferenceMarket)
class ReferenceMarketAdmin(admin.ModelAdmin):
    list_display = ["name", "benchmark_symbol", "asset_class", "training_years", "is_active", "updated_at"]
    list_filter = ["is_active", "asset_class"]
    search_fields = ["name", "benchmark_symbol"]
    readonly_fields = ["created_at", "updated_at"]
    actions = ["retrain", "detect"]

    @admin.action(description="Refit the detector now")
    def retrain(self, request, queryset):
        from mlagents.regime.services import regime_model_train

        for market in queryset:
            model = regime_model_train(market=market.name)
            self.message_user(request, f"{market}: fitted on {model.n_observations} days to {model.trained_to}.")

    @admin.action(description="Record the regime of new days now")
    def detect(self, request, queryset):
        from mlagents.regime.services import regime_detect

        for market in queryset:
            written = regime_detect(market=market.name)
            self.message_user(request, f"{market}: {written} new days recorded.", messages.SUCCESS)


@admin.register(RegimeModel)
class RegimeModelAdmin(admin.ModelAdmin):
    list_display = ["id", "market", "trained_from", "trained_to", "n_observations", "labels", "is_active", "created_at"]
    list_filter = ["market", "is_active"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in RegimeModel._meta.fields]

    def has_add_permission(self, request):  # models are fitted, not typed in
        return False


@admin.register(MarketRegime)
class MarketRegimeAdmin(admin.ModelAdmin):
    list_display = ["date", "market", "regime", "confidence", "probabilities", "model", "detected_at"]
    list_filter = ["market", "regime"]
    date_hierarchy = "date"
    search_fields = ["date"]
    readonly_fields = [f.name for f in MarketRegime._meta.fields]

    def has_add_permission(self, request):  # the history is what the detector called
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RegimePolicy)
class RegimePolicyAdmin(admin.ModelAdmin):
    list_display = [
        "regime", "risk_tier", "strategy", "min_confidence", "low_confidence_strategy", "cash_buffer",
        "is_active", "updated_at",
    ]
    list_editable = ["strategy", "min_confidence", "low_confidence_strategy", "cash_buffer", "is_active"]
    list_filter = ["regime", "risk_tier", "is_active"]
    search_fields = ["strategy", "note"]
    readonly_fields = ["updated_at"]
