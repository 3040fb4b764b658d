"""/metrics: Prometheus text parsed with prometheus_client's parser; the token."""

from __future__ import annotations

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from mlagents.models import AgentModel
from risk.models import RiskAlert, RiskSnapshot

pytestmark = pytest.mark.django_db

NAMED = [
    "django_http_requests_latency_seconds_by_view_method",  # django-prometheus: latency per view
    "django_http_requests_total_by_view_transport_method",
    "rebalancer_cycle_duration_seconds", "rebalancer_cycle_runs", "rebalancer_portfolios",
    "rebalancer_assets_under_management", "rebalancer_decisions", "rebalancer_risk_alerts_open",
    "rebalancer_data_age_days", "rebalancer_agent_confidence", "rebalancer_primal_dual_lambda",
    "rebalancer_portfolio_cvar", "rebalancer_celery_queue_length", "rebalancer_celery_task_failures",
    "rebalancer_kill_switch", "rebalancer_sweeper_actions_24h", "rebalancer_metrics_collect_errors",
]


def _samples(text: str) -> dict[str, list]:
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


@pytest.fixture
def world(invested):
    # an open alert, a risk snapshot, an active primal-dual agent with its λ
    RiskAlert.objects.create(portfolio=invested, rule="drawdown", severity="critical", action="risk_override",
                             value=0.3, limit=0.2, message="dd", last_seen_at=timezone.now())
    RiskSnapshot.objects.create(portfolio=invested, date=invested.decisions.get().as_of, var_1d=0.02, var_5d=0.05,
                                expected_shortfall=0.031)
    AgentModel.objects.create(algorithm="primal_dual", version=1, status="active", universe=["AAA"], progress=1.0,
                              sharpe_ratio=1.1, evaluation={"training": {"lambda_cvar": 0.25, "lambda_turnover": 0.5,
                                                                         "lambda_concentration": 0.0,
                                                                         "lambda_loss": 3.0}})
    return invested


def test_metrics_has_every_named_series_with_the_numbers(client, world):
    # given a request first, so django-prometheus has a view to report
    client.get("/api/v1/health/")
    # when scraped (no METRICS_TOKEN in the tests: open)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = _samples(response.content.decode())
    # then every named series is there
    missing = [name for name in NAMED if name not in samples]
    assert missing == []
    value = {(s.name, tuple(sorted(s.labels.items()))): s.value for ss in samples.values() for s in ss}
    assert value[("rebalancer_cycle_runs", (("action", "rebalance"), ("status", "done")))] == 1
    assert value[("rebalancer_portfolios", (("state", "autopilot"),))] == 1
    assert value[("rebalancer_decisions", (("status", "executed"),))] == 1
    assert value[("rebalancer_risk_alerts_open", (("rule", "drawdown"), ("severity", "critical")))] == 1
    assert value[("rebalancer_primal_dual_lambda", (("constraint", "cvar"),))] == 0.25
    assert value[("rebalancer_primal_dual_lambda", (("constraint", "turnover"),))] == 0.5
    assert ("rebalancer_primal_dual_lambda", (("constraint", "loss"),)) not in value
    assert value[("rebalancer_portfolio_cvar", (("stat", "max"),))] == pytest.approx(0.031)
    assert value[("rebalancer_kill_switch", (("mode", "off"),))] == 1
    assert value[("rebalancer_metrics_collect_errors", ())] == 0
    from rebalancer.ops.selectors import aum_get

    assert value[("rebalancer_assets_under_management", ())] == pytest.approx(float(aum_get()))
    assert value[("rebalancer_data_age_days", (("asset_class", "equity"),))] >= 0
    confidence = [k for k in value if k[0] == "rebalancer_agent_confidence"]
    assert confidence == [("rebalancer_agent_confidence", (("strategy", "equal_weight"),))]


def test_task_failures_are_counted(client, db):
    from rebalancer.ops.logs import on_task_failure

    class Task:
        name = "autopilot.cycle_run_chunk_task"

    on_task_failure(sender=Task())
    on_task_failure(sender=Task())
    samples = _samples(client.get("/metrics").content.decode())
    failures = {s.labels["task"]: s.value for s in samples["rebalancer_celery_task_failures"]
                if s.name.endswith("_total")}
    assert failures == {"autopilot.cycle_run_chunk_task": 2}


def test_metrics_need_the_bearer_token_when_one_is_set(client, db, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic s3cret-token").status_code == 401
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert ok.status_code == 200 and b"rebalancer_portfolios" in ok.content


def test_metrics_are_closed_without_a_token_in_production(client, db, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_OPEN_WITHOUT_TOKEN = False
    assert client.get("/metrics").status_code == 403


def test_metrics_refuse_other_methods(client, db):
    assert client.post("/metrics").status_code == 405
