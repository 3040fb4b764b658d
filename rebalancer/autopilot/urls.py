"""API routes of this app, included under /api/v1/ by the root urls."""

from django.urls import path

from rebalancer.autopilot import apis, apis_notifications

urlpatterns = [
    path("rebalance/predict", apis.RebalancePredictApi.as_view(), name="rebalance-predict"),
    path("notifications", apis_notifications.NotificationListApi.as_view(), name="notifications"),
    path(
        "notifications/preferences", apis_notifications.NotificationPreferencesApi.as_view(),
        name="notifications-preferences",
    ),
    path("notifications/read", apis_notifications.NotificationReadAllApi.as_view(), name="notifications-read-all"),
    path("notifications/<int:id>/read", apis_notifications.NotificationReadApi.as_view(), name="notification-read"),
]
