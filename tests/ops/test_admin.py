"""The admin: audit records and the autopilot's records cannot be deleted; operator actions
in the admin ask why and are audited; an agent's status is read-only."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site

from mlagents.models import AgentModel
from portfolios.models import AutonomySettings, Decision, Trade
from rebalancer.autopilot.models import CycleRun, KillSwitch
from rebalancer.ops.models import AuditRecord
from risk.models import RiskAlert
from tests.ops.conftest import AS_OF

pytestmark = pytest.mark.django_db


@pytest.fixture
def audit_record(operator):
    from rebalancer.ops.services.actions import kill_switch_flip

    kill_switch_flip(user=operator, mode="halt", reason="outage")
    return AuditRecord.objects.get()


def test_admin_refuses_to_delete_an_audit_record(staff_client, audit_record):
    # when the operator tries the delete page and the bulk delete action
    page = staff_client.get(f"/admin/ops/auditrecord/{audit_record.pk}/delete/")
    bulk = staff_client.post("/admin/ops/auditrecord/", {"action": "delete_selected",
                                                        "_selected_action": [audit_record.pk], "post": "yes"})
    # then both are refused and the record is still there
    assert page.status_code == 403
    assert bulk.status_code in (200, 302)
    assert AuditRecord.objects.filter(pk=audit_record.pk).exists()
    assert "delete_selected" not in site._registry[AuditRecord].get_actions(page.wsgi_request)


def test_admin_refuses_to_change_an_audit_record(staff_client, audit_record):
    response = staff_client.post(f"/admin/ops/auditrecord/{audit_record.pk}/change/", {"reason": "rewritten"})
    assert response.status_code == 403
    assert AuditRecord.objects.get().reason == "outage"


@pytest.mark.parametrize("model", [Decision, Trade, CycleRun, RiskAlert, AuditRecord])
def test_records_of_what_happened_are_not_deletable_in_the_admin(rf, operator, model):
    request = rf.get("/admin/")
    request.user = operator
    assert site._registry[model].has_delete_permission(request) is False


def test_a_decision_delete_page_is_forbidden(staff_client, invested):
    decision = Decision.objects.get(portfolio=invested)
    assert staff_client.get(f"/admin/portfolios/decision/{decision.pk}/delete/").status_code == 403
    assert Decision.objects.filter(pk=decision.pk).exists()


def test_a_cycle_run_delete_page_is_forbidden(staff_client, invested):
    run = CycleRun.objects.get(portfolio=invested)
    assert staff_client.get(f"/admin/autopilot/cyclerun/{run.pk}/delete/").status_code == 403
    assert CycleRun.objects.filter(pk=run.pk).exists()


def test_agent_status_is_read_only_in_the_admin(staff_client):
    agent = AgentModel.objects.create(algorithm="dqn", version=1, universe=["AAA"], progress=1.0)
    page = staff_client.get(f"/admin/mlagents/agentmodel/{agent.pk}/change/")
    assert page.status_code == 200
    assert "status" not in page.context["adminform"].form.fields
    staff_client.post(f"/admin/mlagents/agentmodel/{agent.pk}/change/", {"status": "active"})
    agent.refresh_from_db()
    assert agent.status == "candidate"


def test_admin_actions_ask_why_before_acting(staff_client, portfolio_make):
    # given a portfolio
    p = portfolio_make()
    # when the pause action is chosen without a reason
    page = staff_client.post("/admin/portfolios/portfolio/", {"action": "pause_autonomy", "_selected_action": [p.pk]})
    # then the admin asks why, and nothing changed
    assert page.status_code == 200
    assert b'name="reason"' in page.content
    assert AutonomySettings.objects.get(portfolio=p).enabled is True
    # when confirmed with a blank reason: asked again
    again = staff_client.post("/admin/portfolios/portfolio/", {"action": "pause_autonomy", "_selected_action": [p.pk],
                                                              "confirm": "1", "reason": " "})
    assert again.status_code == 200 and b"the reason is required" in again.content
    # when confirmed with a reason: done and audited
    done = staff_client.post("/admin/portfolios/portfolio/", {"action": "pause_autonomy", "_selected_action": [p.pk],
                                                             "confirm": "1", "reason": "fraud check"})
    assert done.status_code == 302
    assert AutonomySettings.objects.get(portfolio=p).enabled is False
    assert AuditRecord.objects.get().action == "autonomy_pause"


def test_resume_action_in_the_admin(staff_client, portfolio_make):
    p = portfolio_make(enabled=False)
    staff_client.post("/admin/portfolios/portfolio/", {"action": "resume_autonomy", "_selected_action": [p.pk],
                                                      "confirm": "1", "reason": "cleared"})
    assert AutonomySettings.objects.get(portfolio=p).enabled is True
    assert AuditRecord.objects.get().after["enabled"] is True


def test_run_cycle_now_in_the_admin_is_audited(staff_client, portfolio_make):
    p = portfolio_make()
    staff_client.post("/admin/portfolios/portfolio/", {"action": "run_cycle_now", "_selected_action": [p.pk],
                                                      "confirm": "1", "reason": "new money"})
    record = AuditRecord.objects.get(action="cycle_run")
    assert record.after[str(p.pk)] == {"status": "done", "action": "rebalance", "trades": 4}
    assert CycleRun.objects.get(portfolio=p, as_of=AS_OF).status == "done"


def test_approve_for_the_investor_from_the_decision_admin(staff_client, operator, portfolio_make):
    from rebalancer.autopilot.services import cycle_run

    p = portfolio_make(mode="advise")
    decision_id = cycle_run(portfolio_id=p.pk, as_of=AS_OF).decision_id
    staff_client.post("/admin/portfolios/decision/", {"action": "approve_for_investor",
                                                     "_selected_action": [decision_id], "confirm": "1",
                                                     "reason": "on the phone"})
    decision = Decision.objects.get(pk=decision_id)
    assert (decision.status, decision.decided_by) == ("executed", operator)
    assert AuditRecord.objects.get().action == "proposal_approve"


def test_kill_switch_admin_requires_a_reason_and_audits_the_flip(staff_client, operator):
    blank = staff_client.post("/admin/autopilot/killswitch/add/", {"mode": "halt", "reason": ""})
    assert blank.status_code == 200  # the form with its error
    assert not KillSwitch.objects.filter(mode="halt").exists()
    done = staff_client.post("/admin/autopilot/killswitch/add/", {"mode": "halt", "reason": "broker outage"})
    assert done.status_code == 302
    assert KillSwitch.objects.get(pk=1).updated_by == operator
    record = AuditRecord.objects.get()
    assert (record.before["mode"], record.after["mode"]) == ("off", "halt")
