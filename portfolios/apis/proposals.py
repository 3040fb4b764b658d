"""Proposals (advise-mode decisions) and performance of one portfolio."""

from __future__ import annotations

import io

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import Pagination, error_responses
from common.idempotency import idempotent
from common.renderers import JsonErrors, PNGRenderer
from portfolios import selectors, services
from portfolios.apis.serializers import (
    PerformanceOutputSerializer,
    PerformanceQuerySerializer,
    ProposalSerializer,
    RejectInputSerializer,
)
from portfolios.models import Decision

PORTFOLIO_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Portfolio id.")
PROPOSAL_ID = OpenApiParameter("pid", OpenApiTypes.INT, OpenApiParameter.PATH, description="Proposal id.")


class ProposalListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="portfolios_proposals_list",
        parameters=[
            PORTFOLIO_ID,
            OpenApiParameter("status", OpenApiTypes.STR, enum=Decision.Status.values, description="Only this status."),
        ],
        responses={200: ProposalSerializer(many=True)},
        description="The portfolio's decisions, newest first: proposals awaiting approval and past decisions with their explanations.",
    )
    def get(self, request: Request, pk: int) -> Response:
        portfolio = selectors.portfolio_get(owner=request.user, portfolio_id=pk)
        wanted = request.query_params.get("status")
        statuses = [wanted] if wanted in Decision.Status.values else []
        if wanted and not statuses:
            from rest_framework.exceptions import ValidationError

            raise ValidationError({"status": f"unknown status {wanted!r}"})
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.decisions_list(portfolio=portfolio, statuses=statuses), request, view=self)
        return paginator.get_paginated_response(ProposalSerializer(page, many=True).data)


class ProposalApproveApi(APIView):
    @idempotent
    @extend_schema(
        operation_id="portfolios_proposals_approve",
        parameters=[PORTFOLIO_ID, PROPOSAL_ID],
        request=None,
        responses={200: ProposalSerializer, **error_responses(409, 422)},
        description="Execute the proposal's trades once. Already decided, or stale (the portfolio or prices "
        "changed, or more than one trading day old) → 409; the trades cannot be filled → 422.",
    )
    def post(self, request: Request, pk: int, pid: int) -> Response:
        portfolio = selectors.portfolio_get(owner=request.user, portfolio_id=pk)
        decision = selectors.decision_get(portfolio=portfolio, decision_id=pid)
        # The service returns the row as committed: no read after the commit, which a failing
        # database could turn into an error response for an executed approval.
        decision = services.decision_approve(decision=decision, user=request.user, portfolio=portfolio)
        return Response(ProposalSerializer(decision).data)  # the approved row as written: no read after the commit


class ProposalRejectApi(APIView):
    @idempotent
    @extend_schema(
        operation_id="portfolios_proposals_reject",
        parameters=[PORTFOLIO_ID, PROPOSAL_ID],
        request=RejectInputSerializer,
        responses={200: ProposalSerializer, **error_responses(409)},
        description="Reject the proposal (nothing is traded); one already decided → 409.",
    )
    def post(self, request: Request, pk: int, pid: int) -> Response:
        portfolio = selectors.portfolio_get(owner=request.user, portfolio_id=pk)
        decision = selectors.decision_get(portfolio=portfolio, decision_id=pid)
        data = RejectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decision = services.decision_reject(
            decision=decision, user=request.user, portfolio=portfolio, reason=data.validated_data["reason"]
        )
        return Response(ProposalSerializer(decision).data)


def _performance(request: Request, pk: int):
    portfolio = selectors.portfolio_get(owner=request.user, portfolio_id=pk)
    query = PerformanceQuerySerializer(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    return portfolio, selectors.performance_get(portfolio=portfolio, **query.validated_data)


PERIOD = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First snapshot date."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last snapshot date."),
]


class PerformanceApi(APIView):
    @extend_schema(
        operation_id="portfolios_performance",
        parameters=[PORTFOLIO_ID, *PERIOD],
        responses={200: PerformanceOutputSerializer},
        description="Time-weighted return series from daily snapshots (deposits and withdrawals are not "
        "performance) and its metrics: total/annualized return, volatility, Sharpe (rf 0), max drawdown. "
        "The equity curve as a PNG: `performance.png`.",
    )
    def get(self, request: Request, pk: int) -> Response:
        _, perf = _performance(request, pk)
        body = {
            "series": [p.__dict__ for p in perf.series],
            "metrics": perf.metrics.__dict__,
            "realized_gain": perf.realized_gain,
            "net_deposits": perf.net_deposits,
        }
        return Response(PerformanceOutputSerializer(body).data)


class PerformanceChartApi(JsonErrors, APIView):
    throttle_scope = "compute"  # heavier than a read: its own per-user rate
    renderer_classes = [PNGRenderer, JSONRenderer]

    @extend_schema(
        operation_id="portfolios_performance_chart",
        parameters=[PORTFOLIO_ID, *PERIOD],
        responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="Equity curve (TWR index).")},
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        portfolio, perf = _performance(request, pk)
        return HttpResponse(_equity_png(portfolio.name, perf), content_type="image/png")


def _equity_png(title: str, perf) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    if perf.series:
        ax.plot([p.date for p in perf.series], [100 * (1 + p.cumulative_return) for p in perf.series], color="#1f77b4")
    else:
        ax.text(0.5, 0.5, "no snapshots yet", ha="center", va="center", transform=ax.transAxes)
    # parse_math=False: a name such as "My $$ pot" is text, not matplotlib mathtext (a 500)
    ax.set_title(f"{title}: time-weighted growth of 100", parse_math=False)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
