"""Fixtures of the console's tests: an operator, a small market with history, funded portfolios."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from marketdata.models import Asset, PriceBar

AS_OF = date(2024, 5, 15)  # a Wednesday
ASSETS = {"AAA": "equity", "BBB": "equity", "BND": "bond", "TIP": "bond"}
OPERATOR_PASSWORD = "an-operator-pass-2026"


@pytest.fixture(autouse=True)
def _worker_caches():
    from rebalancer.autopilot import services
    from rebalancer.autopilot.predict import predict_caches_clear

    predict_caches_clear()
    services._worker_contexts.clear()
    yield
    services._worker_contexts.clear()


@pytest.fixture
def operator(db):
    from users.models import User

    return User.objects.create_superuser(email="ops@example.com", password=OPERATOR_PASSWORD)


@pytest.fixture
def staff_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def investor_session(client, investor):
    """A Django test client logged in as a plain investor (not staff)."""
    client.force_login(investor)
    return client


@pytest.fixture
def market_history(db) -> list[date]:
    """300 business days of closes for two equities and two bonds, ending on ``AS_OF``."""
    rng = np.random.default_rng(11)
    days = pd.bdate_range(end=pd.Timestamp(AS_OF), periods=300)
    vols = {"equity": 0.012, "bond": 0.004}
    bars = []
    for symbol, asset_class in ASSETS.items():
        asset = Asset.objects.create(symbol=symbol, name=f"{symbol} fund", asset_class=asset_class)
        path = 100 * np.cumprod(1 + rng.normal(0.0003, vols[asset_class], len(days)))
        for day, close in zip(days, path, strict=True):
            price = Decimal(f"{close:.4f}")
            bars.append(PriceBar(asset=asset, date=day.date(), open=price, high=price, low=price,
                                 close=price, adj_close=price, volume=1_000_000))
    PriceBar.objects.bulk_create(bars)
    return [d.date() for d in days]


@pytest.fixture
def portfolio_make(market_history, investor) -> Callable[..., object]:
    """A funded portfolio with autonomy settings (equal weights by default)."""
    from portfolios.services import autonomy_update, cash_deposit, portfolio_create

    def make(*, cash: str = "100000", mode: str = "autopilot", strategy: str = "equal_weight",
             owner=None, **autonomy) -> object:
        p = portfolio_create(owner=owner or investor, name=f"P{mode}", mode=mode, strategy=strategy)
        autonomy_update(portfolio=p, data={"calendar": "none", **autonomy})
        if Decimal(cash) > 0:
            cash_deposit(portfolio=p, amount=Decimal(cash))
        p.refresh_from_db()
        return p

    return make


@pytest.fixture
def invested(portfolio_make):
    """An autopilot portfolio that ran its cycle on ``AS_OF`` (equal weights bought)."""
    from rebalancer.autopilot.services import cycle_run

    p = portfolio_make()
    result = cycle_run(portfolio_id=p.pk, as_of=AS_OF)
    assert result.status == "done" and result.action == "rebalance"
    p.refresh_from_db()
    return p


@pytest.fixture
def enqueued(monkeypatch):
    """Captures ``.delay`` calls of the autopilot's cycle tasks instead of running them."""
    from rebalancer.autopilot import tasks

    calls: list[tuple[str, dict]] = []
    monkeypatch.setattr(tasks.cycle_run_chunk_task, "delay", lambda **kw: calls.append(("chunk", kw)))
    monkeypatch.setattr(tasks.cycle_run_task, "delay", lambda **kw: calls.append(("one", kw)))
    return calls


@pytest.fixture(autouse=True)
def _intraday_caches():
    from rebalancer.ops.services import intraday

    intraday.limits_cache_clear()
    intraday._windows_cache.clear()
    yield
    intraday.limits_cache_clear()
    intraday._windows_cache.clear()
