"""The dashboard: staff only, every figure there and linked to a working admin list, charts."""

from __future__ import annotations

import re
from html import unescape

import pytest

from rebalancer.autopilot.models import CycleRun
from tests.ops.conftest import AS_OF

pytestmark = pytest.mark.django_db

PAGES = ["/ops/", "/ops/kill-switch/", "/ops/autonomy/", "/ops/cycles/retry/", "/ops/agents/",
         "/ops/agents/rollback/", "/ops/audit/", "/ops/charts/aum.png"]


@pytest.mark.parametrize("path", PAGES)
def test_an_investor_gets_the_admin_login_redirect(investor_session, path):
    # when a logged-in investor (not staff) opens a console page
    response = investor_session.get(path)
    # then they are sent to the admin's login
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("path", PAGES)
def test_an_anonymous_visitor_gets_the_admin_login_redirect(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_for_staff_on_an_empty_database(staff_client, path):
    response = staff_client.get(path)
    assert response.status_code == 200


def _figures(html: str) -> dict[str, tuple[str, str]]:
    """data-figure key -> (href, text) of every linked figure on the page."""
    found = {}
    for href, key, text in re.findall(r'<a class="fig" href="([^"]+)" data-figure="([^"]+)">([^<]*)</a>', html):
        found[key] = (unescape(href), text.strip())
    return found


def test_dashboard_shows_the_cycle_and_links_each_number_to_its_filtered_admin_list(
    staff_client, invested, portfolio_make
):
    # given one portfolio done (rebalanced) on AS_OF and one whose cycle failed
    failing = portfolio_make()
    CycleRun.objects.create(portfolio=failing, as_of=AS_OF, status=CycleRun.Status.FAILED, error="boom")
    # when staff opens the dashboard
    html = staff_client.get("/ops/").content.decode()
    figures = _figures(html)
    # then the cycle's numbers are there
    assert figures["cycle_rebalance"][1] == "1"
    assert figures["cycle_failed"][1] == "1"
    assert figures["cycle_pending"][1] == "0"
    assert figures["decisions_executed"][1] == "1"
    assert figures["portfolios_autopilot"][1] == "2"
    # and every linked number opens an admin changelist that lists exactly what it counts
    for key in ("cycle_rebalance", "cycle_failed", "decisions_executed", "portfolios_autopilot", "alerts_critical"):
        href, text = figures[key]
        page = staff_client.get(href)
        assert page.status_code == 200, key
        assert "?e=1" not in page.get("Location", ""), key
        counted = page.context["cl"].result_count
        assert counted == int(text), (key, counted, text)
    # and each link works (no admin "invalid lookup" redirect)
    for key, (href, _) in figures.items():
        page = staff_client.get(href)
        assert page.status_code == 200, (key, href)


def test_dashboard_shows_aum_and_the_kill_switch(staff_client, invested):
    html = staff_client.get("/ops/").content.decode()
    figures = _figures(html)
    # AUM: cash + positions at the latest closes = the deposit less the cycle's costs
    from rebalancer.ops.selectors import aum_get

    assert figures["aum"][1] == f"{aum_get():,.2f}"
    assert 99_000 < float(figures["aum"][1].replace(",", "")) <= 100_000
    assert 'data-figure="kill_switch">off<' in html
    for name in ("aum", "cycles", "alerts"):
        assert f'data-chart="{name}"' in html


@pytest.mark.parametrize("name", ["aum", "cycles", "alerts"])
def test_charts_are_png_images(staff_client, invested, name):
    response = staff_client.get(f"/ops/charts/{name}.png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unknown_chart_is_a_404(staff_client):
    assert staff_client.get("/ops/charts/nope.png").status_code == 404


def test_dashboard_query_count_does_not_grow_with_portfolios(staff_client, portfolio_make, django_assert_max_num_queries):
    # given many portfolios
    for _ in range(12):
        portfolio_make()
    # then the dashboard runs a bounded number of queries
    with django_assert_max_num_queries(60):
        assert staff_client.get("/ops/").status_code == 200
