"""Broker orders and execution quality: ``GET portfolios/{id}/orders`` and ``.../execution``.

Both are the owner's only (another user's portfolio is a 404) and read-only. Orders exist
for portfolios on a real broker; the execution report also covers decisions the paper
broker executed (one fill per trade at the close, so its figures are its cost model's).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import Pagination
from common.errors import ValidationFailed
from portfolios import selectors
from portfolios.execution_quality import execution_report_get, orders_list
from portfolios.models import Order

PORTFOLIO_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Portfolio id.")


class OrderFillOutputSerializer(serializers.Serializer):
    quantity = serializers.DecimalField(max_digits=24, decimal_places=8)
    price = serializers.DecimalField(max_digits=20, decimal_places=6)
    executed_at = serializers.DateTimeField()
    trade_id = serializers.IntegerField(help_text="The ledger trade this fill was recorded as.")


class OrderOutputSerializer(serializers.ModelSerializer):
    decision_id = serializers.IntegerField()
    side = serializers.ChoiceField(choices=["buy", "sell"])
    fills = OrderFillOutputSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id", "decision_id", "leg", "client_order_id", "broker", "broker_order_id", "symbol", "side",
            "order_type", "time_in_force", "planned_quantity", "quantity", "limit_price", "decision_price",
            "est_price", "status", "broker_status", "status_reason", "filled_quantity", "filled_avg_price",
            "commission", "submit_after", "submit_attempts", "submitted_at", "first_fill_at", "last_fill_at",
            "final_at", "created_at", "fills",
        ]
        read_only_fields = fields


class OrdersQuerySerializer(serializers.Serializer):
    status = serializers.ListField(child=serializers.ChoiceField(choices=Order.Status.choices), required=False)
    decision = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


def _query(serializer_class: type[serializers.Serializer], request: Request, many: tuple[str, ...] = ()) -> dict:
    data = {key: request.query_params.getlist(key) if key in many else request.query_params.get(key)
            for key in request.query_params}
    query = serializer_class(data=data)
    if not query.is_valid():
        field, messages = next(iter(query.errors.items()))
        detail = messages if isinstance(messages, list) else [str(messages)]
        if isinstance(messages, dict):
            detail = [str(m) for ms in messages.values() for m in ms]
        raise ValidationFailed(" ".join(str(m) for m in detail), code="invalid", field=field)
    return query.validated_data


class OrdersApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="portfolios_orders",
        parameters=[
            PORTFOLIO_ID,
            OpenApiParameter("status", OpenApiTypes.STR, many=True, enum=Order.Status.values,
                             description="Repeatable: only orders in these states."),
            OpenApiParameter("decision", OpenApiTypes.INT, description="Only the orders of this decision."),
        ],
        responses={200: OrderOutputSerializer(many=True)},
        description="The portfolio's broker orders, newest first, with their states and fills. "
        "`pending` is ours (recorded, not sent yet: held for the market's open, or a buy waiting for "
        "its decision's sells); the other states are the broker's.",
    )
    def get(self, request: Request, pk: int) -> Response:
        portfolio = selectors.portfolio_get(owner=request.user, portfolio_id=pk)
        query = _query(OrdersQuerySerializer, request, many=("status",))
        rows = orders_list(portfolio=portfolio, statuses=query.get("status"), decision_id=query.get("decision"))
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(OrderOutputSerializer(page, many=True).data)


class ExecutionQualitySerializer(serializers.Serializer):
    orders = serializers.IntegerField()
    paper_notional = serializers.DecimalField(max_digits=24, decimal_places=4,
                                              help_text="Ordered quantity × decision price.")
    filled_notional = serializers.DecimalField(max_digits=24, decimal_places=4,
                                               help_text="Filled quantity × decision price.")
    execution_cost = serializers.DecimalField(max_digits=24, decimal_places=4,
                                              help_text="±(average fill − decision price) × filled; positive is a cost.")
    commission = serializers.DecimalField(max_digits=24, decimal_places=4)
    opportunity_cost = serializers.DecimalField(max_digits=24, decimal_places=4,
                                                help_text="±(close when the order ended − decision price) × unfilled.")
    shortfall = serializers.DecimalField(max_digits=24, decimal_places=4,
                                         help_text="Implementation shortfall: execution + commission + opportunity.")
    shortfall_bps = serializers.FloatField(allow_null=True, help_text="Shortfall per paper notional, in bps.")
    slippage_bps = serializers.FloatField(allow_null=True, help_text="Execution cost per filled notional, in bps.")
    model_slippage_bps = serializers.FloatField(allow_null=True, help_text="The cost model's slippage (bps).")
    slippage_vs_model_bps = serializers.FloatField(allow_null=True, help_text="Realized minus modelled, in bps.")
    fill_rate = serializers.FloatField(allow_null=True, help_text="Filled / ordered (notional-weighted).")
    time_to_fill_s = serializers.FloatField(allow_null=True, help_text="Submission to last fill, seconds (longest).")
    opportunity_priced = serializers.BooleanField(help_text="False if an unfilled part had no close to price it.")


class OrderExecutionSerializer(serializers.Serializer):
    order_id = serializers.IntegerField(allow_null=True, help_text="Null for a paper-broker trade.")
    trade_id = serializers.IntegerField(allow_null=True, help_text="The paper-broker trade (no order).")
    symbol = serializers.CharField()
    side = serializers.ChoiceField(choices=["buy", "sell"])
    status = serializers.ChoiceField(choices=Order.Status.choices)
    quantity = serializers.DecimalField(max_digits=24, decimal_places=8, help_text="Ordered (the decision's).")
    filled_quantity = serializers.DecimalField(max_digits=24, decimal_places=8)
    decision_price = serializers.DecimalField(max_digits=20, decimal_places=6)
    avg_fill_price = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    quality = ExecutionQualitySerializer()


class DecisionExecutionSerializer(serializers.Serializer):
    decision_id = serializers.IntegerField()
    as_of = serializers.DateField()
    status = serializers.CharField()
    broker = serializers.CharField()
    quality = ExecutionQualitySerializer()
    orders = OrderExecutionSerializer(many=True)


class SlippageFitSerializer(serializers.Serializer):
    slippage_bps = serializers.FloatField(help_text="Fitted proportional slippage (≥ 0) for the cost model.")
    raw_bps = serializers.FloatField()
    orders = serializers.IntegerField()
    notional = serializers.DecimalField(max_digits=24, decimal_places=4)
    residual_bps = serializers.FloatField()


class ExecutionReportSerializer(serializers.Serializer):
    portfolio_id = serializers.IntegerField()
    broker = serializers.CharField()
    totals = ExecutionQualitySerializer()
    calibration = SlippageFitSerializer(allow_null=True, help_text="Slippage fitted from these fills (null: none).")
    decisions = DecisionExecutionSerializer(many=True)


class ExecutionQuerySerializer(serializers.Serializer):
    decision = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, default=50)

    def validate(self, attrs):
        if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": "end is before start"})
        return attrs


class ExecutionApi(APIView):
    @extend_schema(
        operation_id="portfolios_execution",
        parameters=[
            PORTFOLIO_ID,
            OpenApiParameter("decision", OpenApiTypes.INT, description="Only this decision."),
            OpenApiParameter("start", OpenApiTypes.DATE, description="Decisions on or after this date."),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Decisions on or before this date."),
            OpenApiParameter("limit", OpenApiTypes.INT, description="Latest decisions to report (1-200, default 50)."),
        ],
        responses={200: ExecutionReportSerializer},
        description="Execution quality per decision and per order: implementation shortfall against the "
        "decision price, slippage against the cost model, commission, fill rate and time to fill; "
        "`calibration` fits the cost model's slippage from these fills.",
    )
    def get(self, request: Request, pk: int) -> Response:
        portfolio = selectors.portfolio_get(owner=request.user, portfolio_id=pk)
        query = _query(ExecutionQuerySerializer, request)
        report = execution_report_get(
            portfolio=portfolio, decision_id=query.get("decision"), start=query.get("start"),
            end=query.get("end"), limit=query.get("limit", 50),
        )
        return Response(ExecutionReportSerializer(report).data)
