"""Factories for the portfolios tests: assets, price bars, owners, funded portfolios."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal

import pytest

from marketdata.models import Asset, PriceBar

D = Decimal
DAY1 = date(2024, 1, 2)
DAY2 = date(2024, 1, 3)
DAY3 = date(2024, 1, 4)


@pytest.fixture
def asset_make(db) -> Callable[..., Asset]:
    def make(symbol: str, asset_class: str = "equity", **extra) -> Asset:
        asset, _ = Asset.objects.get_or_create(
            symbol=symbol, defaults={"name": f"{symbol} Inc.", "asset_class": asset_class, **extra}
        )
        return asset

    return make


@pytest.fixture
def bars_make(asset_make) -> Callable[[date, Mapping[str, str | Decimal]], None]:
    """Close prices for several symbols on one date (open=high=low=close)."""

    def make(on: date, closes: Mapping[str, str | Decimal]) -> None:
        for symbol, close in closes.items():
            asset = asset_make(symbol)
            close = D(str(close))
            PriceBar.objects.update_or_create(
                asset=asset,
                date=on,
                defaults={"open": close, "high": close, "low": close, "close": close, "adj_close": close, "volume": 1000},
            )

    return make


@pytest.fixture
def owner(db):
    from users.models import User

    return User.objects.create_user(email="owner@example.com", password="pw-123456789")


@pytest.fixture
def stranger(db):
    from users.models import User

    return User.objects.create_user(email="stranger@example.com", password="pw-123456789")


@pytest.fixture
def market(bars_make) -> None:
    """Three equities and a bond with closes on three consecutive trading days."""
    bars_make(DAY1, {"AAA": "100", "BBB": "50", "CCC": "20", "BND": "80"})
    bars_make(DAY2, {"AAA": "101", "BBB": "49", "CCC": "20.2", "BND": "80"})
    bars_make(DAY3, {"AAA": "90", "BBB": "49.5", "CCC": "20.1", "BND": "80.1"})
    Asset.objects.filter(symbol="BND").update(asset_class="bond")


@pytest.fixture
def portfolio(owner, market):
    from portfolios.services import autonomy_update, cash_deposit, portfolio_create

    p = portfolio_create(owner=owner, name="Growth")
    autonomy_update(portfolio=p, data={"commission_rate": D("0.001"), "commission_min": D("1"), "slippage_bps": D("10")})
    cash_deposit(portfolio=p, amount=D("10000"))
    p.refresh_from_db()
    return p
