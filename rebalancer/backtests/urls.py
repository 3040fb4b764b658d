"""API routes of this app, included under /api/v1/ by the root urls."""

from django.urls import path

from rebalancer.backtests import apis

urlpatterns = [
    path("backtests", apis.BacktestListCreateApi.as_view(), name="backtests"),
    path("backtests/<int:backtest_id>", apis.BacktestDetailApi.as_view(), name="backtest-detail"),
    path(
        "backtests/<int:backtest_id>/equity.png",
        apis.BacktestEquityChartApi.as_view(),
        name="backtest-equity-chart",
    ),
    path(
        "backtests/<int:backtest_id>/allocation.png",
        apis.BacktestAllocationChartApi.as_view(),
        name="backtest-allocation-chart",
    ),
]
