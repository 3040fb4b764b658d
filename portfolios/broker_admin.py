"""Admin of real-broker trading: accounts, orders with their fills, reconciliations, the execution report.

Imported by :mod:`portfolios.admin`. Credentials are entered in write-only fields and saved
encrypted through :func:`~portfolios.services.broker_accounts.portfolio_broker_set`; the
page shows the key id's last four characters only. Orders and reconciliations are written
by services; here they are read, and reconciliations are resolved with the two actions of
the documented procedure (accept the broker's numbers, or dismiss).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join

from common.errors import ApplicationError
from portfolios.broker_models import BrokerAccount, Order, OrderFill, Reconciliation


class ReadOnly:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class BrokerAccountForm(forms.ModelForm):
    api_key = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                              help_text="Leave empty to keep the stored key (or to use the environment's).")
    secret_key = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))

    class Meta:
        model = BrokerAccount
        fields = ("portfolio", "environment", "order_type", "limit_offset_bps", "open_orders_policy")


@admin.register(BrokerAccount)
class BrokerAccountAdmin(admin.ModelAdmin):
    form = BrokerAccountForm
    list_display = ("portfolio", "kind", "environment", "uses_environment_keys", "key_hint", "account_number",
                    "order_type", "open_orders_policy", "last_synced_at", "last_error")
    list_filter = ("kind", "environment", "uses_environment_keys", "open_orders_policy")
    search_fields = ("portfolio__name", "portfolio__owner__email", "account_number")
    list_select_related = ("portfolio",)
    raw_id_fields = ("portfolio",)
    readonly_fields = ("kind", "uses_environment_keys", "key_hint", "account_number", "last_synced_at", "last_error",
                       "created_at", "updated_at")
    actions = ["reconcile_now", "sync_orders_now"]

    def save_model(self, request, obj, form, change) -> None:
        from portfolios.services.broker_accounts import portfolio_broker_set

        data = {k: form.cleaned_data[k] for k in ("order_type", "limit_offset_bps", "open_orders_policy")}
        if form.cleaned_data.get("api_key") or form.cleaned_data.get("secret_key"):
            data.update(api_key=form.cleaned_data.get("api_key", ""), secret_key=form.cleaned_data.get("secret_key", ""),
                        environment=form.cleaned_data["environment"])
        try:
            portfolio_broker_set(portfolio=form.cleaned_data["portfolio"], broker="alpaca", account=data)
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return
        saved = BrokerAccount.objects.get(portfolio=form.cleaned_data["portfolio"])
        obj.pk, obj.key_hint = saved.pk, saved.key_hint

    @admin.action(description="Reconcile with the broker now")
    def reconcile_now(self, request, queryset) -> None:
        from portfolios.services.reconciliation import reconciliation_run

        for account in queryset.select_related("portfolio"):
            row = reconciliation_run(portfolio=account.portfolio, trigger="on_demand")
            level = messages.SUCCESS if row.status == Reconciliation.Status.MATCHED else messages.WARNING
            self.message_user(request, f"{account.portfolio}: {row.get_status_display()} (#{row.pk})", level=level)

    @admin.action(description="Poll open orders now")
    def sync_orders_now(self, request, queryset) -> None:
        from portfolios.services.orders import orders_sync

        summary = orders_sync(portfolio_ids=list(queryset.values_list("portfolio_id", flat=True)))
        self.message_user(request, f"polled {summary.polled} orders, {summary.fills} new fills, "
                                   f"submitted {summary.submitted}, held {summary.held}"
                                   + (f"; errors: {'; '.join(summary.errors)}" if summary.errors else ""))


class OrderFillInline(ReadOnly, admin.TabularInline):
    model = OrderFill
    fields = ("quantity", "price", "executed_at", "fill_ref", "trade")
    readonly_fields = fields
    extra = 0


@admin.register(Order)
class OrderAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("client_order_id", "portfolio", "decision", "side", "symbol", "planned_quantity", "quantity",
                    "filled_quantity", "filled_avg_price", "decision_price", "status", "broker_status", "submit_after",
                    "submitted_at", "final_at", "ledger_error")
    list_filter = ("status", "broker", "side", "order_type")
    search_fields = ("client_order_id", "broker_order_id", "symbol", "portfolio__name")
    list_select_related = ("portfolio", "decision")
    inlines = [OrderFillInline]
    change_list_template = "admin/portfolios/order/change_list.html"

    def get_urls(self):
        report = path("execution-report/", self.admin_site.admin_view(self.execution_report),
                      name="portfolios_order_execution_report")
        return [report, *super().get_urls()]

    def execution_report(self, request):
        """Execution quality of every broker portfolio (or ``?portfolio=ID``), per decision."""
        from portfolios.execution_quality import execution_report_get
        from portfolios.models import Portfolio

        portfolios = Portfolio.objects.exclude(broker="paper").order_by("pk")
        if request.GET.get("portfolio", "").isdigit():
            portfolios = Portfolio.objects.filter(pk=int(request.GET["portfolio"]))
        reports = [(p, execution_report_get(portfolio=p, limit=20)) for p in portfolios[:50]]
        context = {**self.admin_site.each_context(request), "title": "Execution quality", "reports": reports,
                   "opts": self.model._meta}
        return TemplateResponse(request, "admin/portfolios/order/execution_report.html", context)


@admin.register(Reconciliation)
class ReconciliationAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("id", "portfolio", "created_at", "status", "trigger", "cash_difference", "positions_off",
                    "paused_autonomy", "resolution", "resolved_by")
    list_filter = ("status", "trigger", "resolution")
    search_fields = ("portfolio__name", "portfolio__owner__email")
    list_select_related = ("portfolio", "resolved_by")
    readonly_fields = ("portfolio", "status", "trigger", "ledger_cash", "broker_cash", "cash_difference",
                       "differences_table", "open_orders", "error", "paused_autonomy", "resolution", "resolution_note",
                       "adjustments", "resolved_by", "resolved_at", "created_at")
    exclude = ("differences",)
    actions = ["accept_broker_numbers", "dismiss"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is not None  # the detail page is readable; nothing on it is editable

    @admin.display(description="positions off")
    def positions_off(self, obj: Reconciliation) -> int:
        return len(obj.differences or [])

    @admin.display(description="differences (broker minus ledger)")
    def differences_table(self, obj: Reconciliation) -> str:
        if not obj.differences:
            return "none"
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td><b>{}</b></td></tr>",
            ((d["symbol"], d["ledger_quantity"], d["broker_quantity"], d["difference"]) for d in obj.differences),
        )
        return format_html("<table><tr><th>symbol</th><th>ledger</th><th>broker</th><th>difference</th></tr>{}</table>",
                           rows)

    def _resolve(self, request, queryset, service, verb: str) -> None:
        for row in queryset:
            try:
                service(reconciliation=row, user=request.user, note=f"{verb} in the admin")
            except ApplicationError as exc:
                self.message_user(request, f"#{row.pk}: {exc.message}", level=messages.ERROR)
            else:
                self.message_user(request, f"#{row.pk}: {verb}; run a reconciliation again to confirm")

    @admin.action(description="Accept the broker's numbers (write ledger adjustments)")
    def accept_broker_numbers(self, request, queryset) -> None:
        from portfolios.services.reconciliation import reconciliation_accept

        self._resolve(request, queryset, reconciliation_accept, "accepted the broker's numbers")

    @admin.action(description="Dismiss (keep the ledger)")
    def dismiss(self, request, queryset) -> None:
        from portfolios.services.reconciliation import reconciliation_dismiss

        self._resolve(request, queryset, reconciliation_dismiss, "dismissed")
