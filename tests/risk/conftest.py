"""Market and portfolio fixtures for the risk app's DB tests."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from marketdata.models import Asset, PriceBar

CLASSES = {"AAA": "equity", "BBB": "equity", "BND": "bond", "CRY": "crypto", "SPY": "equity"}
DAYS = pd.bdate_range("2021-12-01", periods=320)


def make_market(classes: dict[str, str], days: pd.DatetimeIndex, seed: int = 3) -> pd.DataFrame:
    """Seeded correlated prices; returns the adjusted closes (dates x symbols)."""
    rng = np.random.default_rng(seed)
    k = len(classes)
    vols = np.linspace(0.008, 0.03, k)
    corr = np.full((k, k), 0.4) + 0.6 * np.eye(k)
    cov = corr * np.outer(vols, vols)
    rets = rng.multivariate_normal(np.full(k, 3e-4), cov, size=len(days))
    prices = pd.DataFrame(100 * np.cumprod(1 + rets, axis=0), index=days, columns=list(classes))
    bars = []
    for symbol, cls in classes.items():
        asset, _ = Asset.objects.get_or_create(symbol=symbol, defaults={"name": symbol, "asset_class": cls})
        for day, close in prices[symbol].items():
            p = Decimal(f"{close:.6f}")
            bars.append(PriceBar(asset=asset, date=day.date(), open=p, high=p, low=p, close=p, adj_close=p,
                                 volume=1_000_000))
    PriceBar.objects.bulk_create(bars)
    return prices.round(6)


@pytest.fixture
def market(db) -> pd.DataFrame:
    return make_market(CLASSES, DAYS)


def make_portfolio(owner, quantities: dict[str, str], cash: str = "1000"):
    from portfolios.models import Portfolio, Position
    from portfolios.services import portfolio_create

    portfolio = portfolio_create(owner=owner, name="Risky")
    Portfolio.objects.filter(pk=portfolio.pk).update(cash=Decimal(cash))
    for symbol, qty in quantities.items():
        Position.objects.create(portfolio=portfolio, asset=Asset.objects.get(symbol=symbol), quantity=Decimal(qty))
    portfolio.refresh_from_db()
    return portfolio


@pytest.fixture
def portfolio(investor, market):
    return make_portfolio(investor, {"AAA": "40", "BBB": "30", "BND": "20"})
