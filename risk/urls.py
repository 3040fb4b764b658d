"""API routes of this app, included under /api/v1/ by the root urls."""

from django.urls import path

from risk import apis

urlpatterns = [
    path("risk/var", apis.VarApi.as_view(), name="risk-var"),
    path("risk/scenarios", apis.ScenarioListApi.as_view(), name="risk-scenarios"),
    path("risk/stress-test", apis.StressTestApi.as_view(), name="risk-stress-test"),
    path("portfolios/<int:pk>/risk", apis.PortfolioRiskApi.as_view(), name="portfolio-risk"),
]
