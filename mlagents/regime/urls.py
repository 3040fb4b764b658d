"""API routes of this app, included under /api/v1/ by the root urls."""

from django.urls import path

from mlagents.regime import apis

urlpatterns = [
    path("market/regime", apis.RegimeApi.as_view(), name="market-regime"),
]
