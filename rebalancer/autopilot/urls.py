"""API routes of this app, included under /api/v1/ by the root urls."""

from django.urls import path

from rebalancer.autopilot import apis

urlpatterns = [
    path("rebalance/predict", apis.RebalancePredictApi.as_view(), name="rebalance-predict"),
]
