"""Admin: the kill switch flipped by an operator, portfolio actions run a cycle or pause."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site

from portfolios.models import AutonomySettings, Portfolio, Trade
from rebalancer.autopilot.models import CycleRun, KillSwitch

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db):
    from users.models import User

    return User.objects.create_superuser(email="ops@example.com", password="pw-123456789")


@pytest.fixture
def admin_client(client, operator):
    client.force_login(operator)
    return client


def test_operator_flips_the_kill_switch(admin_client, operator):
    # when the operator saves the kill switch in halt mode
    response = admin_client.post(
        "/admin/autopilot/killswitch/add/", {"mode": "halt", "reason": "broker outage"}
    )
    # then it is stored with who flipped it
    assert response.status_code == 302
    switch = KillSwitch.objects.get(pk=1)
    assert (switch.mode, switch.reason, switch.updated_by) == ("halt", "broker outage", operator)


def test_portfolio_admin_has_the_autopilot_actions():
    actions = site._registry[Portfolio].actions
    assert {"run_cycle_now", "pause_autonomy"} <= {getattr(a, "__name__", a) for a in actions}


def test_run_cycle_action_executes_for_selected_portfolios(admin_client, portfolio_make):
    # given an autopilot portfolio
    p = portfolio_make()
    # when the operator runs a cycle for it from the changelist
    response = admin_client.post(
        "/admin/portfolios/portfolio/",
        {"action": "run_cycle_now", "_selected_action": [p.pk], "confirm": "1", "reason": "check it trades"},
    )
    # then the cycle ran and traded
    assert response.status_code == 302
    assert CycleRun.objects.get(portfolio=p).status == "done"
    assert Trade.objects.filter(portfolio=p).count() == 4


def test_pause_action_switches_autonomy_off(admin_client, portfolio_make):
    # given two portfolios
    p, other = portfolio_make(), portfolio_make()
    # when one is paused
    admin_client.post("/admin/portfolios/portfolio/", {"action": "pause_autonomy", "_selected_action": [p.pk],
                                                       "confirm": "1", "reason": "investor asked"})
    # then only that one is off
    assert AutonomySettings.objects.get(portfolio=p).enabled is False
    assert AutonomySettings.objects.get(portfolio=other).enabled is True


def test_the_kill_switch_list_shows_one_row_created_off(admin_client):
    # given no kill switch row yet
    assert not KillSwitch.objects.exists()
    # when the operator opens the kill switch list twice
    first = admin_client.get("/admin/autopilot/killswitch/")
    second = admin_client.get("/admin/autopilot/killswitch/")
    # then there is exactly one row, off, to flip
    assert (first.status_code, second.status_code) == (200, 200)
    assert list(KillSwitch.objects.values_list("pk", "mode")) == [(1, KillSwitch.Mode.OFF)]
