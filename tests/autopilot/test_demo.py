"""The demo step runs one cycle over the demo investor's portfolios and prints the decisions."""

from __future__ import annotations

import io

import pytest

from portfolios.models import Decision
from rebalancer.autopilot.demo import demo_load

pytestmark = pytest.mark.django_db


def test_demo_runs_advise_and_autopilot_portfolios_and_is_idempotent(portfolio_make):
    # given the demo investor's two portfolios (investor@example.com in the tests)
    advised = portfolio_make(mode="advise")
    auto = portfolio_make(mode="autopilot")
    out = io.StringIO()
    # when the demo step runs twice
    demo_load(stdout=out)
    demo_load(stdout=out)
    # then one proposal and one executed decision exist, and both were printed
    assert Decision.objects.get(portfolio=advised).status == Decision.Status.PROPOSED
    assert Decision.objects.get(portfolio=auto).status == Decision.Status.EXECUTED
    text = out.getvalue()
    assert f"#{advised.pk}, advise): done — proposed, 4 proposed trade(s)" in text
    assert f"#{auto.pk}, autopilot): done — rebalance, 4 trade(s)" in text
    assert f"#{auto.pk}, autopilot): already_done — rebalance, 4 trade(s)" in text
    assert "buy" in text
