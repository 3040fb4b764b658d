"""The broker admin (pages, the execution report, resolving a reconciliation), approvals and commands."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from portfolios.models import BrokerAccount, Decision, Order, Reconciliation
from portfolios.services.orders import orders_submit, orders_sync
from portfolios.services.reconciliation import reconciliation_run

D = Decimal


@pytest.fixture
def operator(db):
    from users.models import User

    return User.objects.create_superuser(email="ops@example.com", password="pw-123456789")


@pytest.fixture
def admin_client(operator) -> Client:
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def filled(alpaca_portfolio, place, fake_alpaca, committed):
    decision, (order,) = place(alpaca_portfolio, ("AAA", "buy", "4", "100"))
    committed(orders_submit, decision_id=decision.pk)
    fake_alpaca.tick()
    committed(orders_sync)
    return order


def test_broker_pages_and_the_execution_report_render(admin_client, alpaca_portfolio, filled, fake_alpaca):
    fake_alpaca.cash += D("7")
    rec = reconciliation_run(portfolio=alpaca_portfolio)
    account = BrokerAccount.objects.get(portfolio=alpaca_portfolio)
    for url in ["/admin/portfolios/brokeraccount/", f"/admin/portfolios/brokeraccount/{account.pk}/change/",
                "/admin/portfolios/order/", f"/admin/portfolios/order/{filled.pk}/change/",
                "/admin/portfolios/reconciliation/", f"/admin/portfolios/reconciliation/{rec.pk}/change/"]:
        assert admin_client.get(url).status_code == 200, url
    report = admin_client.get("/admin/portfolios/order/execution-report/")
    assert report.status_code == 200
    assert f"#{filled.decision_id}".encode() in report.content
    assert b"7.0000" in admin_client.get(f"/admin/portfolios/reconciliation/{rec.pk}/change/").content
    assert admin_client.get("/admin/portfolios/order/add/").status_code == 403


def test_accepting_the_brokers_numbers_from_the_admin_resolves_the_mismatch(admin_client, alpaca_portfolio, filled,
                                                                           fake_alpaca):
    fake_alpaca.cash += D("7")
    rec = reconciliation_run(portfolio=alpaca_portfolio)
    response = admin_client.post("/admin/portfolios/reconciliation/",
                                 {"action": "accept_broker_numbers", "_selected_action": [rec.pk]})
    assert response.status_code == 302
    rec.refresh_from_db()
    alpaca_portfolio.refresh_from_db()
    assert (rec.status, rec.resolution, alpaca_portfolio.cash) == ("resolved", "accepted_broker", fake_alpaca.cash)


def test_the_admin_stores_entered_keys_encrypted(admin_client, portfolio, settings):
    from cryptography.fernet import Fernet

    settings.BROKER_CREDENTIALS_KEYS = [Fernet.generate_key().decode()]
    response = admin_client.post("/admin/portfolios/brokeraccount/add/", {
        "portfolio": portfolio.pk, "environment": "paper", "order_type": "limit", "limit_offset_bps": "15",
        "open_orders_policy": "wait", "api_key": "PKADMIN00009876", "secret_key": "admin-secret",
    })
    assert response.status_code == 302
    account = BrokerAccount.objects.get(portfolio=portfolio)
    portfolio.refresh_from_db()
    assert (portfolio.broker, account.key_hint, account.order_type, account.open_orders_policy) == (
        "alpaca", "…9876", "limit", "wait")
    assert "admin-secret" not in account.secret_key_encrypted
    page = admin_client.get(f"/admin/portfolios/brokeraccount/{account.pk}/change/").content.decode()
    assert "admin-secret" not in page and "PKADMIN0000" not in page


def test_approving_a_proposal_on_alpaca_places_orders_instead_of_filling(alpaca_portfolio, fake_alpaca):
    from portfolios.services import decision_approve, decision_create
    from portfolios.trading import ProposedTrade
    from tests.portfolios.conftest import DAY3

    trade = ProposedTrade(symbol="AAA", side="buy", quantity=D("2"), est_price=D("90.09"), est_cost=D("0"),
                          reason="", price=D("90"))
    proposal = decision_create(portfolio=alpaca_portfolio, as_of=DAY3, mode="advise", trades=[trade])
    decision = decision_approve(decision=proposal, portfolio=alpaca_portfolio)
    assert decision.status == Decision.Status.SUBMITTED
    (order,) = Order.objects.filter(decision=decision)
    assert (order.status, order.quantity, order.decision_price) == ("pending", D("2"), D("90"))


def test_limit_orders_are_priced_off_the_decision_close_on_the_brokers_tick(alpaca_portfolio, place):
    BrokerAccount.objects.filter(portfolio=alpaca_portfolio).update(order_type="limit", limit_offset_bps=D("20"))
    _, (sell, buy) = place(alpaca_portfolio, ("BBB", "sell", "1", "50.123"), ("AAA", "buy", "1", "100"))
    # buy: 100 x 1.002 = 100.20; sell: 50.123 x 0.998 = 50.0228 -> 50.02
    assert (buy.order_type, buy.limit_price, sell.limit_price) == ("limit", D("100.20"), D("50.02"))


def test_the_reconcile_and_calibrate_commands(alpaca_portfolio, filled, fake_alpaca):
    out = StringIO()
    call_command("reconcile", "--portfolio", str(alpaca_portfolio.pk), stdout=out)
    assert f"portfolio #{alpaca_portfolio.pk}: matched" in out.getvalue()
    fake_alpaca.positions["AAA"] = (D("5"), D("100"))
    with pytest.raises(SystemExit) as caught:
        call_command("reconcile", stdout=out)
    assert caught.value.code == 1
    assert "AAA broker minus ledger 1.00000000" in out.getvalue()
    assert Reconciliation.objects.filter(status="mismatch").count() == 1
    out = StringIO()
    call_command("calibrate_costs", stdout=out)
    assert "slippage_bps 0.000 (raw 0.000) from 1 filled orders" in out.getvalue()
