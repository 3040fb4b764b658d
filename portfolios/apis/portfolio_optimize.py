"""POST portfolios/{id}/optimize: the stateless optimizer fed from the portfolio and stored."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import error_responses
from common.idempotency import idempotent
from portfolios import selectors
from portfolios.apis.optimize import (
    OptimizeInputSerializer,
    OptimizeOutputSerializer,
    _symbol,
    map_field_names,
)
from portfolios.services.portfolio_optimize import portfolio_optimize


class PortfolioOptimizeInputSerializer(OptimizeInputSerializer):
    universe = serializers.ListField(
        child=_symbol(), min_length=1, max_length=100, required=False,
        help_text="Defaults to the portfolio's holdings and target symbols.",
    )


class PortfolioOptimizeOutputSerializer(OptimizeOutputSerializer):
    optimization_id = serializers.IntegerField(help_text="The stored PortfolioOptimization record.")


class PortfolioOptimizeApi(APIView):
    throttle_scope = "compute"  # heavier than a read: its own per-user rate

    @idempotent
    @extend_schema(
        operation_id="portfolios_optimize",
        parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Portfolio id.")],
        request=PortfolioOptimizeInputSerializer,
        responses={200: PortfolioOptimizeOutputSerializer, **error_responses(422)},
        description="Optimize this portfolio: the universe defaults to its holdings and targets, constraints to "
        "its autonomy settings (max position, ESG exclusions), the risk tier to its risk tolerance. "
        "The result is stored (visible in the admin) and returned; nothing is traded.",
    )
    def post(self, request: Request, pk: int) -> Response:
        portfolio = selectors.portfolio_get(owner=request.user, portfolio_id=pk)
        data = PortfolioOptimizeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with map_field_names(data.validated_data):
            record, body = portfolio_optimize(portfolio=portfolio, user=request.user, params=data.validated_data)
        return Response(PortfolioOptimizeOutputSerializer({**body, "optimization_id": record.pk}).data)
