"""GET /api/v1/market/regime: the current market regime and its history."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import MAX_PAGE_SIZE, Pagination, error_responses
from mlagents.regime.models import Regime
from mlagents.regime.selectors import reference_market_get, regime_current_get, regime_history_list


class ProbabilitiesSerializer(serializers.Serializer):
    bull = serializers.FloatField(min_value=0, max_value=1)
    bear = serializers.FloatField(min_value=0, max_value=1)
    sideways = serializers.FloatField(min_value=0, max_value=1)


class RegimeDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    regime = serializers.ChoiceField(choices=Regime.choices)
    confidence = serializers.FloatField(min_value=0, max_value=1, help_text="Filtered probability of the regime.")
    probabilities = ProbabilitiesSerializer(help_text="Filtered (causal) probabilities of each regime.")
    features = serializers.DictField(
        child=serializers.FloatField(), help_text="log_return, realized_vol (annualised), trend (annualised)."
    )


class RegimeApi(APIView):
    """The regime called from data up to each day (no look-ahead), newest first."""

    class FilterSerializer(serializers.Serializer):
        market = serializers.SlugField(max_length=32, required=False, default="default")
        start = serializers.DateField(required=False)
        end = serializers.DateField(required=False)

    OutputSerializer = inline_serializer(
        name="MarketRegimeOutput",
        fields={
            "market": serializers.CharField(),
            "as_of": serializers.DateField(allow_null=True, help_text="Day of the latest call."),
            "current_regime": serializers.ChoiceField(choices=Regime.choices, allow_null=True),
            "confidence": serializers.FloatField(allow_null=True),
            "regime_probabilities": ProbabilitiesSerializer(allow_null=True),
            "changed": serializers.BooleanField(help_text="The latest call differs from the one before."),
            "regime_history": inline_serializer(
                name="MarketRegimeHistoryPage",
                fields={
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": RegimeDaySerializer(many=True),
                },
            ),
        },
    )

    @extend_schema(
        operation_id="market_regime",
        parameters=[
            OpenApiParameter("market", OpenApiTypes.STR, description='Reference market (default "default").'),
            OpenApiParameter("start", OpenApiTypes.DATE, description="History from this day (inclusive)."),
            OpenApiParameter("end", OpenApiTypes.DATE, description="History up to this day (inclusive)."),
            OpenApiParameter(
                "page", {"type": "integer", "minimum": 1},
                description="Page of the history (from 1); past the last page is a 400.",
            ),
            OpenApiParameter(
                "page_size", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                description=f"History rows per page (1 to {MAX_PAGE_SIZE}).",
            ),
        ],
        responses={200: OutputSerializer, **error_responses(422)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        market = reference_market_get(name=filters.validated_data["market"])
        history = regime_history_list(
            market=market, start=filters.validated_data.get("start"), end=filters.validated_data.get("end")
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(history, request, view=self)
        current, changed = regime_current_get(market=market)
        return Response(
            {
                "market": market.name,
                "as_of": current.date if current else None,
                "current_regime": current.regime if current else None,
                "confidence": float(current.confidence) if current else None,
                "regime_probabilities": current.probabilities if current else None,
                "changed": changed,
                "regime_history": {
                    "count": paginator.page.paginator.count,
                    "next": paginator.get_next_link(),
                    "previous": paginator.get_previous_link(),
                    "results": RegimeDaySerializer(
                        [
                            {
                                "date": row.date,
                                "regime": row.regime,
                                "confidence": float(row.confidence),
                                "probabilities": row.probabilities,
                                "features": row.features,
                            }
                            for row in page
                        ],
                        many=True,
                    ).data,
                },
            }
        )
