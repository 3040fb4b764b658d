"""API routes of this app, included under /api/v1/ by the root urls."""

from django.urls import path

from marketdata import apis

urlpatterns = [
    path("market/assets", apis.AssetListApi.as_view(), name="market-assets"),
    path("market/data/<str:symbol>", apis.MarketDataApi.as_view(), name="market-data"),
]
