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
