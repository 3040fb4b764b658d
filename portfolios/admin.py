"""Admin of the ledger and decisions: operators read; money moves only through services.

Corporate actions (market data's model) are re-registered here with their applications
and an "apply now" action, since applying them is the ledger's job.

Ledger rows (trades, lots, closings, cash movements, snapshots) are read-only here:
editing them by hand would break the invariants ``audit_ledger`` checks. Decisions show
their full explanation. The autopilot's admin adds "run a cycle now" and "pause
autonomy" actions to :class:`PortfolioAdmin` (it subclasses it).
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join

from marketdata.admin import CorporateActionAdmin as MarketdataCorporateActionAdmin
from marketdata.models import CorporateAction
from portfolios.models import (
    AutonomySettings,
    CashMovement,
    CorporateActionApplication,
    Decision,
    LotClosing,
    Portfolio,
    PortfolioLimits,
    PortfolioOptimization,
    PortfolioSnapshot,
    Position,
    TargetAllocation,
    TaxLot,
    Trade,
    WashSale,
)


class ReadOnlyAdminMixin:
    """No add/change/delete: the row is written by services only."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class PositionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Position
    fields = ("asset", "quantity", "updated_at")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).filter(quantity__gt=0).select_related("asset")


class TargetInline(admin.TabularInline):
    model = TargetAllocation
    fields = ("asset", "asset_class", "weight")
    autocomplete_fields = ()
    raw_id_fields = ("asset",)
    extra = 0


class AutonomyInline(admin.StackedInline):
    model = AutonomySettings
    can_delete = False
    extra = 0


class LimitsForm(forms.ModelForm):
    """Overrides validated the way the API validates them (the limits must hold together)."""

    class Meta:
        model = PortfolioLimits
        fields = (
            "portfolio", "max_position", "max_asset_class", "max_holdings", "asset_class_bounds", "max_var_95",
            "max_drawdown", "max_turnover", "volatility_target", "max_avg_correlation",
        )

    def clean(self):
        from common.errors import Unprocessable
        from portfolios.services import limits_validate

        data = super().clean()
        row = PortfolioLimits(**{k: v for k, v in data.items() if k in {f.name for f in PortfolioLimits._meta.fields}})
        try:
            limits_validate(portfolio_id=self.instance.portfolio_id, overrides=row)
        except Unprocessable as exc:
            field = (exc.field or "").split(".")[0]
            raise forms.ValidationError({field if field in self.fields else "__all__": exc.message}) from exc
        return data


class LimitsInline(admin.StackedInline):
    """The portfolio's limit overrides, with the limits in force (tier, horizon, overrides resolved)."""

    model = PortfolioLimits
    form = LimitsForm
    can_delete = True
    extra = 0
    max_num = 1
    readonly_fields = ("limits_in_force", "updated_at")

    @admin.display(description="limits in force")
    def limits_in_force(self, obj: PortfolioLimits):
        from portfolios.selectors import policy_limits_get

        if not obj or not obj.portfolio_id:
            return "-"
        return limits_table(policy_limits_get(portfolio=obj.portfolio))


def limits_table(limits) -> str:
    """The resolved limits as an HTML table (admin)."""
    rows = [
        ("tier", limits.tier),
        ("horizon", f"{limits.horizon_years:g} years (risk budget x {limits.horizon_factor:.2f})"),
        ("volatility target", f"{limits.volatility_target:.1%}"),
        *((f"{sleeve}", f"{lo:.0%} - {hi:.0%}") for sleeve, (lo, hi) in limits.sleeve_ranges.items()),
        *((f"{cls} (class)", f"{lo:.0%} - {hi:.0%}") for cls, (lo, hi) in limits.class_ranges.items()),
        ("largest position", f"{limits.max_position:.0%}"),
        ("one-day VaR 95 % forecast", f"{limits.max_var_95:.2%}"),
        ("drawdown that de-risks once", f"{limits.max_drawdown:.0%}"),
        ("max holdings", limits.max_holdings or "-"),
        ("excluded", ", ".join(limits.excluded_symbols) or "-"),
    ]
    return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))


@admin.register(Portfolio)
class PortfolioAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "owner", "cash", "mode", "autonomy_enabled", "broker", "ledger_version", "created_at")
    list_filter = ("autonomy__mode", "autonomy__enabled", "autonomy__risk_tolerance", "base_currency", "broker")
    search_fields = ("name", "owner__email")
    list_select_related = ("owner", "autonomy")
    # broker changes go through the broker account (credentials, open-order checks): read-only here
    readonly_fields = ("cash", "ledger_version", "broker", "created_at", "updated_at")
    raw_id_fields = ("owner",)
    inlines = [AutonomyInline, LimitsInline, TargetInline, PositionInline]

    @admin.display(description="mode", ordering="autonomy__mode")
    def mode(self, obj: Portfolio) -> str:
        return getattr(getattr(obj, "autonomy", None), "mode", "-")

    @admin.display(description="autonomy on", boolean=True)
    def autonomy_enabled(self, obj: Portfolio) -> bool:
        return bool(getattr(getattr(obj, "autonomy", None), "enabled", False))


def _pretty(value) -> str:
    return format_html("<pre style='white-space: pre-wrap'>{}</pre>", json.dumps(value, indent=2, default=str))


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ("id", "portfolio", "as_of", "status", "mode", "strategy", "trades_count", "confidence", "created_at")
    list_filter = ("status", "mode", "strategy", "as_of")
    search_fields = ("portfolio__name", "portfolio__owner__email", "summary")
    list_select_related = ("portfolio",)
    date_hierarchy = "as_of"
    fieldsets = (
        (None, {"fields": ("portfolio", "as_of", "status", "mode", "strategy", "confidence", "status_reason")}),
        ("Explanation", {"fields": ("summary", "triggers_pretty", "checks_pretty", "trades_pretty", "explanation_pretty")}),
        ("Numbers", {"fields": ("before_pretty", "after_pretty", "current_weights_pretty", "target_weights_pretty", "prices_pretty")}),
        ("Audit", {"fields": ("ledger_version", "created_at", "decided_at", "decided_by", "executed_at")}),
    )

    def get_readonly_fields(self, request, obj=None):
        return [f for fs in self.fieldsets for f in fs[1]["fields"]]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # decisions are the audit record of what the autopilot did

    @admin.display(description="trades")
    def trades_count(self, obj: Decision) -> int:
        return len(obj.trades or [])

    def triggers_pretty(self, obj):
        return _pretty(obj.triggers)

    def checks_pretty(self, obj):
        return _pretty(obj.checks)

    def trades_pretty(self, obj):
        return _pretty(obj.trades)

    def explanation_pretty(self, obj):
        return _pretty(obj.explanation)

    def before_pretty(self, obj):
        return _pretty(obj.before)

    def after_pretty(self, obj):
        return _pretty(obj.after)

    def current_weights_pretty(self, obj):
        return _pretty(obj.current_weights)

    def target_weights_pretty(self, obj):
        return _pretty(obj.target_weights)

    def prices_pretty(self, obj):
        return _pretty(obj.prices)


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "portfolio", "trade_date", "side", "asset", "quantity", "price", "commission", "cash_flow", "realized_gain", "decision")
    list_filter = ("side", "broker", "trade_date")
    search_fields = ("portfolio__name", "asset__symbol", "broker_ref", "reason")
    list_select_related = ("portfolio", "asset")
    date_hierarchy = "trade_date"


class LotClosingInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = LotClosing
    fields = (
        "trade", "quantity", "proceeds", "cost_basis", "realized_gain", "wash_disallowed", "washed_quantity",
        "holding_period", "closed_on",
    )
    readonly_fields = fields
    extra = 0


class ReplacementInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WashSale
    fk_name = "replacement_lot"
    verbose_name_plural = "losses washed into this lot"
    fields = ("closing", "quantity", "disallowed_loss", "holding_days", "matched_on")
    readonly_fields = fields
    extra = 0


@admin.register(TaxLot)
class TaxLotAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id", "portfolio", "asset", "acquired_on", "holding_from", "quantity_original", "quantity_open",
        "cost_basis", "cost_basis_open", "wash_adjustment", "split_from",
    )
    list_filter = ("acquired_on", "wash_replacement")
    search_fields = ("portfolio__name", "asset__symbol")
    list_select_related = ("portfolio", "asset")
    inlines = [LotClosingInline, ReplacementInline]


@admin.register(WashSale)
class WashSaleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every wash-sale match: the loss closing, the replacement lot, what moved between them."""

    list_display = ("id", "portfolio", "symbol", "closing", "replacement_lot", "quantity", "disallowed_loss",
                    "holding_days", "matched_on")
    list_filter = ("matched_on",)
    search_fields = ("closing__lot__portfolio__name", "closing__lot__asset__symbol")
    list_select_related = ("closing__lot__portfolio", "closing__lot__asset")
    date_hierarchy = "matched_on"

    @admin.display(description="portfolio")
    def portfolio(self, obj: WashSale):
        return obj.closing.lot.portfolio

    @admin.display(description="symbol")
    def symbol(self, obj: WashSale) -> str:
        return obj.closing.lot.asset.symbol


@admin.register(CorporateActionApplication)
class CorporateActionApplicationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What each split or dividend did to each portfolio (written once by the ledger)."""

    list_display = ("id", "portfolio", "asset", "kind", "ex_date", "pay_date", "status", "shares", "quantity_delta",
                    "amount", "qualified_amount")
    list_filter = ("status", "kind", "ex_date")
    search_fields = ("portfolio__name", "asset__symbol", "note")
    list_select_related = ("portfolio", "asset")
    date_hierarchy = "ex_date"


class ApplicationInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CorporateActionApplication
    fields = ("portfolio", "status", "shares", "quantity_delta", "amount", "pay_date", "cash_movement", "note")
    readonly_fields = fields
    extra = 0


admin.site.unregister(CorporateAction)


@admin.register(CorporateAction)
class CorporateActionAdmin(MarketdataCorporateActionAdmin):
    """Market data's corporate actions, with what the ledger did about each and a way to apply
    due ones now (the beat and the cycle do it too)."""

    inlines = [ApplicationInline]
    actions = ("apply_to_ledgers",)

    @admin.action(description="Apply due splits and dividends to holders' ledgers now")
    def apply_to_ledgers(self, request, queryset):
        from django.contrib import messages

        from portfolios.services.corporate_actions import corporate_actions_apply

        result = corporate_actions_apply(action_ids=list(queryset.values_list("pk", flat=True)))
        level = messages.WARNING if result.needs_review else messages.SUCCESS
        self.message_user(
            request,
            f"{result.applied} split(s) applied, {result.accrued} dividend(s) accrued, {result.paid} paid, "
            f"{result.not_applicable} not applicable, {result.needs_review} need review.",
            level,
        )


@admin.register(CashMovement)
class CashMovementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "portfolio", "kind", "amount", "at", "note")
    list_filter = ("kind",)
    search_fields = ("portfolio__name", "note")
    list_select_related = ("portfolio",)
    date_hierarchy = "at"


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("portfolio", "date", "value", "cash", "invested", "net_flows")
    list_filter = ("date",)
    search_fields = ("portfolio__name",)
    list_select_related = ("portfolio",)


@admin.register(PortfolioOptimization)
class PortfolioOptimizationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "portfolio", "user", "objective", "status", "expected_return", "volatility", "sharpe", "created_at")
    list_filter = ("objective", "status")
    search_fields = ("portfolio__name", "user__email")
    list_select_related = ("portfolio", "user")


from portfolios import broker_admin  # noqa: E402,F401 - registers the real-broker models
