"""API routes of this app, included under /api/v1/ by the root urls."""

from django.urls import path

from portfolios.apis import optimize

urlpatterns: list = [
    path("optimize", optimize.OptimizeApi.as_view(), name="optimize"),
]
