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
