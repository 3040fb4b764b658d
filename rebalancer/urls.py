"""Root URLs: the admin, the versioned API under ``/api/v1/`` (one include per app), the
operator's console under ``/ops/`` and Prometheus' ``/metrics``."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from common.views import api_route_not_found
from rebalancer.health import HealthApi
from rebalancer.ops.views import metrics

api_v1 = [
    path("health/", HealthApi.as_view(), name="health"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Split view: the page's script is served from docs/?script (CSP script-src 'self').
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("", include("users.urls")),
    path("", include("marketdata.urls")),
    path("", include("portfolios.urls")),
    path("", include("risk.urls")),
    path("", include("mlagents.urls")),
    path("", include("mlagents.regime.urls")),
    path("", include("rebalancer.autopilot.urls")),
    path("", include("rebalancer.backtests.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("ops/", include("rebalancer.ops.urls")),
    path("metrics", metrics, name="metrics"),
    # Anything else under /api/ (a typo, a trailing slash) is the API's JSON 404, DEBUG or not.
    re_path(r"^api/(?P<path>.*)$", api_route_not_found, name="api-not-found"),
]

admin.site.site_header = "Autopilot rebalancer — operations"
admin.site.site_title = "Rebalancer admin"

# URLs that match no route (a malformed id, a typo) get the API's JSON error shape.
handler400 = "common.views.bad_request"
handler404 = "common.views.not_found"
handler500 = "common.views.server_error"
