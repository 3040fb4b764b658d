"""Fixtures of the real-broker tests: the fake Alpaca server, an Alpaca portfolio, orders placed."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from tests.portfolios.brokers.fake_alpaca import FakeAlpaca

D = Decimal


@pytest.fixture
def fake_alpaca(settings):
    """The fake Alpaca API on loopback, with the environment's keys pointing at it."""
    with FakeAlpaca(cash=D("10000")) as fake:
        settings.ALPACA_BASE_URL = fake.url
        settings.ALPACA_API_KEY = fake.api_key
        settings.ALPACA_SECRET_KEY = fake.secret_key
        fake.prices.update({"AAA": D("100"), "BBB": D("50"), "CCC": D("20"), "BND": D("80")})
        yield fake


@pytest.fixture
def alpaca_portfolio(portfolio, fake_alpaca):
    """The conftest's funded portfolio (10,000 cash, slippage 10 bps) trading through the fake Alpaca."""
    from portfolios.services.broker_accounts import portfolio_broker_set

    portfolio_broker_set(portfolio=portfolio, broker="alpaca")
    portfolio.refresh_from_db()
    return portfolio


@pytest.fixture
def place(django_capture_on_commit_callbacks) -> Callable:
    """Record a decision of ``(symbol, side, quantity, price)`` legs and place its orders (nothing sent)."""
    from django.db import transaction

    from portfolios.services import decision_create, portfolio_lock
    from portfolios.services.orders import orders_place
    from portfolios.trading import ProposedTrade
    from tests.portfolios.conftest import DAY3

    def make(portfolio, *legs):
        trades = [
            ProposedTrade(symbol=s, side=side, quantity=D(q), est_price=D(p), est_cost=D(0), reason=f"{side} {s}",
                          price=D(p))
            for s, side, q, p in legs
        ]
        with transaction.atomic():
            locked = portfolio_lock(portfolio=portfolio)
            decision = decision_create(portfolio=locked, as_of=DAY3, mode="autopilot", trades=trades)
            orders = orders_place(portfolio=locked, decision=decision, trades=trades)
        return decision, orders

    return make


@pytest.fixture
def committed(django_capture_on_commit_callbacks) -> Callable:
    """Run ``fn`` and then its on-commit callbacks (as a real commit would: settle, free the buys)."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run
