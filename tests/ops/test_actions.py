"""Operator actions from the console: each works for staff, writes an audit record, and
refuses bad input with a 4xx that changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.base import ContentFile

from mlagents.models import AgentModel, AgentStatus
from portfolios.models import AutonomySettings, Decision, Trade
from rebalancer.autopilot.models import CycleRun, KillSwitch
from rebalancer.ops.models import AuditRecord
from tests.ops.conftest import AS_OF

pytestmark = pytest.mark.django_db


# --- kill switch -----------------------------------------------------------------------------


def test_operator_flips_the_kill_switch_with_a_reason_and_it_is_audited(staff_client, operator):
    # when the operator halts trading
    response = staff_client.post("/ops/kill-switch/", {"mode": "halt", "reason": "broker outage"})
    # then the switch is halted, by them, and the audit says before → after and why
    assert response.status_code == 302
    switch = KillSwitch.objects.get(pk=1)
    assert (switch.mode, switch.reason, switch.updated_by) == ("halt", "broker outage", operator)
    record = AuditRecord.objects.get()
    assert (record.action, record.actor, record.actor_email) == ("kill_switch", operator, "ops@example.com")
    assert (record.before["mode"], record.after["mode"], record.reason) == ("off", "halt", "broker outage")
    assert record.outcome == "done"


@pytest.mark.parametrize("data", [{"mode": "halt", "reason": "  "}, {"mode": "halt"}, {"mode": "boom", "reason": "x"}])
def test_kill_switch_without_a_reason_or_with_a_bad_mode_is_a_400_and_changes_nothing(staff_client, data):
    response = staff_client.post("/ops/kill-switch/", data)
    assert response.status_code == 400
    assert not KillSwitch.objects.filter(mode="halt").exists()
    assert AuditRecord.objects.count() == 0


def test_the_service_refuses_a_flip_without_an_operator(db):
    from common.errors import ApplicationError
    from rebalancer.ops.services.actions import kill_switch_flip

    with pytest.raises(ApplicationError) as raised:
        kill_switch_flip(user=None, mode="halt", reason="x")
    assert raised.value.status_code == 403
    assert not KillSwitch.objects.filter(mode="halt").exists()


def test_an_investor_cannot_flip_the_kill_switch(investor_session):
    response = investor_session.post("/ops/kill-switch/", {"mode": "halt", "reason": "mine"})
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert not KillSwitch.objects.filter(mode="halt").exists()
    assert AuditRecord.objects.count() == 0


# --- autonomy -------------------------------------------------------------------------------------


def test_pause_then_resume_autonomy_records_each_portfolio(staff_client, portfolio_make):
    # given two portfolios under autonomy
    a, b = portfolio_make(), portfolio_make()
    # when the operator pauses both, then resumes one
    r1 = staff_client.post("/ops/autonomy/", {"portfolio_ids": f"{a.pk}, {b.pk}", "action": "pause",
                                             "reason": "suspicious deposits"})
    r2 = staff_client.post("/ops/autonomy/", {"portfolio_ids": str(a.pk), "action": "resume", "reason": "cleared"})
    # then
    assert (r1.status_code, r2.status_code) == (302, 302)
    states = dict(AutonomySettings.objects.values_list("portfolio_id", "enabled"))
    assert states == {a.pk: True, b.pk: False}
    assert AutonomySettings.objects.get(portfolio=b).paused_reason == "paused by ops@example.com: suspicious deposits"
    records = list(AuditRecord.objects.order_by("id").values_list("action", "target_id", "before", "after"))
    assert [(r[0], r[1], r[2]["enabled"], r[3]["enabled"]) for r in records] == [
        ("autonomy_pause", str(a.pk), True, False),
        ("autonomy_pause", str(b.pk), True, False),
        ("autonomy_resume", str(a.pk), False, True),
    ]


@pytest.mark.parametrize(("ids", "status"), [("abc", 400), ("", 400), ("-3", 400), ("999999", 404)])
def test_autonomy_with_bad_ids_is_a_4xx_and_changes_nothing(staff_client, portfolio_make, ids, status):
    p = portfolio_make()
    response = staff_client.post("/ops/autonomy/", {"portfolio_ids": ids, "action": "pause", "reason": "x"})
    assert response.status_code == status
    assert AutonomySettings.objects.get(portfolio=p).enabled is True
    assert not AuditRecord.objects.filter(outcome="done").exists()


# --- cycles ----------------------------------------------------------------------------------------


def test_retry_re_enqueues_the_failed_and_pending_cycles_of_a_date(
    staff_client, portfolio_make, enqueued, django_capture_on_commit_callbacks
):
    # given a failed, a pending and a done cycle on AS_OF
    failed, pending, done = portfolio_make(), portfolio_make(), portfolio_make()
    CycleRun.objects.create(portfolio=failed, as_of=AS_OF, status="failed", error="boom")
    CycleRun.objects.create(portfolio=pending, as_of=AS_OF, status="pending")
    CycleRun.objects.create(portfolio=done, as_of=AS_OF, status="done", action="hold")
    # when the operator retries them
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/ops/cycles/retry/", {
            "as_of": AS_OF.isoformat(), "statuses": ["failed", "pending"], "reason": "worker crashed"})
    # then one chunk of the two is enqueued, and audited
    assert response.status_code == 302
    assert enqueued == [("chunk", {"portfolio_ids": sorted([failed.pk, pending.pk]), "as_of": AS_OF.isoformat()})]
    record = AuditRecord.objects.get(action="cycles_retry")
    assert (record.before, record.after["enqueued"], record.target_id) == (
        {"failed": 1, "pending": 1}, 2, AS_OF.isoformat())


def test_retry_runs_the_cycles_when_tasks_run_in_process(
    staff_client, portfolio_make, django_capture_on_commit_callbacks
):
    # given a failed cycle (tasks eager in the tests)
    p = portfolio_make()
    CycleRun.objects.create(portfolio=p, as_of=AS_OF, status="failed", error="boom")
    # when retried
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post("/ops/cycles/retry/", {"as_of": AS_OF.isoformat(), "statuses": ["failed"], "reason": "retry"})
    # then it ran once and traded
    run = CycleRun.objects.get(portfolio=p, as_of=AS_OF)
    assert (run.status, run.action) == ("done", "rebalance")
    assert Trade.objects.filter(portfolio=p).count() == 4


@pytest.mark.parametrize(("data", "status"), [
    ({"as_of": "2024-05-15", "statuses": ["failed"], "reason": "x"}, 404),  # nothing failed that day
    ({"as_of": "not-a-date", "statuses": ["failed"], "reason": "x"}, 400),
    ({"as_of": "2024-05-15", "statuses": ["done"], "reason": "x"}, 400),
    ({"as_of": "2024-05-15", "statuses": ["failed"], "reason": ""}, 400),
])
def test_retry_with_bad_input_is_a_4xx(staff_client, portfolio_make, enqueued, data, status):
    portfolio_make()
    assert staff_client.post("/ops/cycles/retry/", data).status_code == status
    assert enqueued == []


# --- proposals ----------------------------------------------------------------------------------------


@pytest.fixture
def proposal(portfolio_make):
    from rebalancer.autopilot.services import cycle_run

    p = portfolio_make(mode="advise")
    result = cycle_run(portfolio_id=p.pk, as_of=AS_OF)
    assert result.action == "proposed"
    return Decision.objects.get(pk=result.decision_id)


def test_operator_approves_a_proposal_for_the_investor_and_it_is_audited(staff_client, operator, proposal):
    # when the operator approves on the investor's behalf
    response = staff_client.post(f"/ops/proposals/{proposal.pk}/",
                                 {"decision": "approve", "reason": "investor asked by phone"})
    # then the trades executed once, decided by the operator, and the audit has before → after
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by) == ("executed", operator)
    assert Trade.objects.filter(decision=proposal).count() == 4
    record = AuditRecord.objects.get(action="proposal_approve")
    assert (record.target_id, record.before["status"], record.after["status"]) == (
        str(proposal.pk), "proposed", "executed")
    assert (record.after["decided_by"], record.reason, record.outcome) == (
        "ops@example.com", "investor asked by phone", "done")


def test_operator_rejects_a_proposal_for_the_investor(staff_client, operator, proposal):
    response = staff_client.post(f"/ops/proposals/{proposal.pk}/", {"decision": "reject", "reason": "too risky"})
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by) == ("rejected", operator)
    assert "too risky" in proposal.status_reason
    assert Trade.objects.filter(decision=proposal).count() == 0
    assert AuditRecord.objects.get().action == "proposal_reject"


def test_approving_twice_is_a_409_recorded_as_refused(staff_client, proposal):
    staff_client.post(f"/ops/proposals/{proposal.pk}/", {"decision": "approve", "reason": "ok"})
    response = staff_client.post(f"/ops/proposals/{proposal.pk}/", {"decision": "approve", "reason": "again"})
    assert response.status_code == 409
    assert Trade.objects.filter(decision=proposal).count() == 4
    outcomes = list(AuditRecord.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["done", "refused"]
    assert "only proposed decisions" in AuditRecord.objects.order_by("id").last().detail


def test_an_unknown_proposal_is_a_404(staff_client, db):
    assert staff_client.post("/ops/proposals/987654/", {"decision": "approve", "reason": "x"}).status_code == 404


# --- agents ---------------------------------------------------------------------------------------------


def _agent(algorithm="ppo", version=1, *, status=AgentStatus.CANDIDATE, sharpe=1.0, baseline=0.5, activated=None):
    agent = AgentModel.objects.create(
        algorithm=algorithm, version=version, status=status, universe=["AAA", "BBB"], sharpe_ratio=sharpe,
        evaluation={"agent": {"sharpe_ratio": sharpe}, "baselines": {"equal_weight": {"sharpe_ratio": baseline}}},
        progress=1.0, activated_at=activated,
    )
    agent.artifact.save(f"{algorithm}_v{version}_test.pt", ContentFile(b"x"), save=True)
    return agent


def test_promotion_through_the_gate_activates_the_candidate_and_is_audited(staff_client, operator):
    from django.utils import timezone

    # given an active model and a better candidate (the gate compares stored held-out metrics here)
    old = _agent(version=1, status=AgentStatus.ACTIVE, sharpe=0.8, activated=timezone.now())
    new = _agent(version=2, sharpe=1.2)
    # when the operator promotes the candidate
    response = staff_client.post(f"/ops/agents/{new.pk}/promote/", {"reason": "reviewed the evaluation"})
    # then the gate passed it: it is active, the old one retired, and the audit says so
    assert response.status_code == 302
    new.refresh_from_db(), old.refresh_from_db()
    assert (new.status, old.status) == ("active", "retired")
    assert "beats" in new.promotion_reason
    record = AuditRecord.objects.get(action="agent_promote")
    assert (record.before["active"]["version"], record.after["active"]["version"]) == (1, 2)
    assert record.after["retired"]["version"] == 1


def test_the_gate_refuses_a_candidate_below_a_baseline_409_and_nothing_changes(staff_client):
    loser = _agent(version=1, sharpe=0.2, baseline=0.5)
    response = staff_client.post(f"/ops/agents/{loser.pk}/promote/", {"reason": "let us try"})
    assert response.status_code == 409
    loser.refresh_from_db()
    assert loser.status == "candidate"
    assert "below baseline" in loser.promotion_reason
    record = AuditRecord.objects.get()
    assert (record.outcome, record.action) == ("refused", "agent_promote")


def test_rollback_reactivates_the_replaced_model_through_the_gate(staff_client):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    previous = _agent(version=1, status=AgentStatus.RETIRED, sharpe=0.9, activated=now - timedelta(days=7))
    current = _agent(version=2, status=AgentStatus.ACTIVE, sharpe=1.1, activated=now - timedelta(days=1))
    response = staff_client.post("/ops/agents/rollback/", {"algorithm": "ppo", "reason": "v2 misbehaves live"})
    assert response.status_code == 302
    previous.refresh_from_db(), current.refresh_from_db()
    assert (previous.status, current.status) == ("active", "retired")
    record = AuditRecord.objects.get(action="agent_rollback")
    assert (record.before["active"]["version"], record.after["active"]["version"]) == (2, 1)


def test_rollback_without_a_previous_model_is_a_409(staff_client):
    from django.utils import timezone

    only = _agent(version=1, status=AgentStatus.ACTIVE, activated=timezone.now())
    assert staff_client.post("/ops/agents/rollback/", {"algorithm": "ppo", "reason": "x"}).status_code == 409
    only.refresh_from_db()
    assert only.status == "active"


def test_promoting_an_unknown_agent_is_a_404(staff_client):
    assert staff_client.post("/ops/agents/424242/promote/", {"reason": "x"}).status_code == 404


# --- audit trail page -------------------------------------------------------------------------------------


def test_audit_page_lists_and_filters_records_and_rejects_an_unknown_filter(staff_client):
    staff_client.post("/ops/kill-switch/", {"mode": "defensive", "reason": "crash"})
    page = staff_client.get("/ops/audit/?action=kill_switch")
    assert page.status_code == 200
    assert "crash" in page.content.decode()
    assert staff_client.get("/ops/audit/?action=nope").status_code == 400
    assert staff_client.get("/ops/audit/?page=abc").status_code == 200


def test_audit_records_are_append_only(staff_client):
    from rebalancer.ops.models import AppendOnlyError

    staff_client.post("/ops/kill-switch/", {"mode": "halt", "reason": "outage"})
    record = AuditRecord.objects.get()
    record.reason = "something else"
    with pytest.raises(AppendOnlyError):
        record.save()
    with pytest.raises(AppendOnlyError):
        record.delete()
    assert AuditRecord.objects.get().reason == "outage"


def test_money_in_the_audit_is_json(staff_client, proposal):
    # the before/after snapshots are plain JSON (decimals and dates serialised)
    from rebalancer.ops.services.audit import _jsonable

    assert _jsonable({"cash": Decimal("1.50"), "on": AS_OF}) == {"cash": "1.50", "on": "2024-05-15"}
