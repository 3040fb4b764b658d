"""Backtest endpoints: ``POST backtests`` (queue), ``GET backtests[/{id}]``, charts as PNG."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import ErrorResponseSerializer, Pagination, error_responses
from common.errors import NotFound
from common.idempotency import idempotent
from common.renderers import JsonErrors, PNGRenderer
from rebalancer.backtests import charts, selectors, services
from rebalancer.backtests.engine.schedule import FREQUENCIES
from rebalancer.backtests.models import Backtest, BacktestStatus
from users.models import RiskTier

SYMBOL_PATTERN = r"^[A-Za-z0-9.\-^=]{1,32}$"
SYMBOL = serializers.RegexField(SYMBOL_PATTERN, max_length=32)


class LimitsInputSerializer(serializers.Serializer):
    """Risk limits; a missing key takes the risk tier's default (as live portfolios do), null
    switches the limit off."""

    max_position = serializers.FloatField(
        min_value=0.01, max_value=1.0, allow_null=True, required=False
    )
    max_asset_class = serializers.FloatField(
        min_value=0.01, max_value=1.0, allow_null=True, required=False
    )
    max_var_95 = serializers.FloatField(
        min_value=0.001, max_value=1.0, allow_null=True, required=False
    )
    max_drawdown = serializers.FloatField(
        min_value=0.01, max_value=1.0, allow_null=True, required=False
    )
    max_turnover = serializers.FloatField(
        min_value=0.01, max_value=2.0, allow_null=True, required=False
    )


class BacktestInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    symbols = serializers.ListField(
        child=SYMBOL, min_length=1, max_length=services.MAX_SYMBOLS, help_text="The universe."
    )
    start = serializers.DateField()
    end = serializers.DateField()
    initial_cash = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=100, max_value=10_000_000_000, default="100000"
    )
    strategies = serializers.ListField(
        child=serializers.CharField(max_length=64),
        min_length=1,
        max_length=services.MAX_STRATEGIES,
        default=["equal_weight"],
        help_text="Registered strategy names, e.g. `equal_weight`, `optimizer:max_sharpe`; "
        "several give a comparison table.",
    )
    benchmark = serializers.RegexField(
        SYMBOL_PATTERN,
        max_length=32,
        required=False,
        allow_null=True,
        default=None,
        help_text="Symbol of the benchmark (e.g. SPY) for beta and tracking error.",
    )
    risk_tier = serializers.ChoiceField(choices=RiskTier.choices, default="balanced")
    rebalance_threshold = serializers.FloatField(
        min_value=0.001,
        max_value=1.0,
        default=0.05,
        help_text="Drift trigger (max |weight - target|); 1 switches it off.",
    )
    calendar = serializers.ChoiceField(choices=["none", "monthly", "quarterly"], default="monthly")
    lookback_days = serializers.IntegerField(min_value=20, max_value=1260, default=252)
    commission_rate = serializers.FloatField(min_value=0.0, max_value=0.05, default=0.0005)
    commission_min = serializers.FloatField(min_value=0.0, max_value=100.0, default=0.0)
    slippage_bps = serializers.FloatField(min_value=0.0, max_value=500.0, default=5.0)
    min_trade_value = serializers.FloatField(min_value=0.0, max_value=1_000_000.0, default=50.0)
    cash_buffer = serializers.FloatField(min_value=0.0, max_value=0.5, default=0.02)
    fractional_shares = serializers.BooleanField(default=True)
    tax_loss_harvesting = serializers.BooleanField(default=False)
    harvest_loss_threshold = serializers.FloatField(min_value=0.001, max_value=0.9, default=0.05)
    short_term_tax_rate = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.35)
    long_term_tax_rate = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.15)
    capital_loss_deduction = serializers.FloatField(
        min_value=0.0, max_value=1_000_000.0, default=3000.0,
        help_text="Net capital loss deductible from ordinary income per year in the estimated tax "
        "(US: 3,000); the rest carries over.",
    )
    limits = LimitsInputSerializer(required=False)
    walk_forward_episodes = serializers.IntegerField(
        min_value=1,
        max_value=2000,
        default=200,
        help_text="Training episodes of each walk-forward retraining of `agent:*` strategies.",
    )
    retrain_every = serializers.ChoiceField(
        choices=[f for f in FREQUENCIES if f in ("never", "monthly", "quarterly", "annually")],
        default="never",
    )

    def validate(self, attrs):
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": "end must be after start."})
        if (attrs["end"] - attrs["start"]).days > services.MAX_YEARS * 366:
            raise serializers.ValidationError(
                {"end": f"The window is limited to {services.MAX_YEARS} years."}
            )
        if len(set(attrs["symbols"])) != len(attrs["symbols"]):
            raise serializers.ValidationError({"symbols": "Symbols must be unique."})
        if len(set(attrs["strategies"])) != len(attrs["strategies"]):
            raise serializers.ValidationError({"strategies": "Strategies must be unique."})
        return attrs


class BacktestOutputSerializer(serializers.ModelSerializer):
    config = serializers.JSONField(read_only=True)
    results = serializers.JSONField(
        read_only=True,
        allow_null=True,
        help_text="When succeeded: `comparison` (one row per strategy, baseline and the "
        "benchmark: final value, total/annual return, volatility, Sharpe, Sortino, Calmar, "
        "max drawdown, beta, tracking error, costs, taxes, turnover, rebalances, trades) and "
        "`strategies` (per name: a downsampled `equity_curve` of [date, value], "
        "`final_weights`, `taxes` (realized short/long-term, harvested losses, gains offset, tax "
        "saved, wash-sale disallowed losses and blocks, estimated tax; the same per year in "
        "`years`), recent `decisions`).",
    )
    equity_chart = serializers.SerializerMethodField()
    allocation_chart = serializers.SerializerMethodField()

    class Meta:
        model = Backtest
        fields = [
            "id",
            "name",
            "status",
            "progress",
            "config",
            "results",
            "error",
            "duration_s",
            "created_at",
            "started_at",
            "finished_at",
            "equity_chart",
            "allocation_chart",
        ]
        read_only_fields = fields

    def _chart(self, obj: Backtest, which: str) -> str | None:
        if obj.status != BacktestStatus.SUCCEEDED:
            return None
        return f"/api/v1/backtests/{obj.pk}/{which}.png"

    def get_equity_chart(self, obj: Backtest) -> str | None:
        return self._chart(obj, "equity")

    def get_allocation_chart(self, obj: Backtest) -> str | None:
        return self._chart(obj, "allocation")


class BacktestSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Backtest
        fields = ["id", "name", "status", "progress", "error", "created_at", "finished_at"]
        read_only_fields = fields


ACCEPTED = inline_serializer(
    name="BacktestAccepted",
    fields={
        "id": serializers.IntegerField(),
        "status": serializers.ChoiceField(choices=BacktestStatus.choices),
        "progress": serializers.FloatField(),
        "url": serializers.CharField(),
    },
)


class BacktestListCreateApi(generics.ListAPIView):
    """GET: the caller's backtests, newest first (paginated); POST: start one."""

    serializer_class = BacktestSummarySerializer
    pagination_class = Pagination
    throttle_scope = "backtests"  # starting one is heavy work: its own per-user rate
    throttle_scope_methods = ("POST",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Backtest.objects.none()
        return selectors.backtest_list(owner=self.request.user)

    @idempotent
    @extend_schema(
        operation_id="backtests_create",
        request=BacktestInputSerializer,
        responses={202: ACCEPTED, **error_responses(422)},
        examples=[
            OpenApiExample(
                "Two strategies against SPY",
                request_only=True,
                value={
                    "symbols": ["AAPL", "XOM", "JPM", "PFE"],
                    "start": "2012-01-03",
                    "end": "2017-12-29",
                    "strategies": ["equal_weight", "optimizer:min_volatility"],
                    "benchmark": "SPY",
                    "calendar": "monthly",
                    "rebalance_threshold": 0.05,
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = BacktestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        name = data.pop("name", "")
        backtest = services.backtest_create(owner=request.user, data=data, name=name)
        return Response(
            {
                "id": backtest.pk,
                "status": backtest.status,
                "progress": backtest.progress,
                "url": f"/api/v1/backtests/{backtest.pk}",
            },
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        operation_id="backtests_list", responses={200: BacktestSummarySerializer(many=True)}
    )
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.backtest_list(owner=request.user), request, view=self
        )
        return paginator.get_paginated_response(BacktestSummarySerializer(page, many=True).data)


ID_PARAMETER = OpenApiParameter("backtest_id", OpenApiTypes.INT, OpenApiParameter.PATH)


def _id(raw: str) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise NotFound(f"Backtest {raw!r} not found.", field="id") from None
    if not 0 < value < 2**63:
        raise NotFound(f"Backtest {raw!r} not found.", field="id")
    return value


class BacktestDetailApi(APIView):
    @extend_schema(
        operation_id="backtests_retrieve",
        parameters=[ID_PARAMETER],
        responses={200: BacktestOutputSerializer},
    )
    def get(self, request: Request, backtest_id: str) -> Response:
        backtest = selectors.backtest_get(owner=request.user, backtest_id=_id(backtest_id))
        return Response(BacktestOutputSerializer(backtest).data)


PNG_RESPONSES = {
    (200, "image/png"): OpenApiResponse(response=OpenApiTypes.BINARY, description="A PNG image."),
    (404, "application/json"): OpenApiResponse(
        response=ErrorResponseSerializer, description="Not found (or not yours)."
    ),
    (409, "application/json"): OpenApiResponse(
        response=ErrorResponseSerializer, description="The backtest has not succeeded (yet)."
    ),
}


class _ChartApi(JsonErrors, APIView):
    throttle_scope = "compute"  # heavier than a read: its own per-user rate
    renderer_classes = [PNGRenderer, JSONRenderer]  # JSON for the error responses

    def _png(self, body: bytes) -> HttpResponse:
        return HttpResponse(body, content_type="image/png")


class BacktestEquityChartApi(_ChartApi):
    @extend_schema(
        operation_id="backtests_equity_chart", parameters=[ID_PARAMETER], responses=PNG_RESPONSES
    )
    def get(self, request: Request, backtest_id: str) -> HttpResponse:
        series = selectors.backtest_series_get(owner=request.user, backtest_id=_id(backtest_id))
        curves = selectors.series_equity_frames(series)
        return self._png(charts.equity_chart_png(curves, title=f"Backtest #{backtest_id}"))


class BacktestAllocationChartApi(_ChartApi):
    @extend_schema(
        operation_id="backtests_allocation_chart",
        parameters=[ID_PARAMETER],
        responses=PNG_RESPONSES,
    )
    def get(self, request: Request, backtest_id: str) -> HttpResponse:
        series = selectors.backtest_series_get(owner=request.user, backtest_id=_id(backtest_id))
        name, weights = selectors.series_weights_frame(series)
        return self._png(
            charts.allocation_chart_png(weights, title=f"Backtest #{backtest_id}: {name}")
        )
