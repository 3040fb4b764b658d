"""API routes of this app, included under /api/v1/ by the root urls."""

from django.urls import path, register_converter

from portfolios.apis import optimize, orders, portfolio_optimize, portfolios, proposals, statements


class SignedIntConverter:
    """Like ``int`` but also matches negative numbers, so that any integer id gets the API's
    JSON 404 (from the owner-filtered lookup) rather than Django's HTML "no route" page."""

    regex = "-?[0-9]+"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(SignedIntConverter, "id")

urlpatterns: list = [
    path("optimize", optimize.OptimizeApi.as_view(), name="optimize"),
    path("portfolios", portfolios.PortfolioListApi.as_view(), name="portfolios"),
    path("portfolios/<id:pk>", portfolios.PortfolioDetailApi.as_view(), name="portfolio-detail"),
    path("portfolios/<id:pk>/holdings", portfolios.HoldingsApi.as_view(), name="portfolio-holdings"),
    path("portfolios/<id:pk>/transactions", portfolios.TransactionsApi.as_view(), name="portfolio-transactions"),
    path("portfolios/<id:pk>/cash", portfolios.CashApi.as_view(), name="portfolio-cash"),
    path("portfolios/<id:pk>/targets", portfolios.TargetsApi.as_view(), name="portfolio-targets"),
    path("portfolios/<id:pk>/autonomy", portfolios.AutonomyApi.as_view(), name="portfolio-autonomy"),
    path("portfolios/<id:pk>/proposals", proposals.ProposalListApi.as_view(), name="portfolio-proposals"),
    path(
        "portfolios/<id:pk>/proposals/<id:pid>/approve",
        proposals.ProposalApproveApi.as_view(),
        name="portfolio-proposal-approve",
    ),
    path(
        "portfolios/<id:pk>/proposals/<id:pid>/reject",
        proposals.ProposalRejectApi.as_view(),
        name="portfolio-proposal-reject",
    ),
    path("portfolios/<id:pk>/performance", proposals.PerformanceApi.as_view(), name="portfolio-performance"),
    path("portfolios/<id:pk>/performance.png", proposals.PerformanceChartApi.as_view(), name="portfolio-performance-png"),
    path("portfolios/<id:pk>/tax-report", statements.TaxReportApi.as_view(), name="portfolio-tax-report"),
    path("portfolios/<id:pk>/statement", statements.StatementApi.as_view(), name="portfolio-statement"),
    path("portfolios/<id:pk>/optimize", portfolio_optimize.PortfolioOptimizeApi.as_view(), name="portfolio-optimize"),
    path("portfolios/<id:pk>/orders", orders.OrdersApi.as_view(), name="portfolio-orders"),
    path("portfolios/<id:pk>/execution", orders.ExecutionApi.as_view(), name="portfolio-execution"),
]
