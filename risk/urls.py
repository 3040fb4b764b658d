"""API routes of this app, included under /api/v1/ by the root urls."""

from django.urls import path, re_path

from risk import apis, var_backtest_apis

urlpatterns = [
    path("risk/var", apis.VarApi.as_view(), name="risk-var"),
    path("risk/scenarios", apis.ScenarioListApi.as_view(), name="risk-scenarios"),
    path("risk/stress-test", apis.StressTestApi.as_view(), name="risk-stress-test"),
    path("risk/var/backtest", var_backtest_apis.VarBacktestApi.as_view(), name="risk-var-backtest"),
    # a signed pattern so that a negative id is a JSON 404 from the view, not Django's HTML page
    re_path(r"^portfolios/(?P<pk>-?[0-9]{1,30})/risk$", apis.PortfolioRiskApi.as_view(), name="portfolio-risk"),
    re_path(r"^portfolios/(?P<pk>-?[0-9]{1,30})/risk/backtest$", var_backtest_apis.PortfolioVarBacktestApi.as_view(),
            name="portfolio-risk-backtest"),
]
