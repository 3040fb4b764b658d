"""Factories for the autopilot tests: a small market with history, funded portfolios."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from marketdata.models import Asset, PriceBar

AS_OF = date(2024, 5, 15)  # a Wednesday, not the first trading day of a month
ASSETS = {"AAA": "equity", "BBB": "equity", "BND": "bond", "TIP": "bond"}


@pytest.fixture(autouse=True)
def _predict_caches():
    from rebalancer.autopilot import services
    from rebalancer.autopilot.predict import predict_caches_clear

    predict_caches_clear()
    services._worker_contexts.clear()
    yield
    predict_caches_clear()
    services._worker_contexts.clear()


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
            bars.append(
                PriceBar(asset=asset, date=day.date(), open=price, high=price, low=price,
                         close=price, adj_close=price, volume=1_000_000)
            )
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
