"""Backtests in the admin: status and progress at a glance, results read-only."""

from __future__ import annotations

import base64

from django.contrib import admin
from django.utils.html import format_html

from rebalancer.backtests.charts import allocation_chart_png, equity_chart_png
from rebalancer.backtests.models import Backtest
from rebalancer.backtests.selectors import series_equity_frames, series_weights_frame


@admin.register(Backtest)
class BacktestAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "owner",
        "name",
        "strategies",
        "status",
        "progress_pct",
        "duration_s",
        "created_at",
    )
    list_filter = ("status", "created_at")
    search_fields = ("name", "owner__email", "id")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    exclude = ("series", "trades")
    readonly_fields = (
        "owner",
        "status",
        "progress",
        "config",
        "results",
        "error",
        "duration_s",
        "created_at",
        "started_at",
        "finished_at",
        "charts",
    )

    @admin.display(description="strategies")
    def strategies(self, obj: Backtest) -> str:
        return ", ".join(obj.config.get("strategies", [])) if isinstance(obj.config, dict) else ""

    @admin.display(description="progress", ordering="progress")
    def progress_pct(self, obj: Backtest) -> str:
        return f"{obj.progress:.0%}"

    @admin.display(description="charts")
    def charts(self, obj: Backtest) -> str:
        if obj.status != "succeeded" or not obj.series:
            return "-"
        curves = series_equity_frames(obj.series)
        name, weights = series_weights_frame(obj.series)
        equity = base64.b64encode(equity_chart_png(curves)).decode()
        allocation = base64.b64encode(allocation_chart_png(weights, title=name)).decode()
        return format_html(
            '<img src="data:image/png;base64,{}" style="max-width:900px"><br>'
            '<img src="data:image/png;base64,{}" style="max-width:900px">',
            equity,
            allocation,
        )

    def has_add_permission(self, request) -> bool:
        return False  # backtests are created through the API or the command
