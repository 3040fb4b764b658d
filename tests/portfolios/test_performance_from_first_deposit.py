"""The performance series starts on the first deposit: no empty chart on a new investor's first day."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest
from django.utils import timezone

from portfolios.models import PortfolioSnapshot
from portfolios.selectors import performance_get, portfolio_states_get
from portfolios.services import cash_deposit, portfolio_create, trades_execute
from portfolios.trading import ProposedTrade

from .conftest import DAY1, DAY2, DAY3


def _at(day) -> datetime:
    return datetime.combine(day, time(15), tzinfo=UTC)


@pytest.fixture
def invested(investor, market):
    """10,000 deposited on DAY1 and 50 AAA bought at its close (100): no snapshot yet."""
    portfolio = portfolio_create(owner=investor, name="New")
    cash_deposit(portfolio=portfolio, amount=Decimal("10000"), at=_at(DAY1))
    trades_execute(portfolio=portfolio, as_of=DAY1,
                   trades=[ProposedTrade("AAA", "buy", Decimal(50), Decimal(100), Decimal(0), "first buy")])
    portfolio.refresh_from_db()
    return portfolio


def test_on_the_first_day_the_series_is_the_invested_deposit(invested):
    # when
    perf = performance_get(portfolio=invested, today=DAY1)
    # then one point, today, worth the cash plus the shares at the close
    value = portfolio_states_get(portfolio_ids=[invested.pk], as_of=DAY1, with_lots=False)[invested.pk].total_value
    assert [(p.date, p.value, p.cumulative_return) for p in perf.series] == [(DAY1, float(value), 0.0)]
    assert perf.net_deposits == Decimal("10000")


def test_before_any_snapshot_the_series_runs_from_the_deposit_to_today(invested):
    # when two days later, with no snapshot taken (AAA closed at 90 on DAY3)
    perf = performance_get(portfolio=invested, today=DAY3)
    # then the base is the deposit and today's point values the ledger at the latest closes
    value_now = invested.cash + 50 * Decimal(90)
    assert [p.date for p in perf.series] == [DAY1, DAY3]
    assert perf.series[0].value == 10000.0
    assert perf.series[1].value == pytest.approx(float(value_now))
    assert perf.series[1].cumulative_return == pytest.approx(float(value_now) / 10000 - 1)


def test_a_deposit_between_the_points_is_a_flow_not_performance(invested):
    # given another 1,000 on DAY2
    cash_deposit(portfolio=invested, amount=Decimal("1000"), at=_at(DAY2))
    invested.refresh_from_db()
    # when
    perf = performance_get(portfolio=invested, today=DAY3)
    # then the return is the shares' move only: (value - 1000) / 10000 - 1
    value_now = float(invested.cash + 50 * Decimal(90))
    assert perf.series[-1].daily_return == pytest.approx((value_now - 1000) / 10000 - 1)


def test_with_snapshots_the_deposit_day_opens_the_series_once(invested):
    # given the snapshot of DAY2 only (DAY1's was missed)
    value2 = invested.cash + 50 * Decimal(101)
    PortfolioSnapshot.objects.create(portfolio=invested, date=DAY2, value=value2, cash=invested.cash,
                                     invested=value2 - invested.cash, net_flows=Decimal(0))
    # when
    perf = performance_get(portfolio=invested, today=DAY3)
    # then deposit day, the snapshot, today
    assert [p.date for p in perf.series] == [DAY1, DAY2, DAY3]
    assert perf.series[1].cumulative_return == pytest.approx(float(value2) / 10000 - 1)


def test_a_portfolio_without_money_has_an_empty_series(investor, market):
    portfolio = portfolio_create(owner=investor, name="Empty")
    assert performance_get(portfolio=portfolio, today=DAY3).series == []


def test_the_api_shows_the_first_day(investor_client, investor, market):
    # given a deposit made through the app today
    response = investor_client.post("/api/v1/portfolios", {"name": "Day one"}, format="json")
    pid = response.json()["id"]
    investor_client.post(f"/api/v1/portfolios/{pid}/cash", {"operation": "deposit", "amount": "2500"}, format="json")
    # when
    series = investor_client.get(f"/api/v1/portfolios/{pid}/performance").json()["series"]
    # then
    assert series == [{"date": timezone.localdate().isoformat(), "value": 2500.0, "daily_return": 0.0,
                       "cumulative_return": 0.0, "drawdown": 0.0}]
