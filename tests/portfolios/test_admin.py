"""The admin pages of the ledger render for an operator; ledger rows are read-only."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.test import Client

from portfolios.services import decision_create, trades_execute
from portfolios.trading import ProposedTrade


@pytest.fixture
def operator(db):
    from users.models import User

    return User.objects.create_superuser(email="ops@example.com", password="pw-123456789")


def test_changelists_and_change_pages_render(operator, portfolio):
    # given a trade, a lot and a decision
    trades_execute(portfolio=portfolio, trades=[ProposedTrade("AAA", "buy", D(1), D(0), D(0), "t")], as_of=date(2024, 1, 2))
    decision = decision_create(portfolio=portfolio, as_of=date(2024, 1, 2), mode="advise", summary="Buy AAA.", triggers=[{"kind": "cash"}])
    client = Client()
    client.force_login(operator)
    # when / then
    for name in ["portfolio", "decision", "trade", "taxlot", "cashmovement", "portfoliosnapshot", "portfoliooptimization"]:
        assert client.get(f"/admin/portfolios/{name}/").status_code == 200, name
    assert client.get(f"/admin/portfolios/portfolio/{portfolio.pk}/change/").status_code == 200
    page = client.get(f"/admin/portfolios/decision/{decision.pk}/change/")
    assert page.status_code == 200 and b"Buy AAA." in page.content
    assert client.get("/admin/portfolios/trade/add/").status_code == 403


def test_an_operator_records_a_split_in_the_admin_and_applies_it_to_holders(operator, portfolio):
    from marketdata.models import Asset, CorporateAction
    from portfolios.models import Position

    # given 4 AAA held since DAY1
    trades_execute(portfolio=portfolio, trades=[ProposedTrade("AAA", "buy", D(4), D(0), D(0), "t")], as_of=date(2024, 1, 2))
    client = Client()
    client.force_login(operator)
    aaa = Asset.objects.get(symbol="AAA")
    # when a 3-for-1 split on DAY3 is added through the admin form, then applied with the action
    added = client.post("/admin/marketdata/corporateaction/add/", {
        "asset": aaa.pk, "date": "2024-01-04", "kind": "split", "numerator": "3", "denominator": "1", "note": "",
        "applications-TOTAL_FORMS": "0", "applications-INITIAL_FORMS": "0",
    })
    assert added.status_code == 302, added.content[:2000]
    split = CorporateAction.objects.get()
    assert (split.ratio, split.numerator, split.denominator) == (D(3), D(3), D(1))
    client.post("/admin/marketdata/corporateaction/", {"action": "apply_to_ledgers", "_selected_action": [split.pk]})
    # then
    assert Position.objects.get(portfolio=portfolio, asset=aaa).quantity == D(12)
    page = client.get(f"/admin/marketdata/corporateaction/{split.pk}/change/")
    assert page.status_code == 200 and b"applied" in page.content
    for name in ["corporateactionapplication", "washsale"]:
        assert client.get(f"/admin/portfolios/{name}/").status_code == 200, name


def test_the_admin_refuses_a_split_without_terms(operator, market):
    from marketdata.models import Asset, CorporateAction

    client = Client()
    client.force_login(operator)
    page = client.post("/admin/marketdata/corporateaction/add/", {
        "asset": Asset.objects.get(symbol="AAA").pk, "date": "2024-01-04", "kind": "split", "note": "",
        "applications-TOTAL_FORMS": "0", "applications-INITIAL_FORMS": "0",
    })
    assert page.status_code == 200 and b"A split needs a positive numerator" in page.content
    assert not CorporateAction.objects.exists()


def _change_form_data(page) -> dict:
    """Every field of an admin change form as the browser would post it, unchanged."""
    from html.parser import HTMLParser

    data: dict = {}

    class Form(HTMLParser):
        select = textarea = None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            name = a.get("name")
            if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
                if a.get("type") in ("checkbox", "radio"):
                    if "checked" in a:
                        data[name] = a.get("value", "on")
                else:
                    data[name] = a.get("value", "")
            elif tag == "select" and name:
                self.select = name
            elif tag == "option" and self.select and "selected" in a:
                data[self.select] = a.get("value", "")
            elif tag == "textarea" and name:
                self.textarea = name
                data[name] = ""

        def handle_endtag(self, tag):
            if tag == "select":
                self.select = None
            elif tag == "textarea":
                self.textarea = None

        def handle_data(self, text):
            if self.textarea:
                data[self.textarea] += text.lstrip("\n") if not data[self.textarea] else text

    Form().feed(page.content.decode())
    return data


def _limits_form(page):
    """The limits inline's one form of a rendered portfolio change page."""
    (formset,) = [f for f in page.context["inline_admin_formsets"] if f.formset.prefix == "limit_overrides"]
    return formset.formset.forms[0]


@pytest.fixture
def overridden(portfolio):
    """The portfolio with a 35 % cash buffer and a 10-holdings override."""
    from portfolios.services import autonomy_update

    autonomy_update(portfolio=portfolio, data={"cash_buffer": D("0.35"), "constraints": {"max_holdings": 10}})
    return portfolio


def test_an_override_the_limits_cannot_hold_shows_on_its_field_in_the_admin_and_saves_nothing(operator, overridden):
    from portfolios.models import AutonomySettings, PortfolioLimits

    # given the change page; equity at least 60 % + bonds 10 % + the 35 % cash buffer > 100 %
    client = Client()
    client.force_login(operator)
    url = f"/admin/portfolios/portfolio/{overridden.pk}/change/"
    data = _change_form_data(client.get(url))
    assert data["limit_overrides-0-max_holdings"] == "10"
    data["limit_overrides-0-asset_class_bounds"] = '{"equity": [0.6, 0.9]}'
    data["limit_overrides-0-max_position"] = "0.2"
    data["name"] = "Renamed"
    # when
    page = client.post(url, data)
    # then the form comes back with the error on asset_class_bounds; nothing changed
    assert page.status_code == 200
    assert _limits_form(page).errors == {
        "asset_class_bounds": ["the sleeves' lowest weights add up to 105%, more than the whole portfolio"],
    }
    row = PortfolioLimits.objects.get(portfolio=overridden)
    assert (row.asset_class_bounds, row.max_position, row.max_holdings) == ({}, None, 10)
    assert overridden.__class__.objects.get(pk=overridden.pk).name == "Growth"
    assert AutonomySettings.objects.get(portfolio=overridden).cash_buffer == D("0.3500")


def test_a_bound_of_an_unknown_asset_class_is_refused_on_the_bounds_field(operator, overridden):
    from portfolios.models import PortfolioLimits

    # given
    client = Client()
    client.force_login(operator)
    url = f"/admin/portfolios/portfolio/{overridden.pk}/change/"
    data = _change_form_data(client.get(url))
    data["limit_overrides-0-asset_class_bounds"] = '{"gold": [0, 0.2]}'
    # when
    page = client.post(url, data)
    # then the nested field (asset_class_bounds.gold) lands on its form field
    assert page.status_code == 200
    assert _limits_form(page).errors == {"asset_class_bounds": ["unknown asset class 'gold' in asset_class_bounds"]}
    assert PortfolioLimits.objects.get(portfolio=overridden).asset_class_bounds == {}


def test_overrides_that_hold_together_are_saved_from_the_admin(operator, overridden):
    from portfolios.models import PortfolioLimits
    from portfolios.selectors import policy_limits_get

    # given
    client = Client()
    client.force_login(operator)
    url = f"/admin/portfolios/portfolio/{overridden.pk}/change/"
    data = _change_form_data(client.get(url))
    data["limit_overrides-0-asset_class_bounds"] = '{"equity": [0.5, 0.6]}'
    data["limit_overrides-0-max_position"] = "0.2"
    # when
    page = client.post(url, data)
    # then
    assert page.status_code == 302, page.context and [f.errors for f in page.context["inline_admin_formsets"][1].formset.forms]
    row = PortfolioLimits.objects.get(portfolio=overridden)
    assert (row.asset_class_bounds, row.max_position, row.max_holdings) == ({"equity": [0.5, 0.6]}, 0.2, 10)
    limits = policy_limits_get(portfolio=overridden)
    assert (limits.sleeve_ranges["equity"], limits.max_position) == ((0.5, 0.6), 0.2)
