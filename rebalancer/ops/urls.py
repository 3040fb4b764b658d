"""URLs of the operator's console, under ``/ops/`` (``/metrics`` is in the root urls)."""

from django.urls import path

from rebalancer.ops import views

app_name = "ops"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("charts/<slug:name>.png", views.chart, name="chart"),
    path("kill-switch/", views.kill_switch, name="kill_switch"),
    path("autonomy/", views.autonomy, name="autonomy"),
    path("cycles/retry/", views.cycles_retry, name="cycles_retry"),
    path("proposals/<int:pk>/", views.proposal, name="proposal"),
    path("agents/", views.agents, name="agents"),
    path("agents/<int:pk>/promote/", views.agent_promote, name="agent_promote"),
    path("agents/rollback/", views.agent_rollback, name="agent_rollback"),
    path("audit/", views.audit, name="audit"),
]
