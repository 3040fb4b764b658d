"""The cycle's execution step for a portfolio on a real broker (the fake Alpaca in a thread)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from portfolios.models import Decision, Order, Trade
from rebalancer.autopilot.models import CycleRun
from rebalancer.autopilot.services import cycle_run, cycle_run_many
from tests.autopilot.conftest import AS_OF
from tests.portfolios.brokers.fake_alpaca import FakeAlpaca

D = Decimal


@pytest.fixture
def fake(settings, market_history):
    from marketdata.models import PriceBar

    with FakeAlpaca(cash=D("100000")) as server:
        settings.ALPACA_BASE_URL = server.url
        settings.ALPACA_API_KEY, settings.ALPACA_SECRET_KEY = server.api_key, server.secret_key
        closes = PriceBar.objects.filter(date=AS_OF).values_list("asset__symbol", "close")
        server.prices.update({symbol: close for symbol, close in closes})
        yield server


@pytest.fixture
def alpaca_make(portfolio_make, fake):
    from portfolios.services.broker_accounts import portfolio_broker_set

    def make(**kwargs):
        p = portfolio_make(**kwargs)
        portfolio_broker_set(portfolio=p, broker="alpaca")
        p.refresh_from_db()
        return p

    return make


def test_an_autopilot_cycle_on_alpaca_places_orders_instead_of_filling_at_the_close(alpaca_make, fake,
                                                                                    django_capture_on_commit_callbacks):
    # given an autopilot portfolio with 100,000 cash on Alpaca
    p = alpaca_make()
    # when the cycle runs and commits
    with django_capture_on_commit_callbacks(execute=True):
        result = cycle_run(portfolio_id=p.pk, as_of=AS_OF)
    # then the decision is submitted with one order per trade, sent to the broker, nothing filled yet
    assert (result.status, result.action, result.trades_count) == ("done", "rebalance", 4)
    decision = Decision.objects.get(pk=result.decision_id)
    assert decision.status == Decision.Status.SUBMITTED
    assert sorted(Order.objects.filter(decision=decision).values_list("status", flat=True)) == ["new"] * 4
    assert (fake.posts(), Trade.objects.filter(portfolio=p).count()) == (4, 0)
    # when the broker fills and the poll records it
    from portfolios.services.orders import orders_sync

    fake.tick()
    with django_capture_on_commit_callbacks(execute=True):
        orders_sync()
    decision.refresh_from_db()
    assert decision.status == Decision.Status.EXECUTED
    assert Trade.objects.filter(portfolio=p, decision=decision).count() == 4


def test_the_next_cycle_waits_for_open_orders_when_told_to(alpaca_make, fake, django_capture_on_commit_callbacks):
    # given yesterday's orders still open and the account's policy "wait"
    from portfolios.models import BrokerAccount

    p = alpaca_make()
    BrokerAccount.objects.filter(portfolio=p).update(open_orders_policy="wait")
    with django_capture_on_commit_callbacks(execute=True):
        first = cycle_run(portfolio_id=p.pk, as_of=AS_OF - timedelta(days=1))
    # when today's cycle runs
    result = cycle_run(portfolio_id=p.pk, as_of=AS_OF)
    # then it is closed as skipped, with the reason, and decides nothing
    assert (result.status, result.action) == ("done", "skipped")
    assert result.summary == f"4 orders of decision #{first.decision_id} are still open; waiting for them"
    run = CycleRun.objects.get(portfolio=p, as_of=AS_OF)
    assert (run.status, run.action, run.decision_id) == ("done", "skipped", None)
    assert Decision.objects.filter(portfolio=p).count() == 1


def test_paper_portfolios_of_the_same_chunk_still_fill_at_the_close(alpaca_make, portfolio_make, fake):
    # given one paper and one Alpaca autopilot portfolio
    paper = portfolio_make()
    alpaca = alpaca_make()
    # when the chunk runs
    results = {r.portfolio_id: r for r in cycle_run_many(portfolio_ids=[paper.pk, alpaca.pk], as_of=AS_OF)}
    # then the paper one traded at the close and the Alpaca one has orders
    assert Decision.objects.get(pk=results[paper.pk].decision_id).status == Decision.Status.EXECUTED
    assert Trade.objects.filter(portfolio=paper).count() == 4
    assert Decision.objects.get(pk=results[alpaca.pk].decision_id).status == Decision.Status.SUBMITTED
    assert (Order.objects.filter(portfolio=alpaca).count(), Trade.objects.filter(portfolio=alpaca).count()) == (4, 0)
