"""API routes of this app, included under /api/v1/ by the root urls."""

from django.urls import path

from rebalancer.backtests import apis

# ``str`` rather than ``int``: a malformed id must get the API's JSON 404 from the view,
# not Django's HTML page from the resolver.
urlpatterns = [
    path("backtests", apis.BacktestListCreateApi.as_view(), name="backtests"),
    path("backtests/<str:backtest_id>", apis.BacktestDetailApi.as_view(), name="backtest-detail"),
    path(
        "backtests/<str:backtest_id>/equity.png",
        apis.BacktestEquityChartApi.as_view(),
        name="backtest-equity-chart",
    ),
    path(
        "backtests/<str:backtest_id>/allocation.png",
        apis.BacktestAllocationChartApi.as_view(),
        name="backtest-allocation-chart",
    ),
]
