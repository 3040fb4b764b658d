"""Market endpoints: ``market/assets`` (searchable, paginated) and ``market/data/{symbol}``
(OHLCV with adjusted close, daily/weekly/monthly)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.read_cache import CACHED_READ_EXTENSION, IF_NONE_MATCH, NOT_MODIFIED, cached_read
from marketdata.models import Asset, AssetClass
from marketdata.selectors import (
    asset_get,
    asset_last_bar_date_get,
    asset_list,
    bars_get,
    price_revision_get,
)

DEFAULT_WINDOW = dt.timedelta(days=365)


class AssetOutputSerializer(serializers.ModelSerializer):
    esg_flags = serializers.ListField(
        child=serializers.CharField(), help_text='Exclusion flags, e.g. "tobacco", "weapons", "fossil_fuels".'
    )

    class Meta:
        model = Asset
        fields = ["symbol", "name", "asset_class", "sector", "currency", "esg_score", "esg_flags", "is_active"]
        read_only_fields = fields


class AssetFilterSerializer(serializers.Serializer):
    asset_class = serializers.ChoiceField(choices=AssetClass.choices, required=False)
    sector = serializers.CharField(required=False, max_length=64, help_text="Exact sector, case-insensitive.")
    search = serializers.CharField(required=False, max_length=100, help_text="Part of the symbol or name.")


class AssetListApi(generics.ListAPIView):
    serializer_class = AssetOutputSerializer

    @extend_schema(
        operation_id="market_assets_list",
        parameters=[AssetFilterSerializer],
        responses={200: AssetOutputSerializer(many=True)},
        examples=[
            OpenApiExample(
                "An equity",
                response_only=True,
                value={
                    "count": 1,
                    "next": None,
                    "previous": None,
                    "results": [
                        {
                            "symbol": "SMKE",
                            "name": "Ember Tobacco",
                            "asset_class": "equity",
                            "sector": "consumer_staples",
                            "currency": "USD",
                            "esg_score": 18.0,
                            "esg_flags": ["tobacco"],
                            "is_active": True,
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = AssetFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return asset_list(**filters.validated_data)


class BarOutputSerializer(serializers.Serializer):
    date = serializers.DateField(help_text="Trading day (weekly/monthly: the period's last trading day).")
    open = serializers.DecimalField(max_digits=18, decimal_places=6)
    high = serializers.DecimalField(max_digits=18, decimal_places=6)
    low = serializers.DecimalField(max_digits=18, decimal_places=6)
    close = serializers.DecimalField(max_digits=18, decimal_places=6)
    adj_close = serializers.DecimalField(
        max_digits=18, decimal_places=6, help_text="Close adjusted for splits and dividends."
    )
    volume = serializers.IntegerField(min_value=0)


class MarketDataOutputSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    currency = serializers.CharField()
    interval = serializers.ChoiceField(choices=["daily", "weekly", "monthly"])
    start = serializers.DateField()
    end = serializers.DateField()
    bars = BarOutputSerializer(many=True)


class MarketDataApi(APIView):
    class FilterSerializer(serializers.Serializer):
        start = serializers.DateField(
            required=False, help_text="First day (YYYY-MM-DD, inclusive). Default: one year before `end`."
        )
        end = serializers.DateField(
            required=False, help_text="Last day (YYYY-MM-DD, inclusive). Default: the asset's last bar."
        )
        interval = serializers.ChoiceField(choices=["daily", "weekly", "monthly"], default="daily", required=False)

        def validate(self, attrs):
            start, end = attrs.get("start"), attrs.get("end")
            if start and end and end < start:
                raise serializers.ValidationError({"end": "end must not be before start."}, code="inverted_range")
            return attrs

    @extend_schema(
        operation_id="market_data_retrieve",
        parameters=[
            OpenApiParameter("symbol", OpenApiTypes.STR, OpenApiParameter.PATH, description="Asset symbol, e.g. ORBT."),
            FilterSerializer,
            IF_NONE_MATCH,
        ],
        responses={200: MarketDataOutputSerializer, **NOT_MODIFIED},
        extensions=CACHED_READ_EXTENSION,
        examples=[
            OpenApiExample(
                "Two daily bars",
                response_only=True,
                value={
                    "symbol": "ORBT",
                    "currency": "USD",
                    "interval": "daily",
                    "start": "2024-01-02",
                    "end": "2024-01-03",
                    "bars": [
                        {"date": "2024-01-02", "open": "150.120000", "high": "152.300000", "low": "149.800000",
                         "close": "151.900000", "adj_close": "151.900000", "volume": 8123400},
                        {"date": "2024-01-03", "open": "151.700000", "high": "153.050000", "low": "150.900000",
                         "close": "152.640000", "adj_close": "152.640000", "volume": 7350100},
                    ],
                },
            )
        ],
    )
    def get(self, request: Request, symbol: str) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        asset = asset_get(symbol=symbol)
        # the same for every user: the bars (revision), the asset, and today when it has none
        return cached_read(request, endpoint="market_data", per_user=False,
                           version=lambda: (asset.pk, price_revision_get(), timezone.localdate()),
                           compute=lambda: self._payload(asset, filters.validated_data))

    @staticmethod
    def _payload(asset: Asset, query: dict) -> dict:
        symbol = asset.symbol
        end = query.get("end") or asset_last_bar_date_get(symbol=symbol) or timezone.localdate()
        start = query.get("start")
        if start is None:
            start = end - DEFAULT_WINDOW if end > dt.date.min + DEFAULT_WINDOW else dt.date.min
            start = min(start, end)
        interval = query.get("interval", "daily")
        bars = bars_get(symbol=symbol, start=start, end=end, interval=interval)
        payload = {
            "symbol": asset.symbol,
            "currency": asset.currency,
            "interval": interval,
            "start": start,
            "end": end,
            "bars": bars,
        }
        return MarketDataOutputSerializer(payload).data
