"""Reads of the regime app: the reference index, the regime state and history, the policy."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.db.models import QuerySet

from common.errors import NotFound, ValidationFailed
from mlagents.regime.engine.features import equal_weight_index
from mlagents.regime.engine.policy import DEFAULT_POLICY, PolicyRule
from mlagents.regime.models import MarketRegime, ReferenceMarket, RegimeModel, RegimePolicy
from portfolios.strategies import RegimeState

REGIME_NAMES = ("bull", "bear", "sideways")


def reference_market_get(*, name: str = "default") -> ReferenceMarket:
    """The reference market ``name``; NotFound (field ``market``) when there is none."""
    market = ReferenceMarket.objects.filter(name=name).first()
    if market is None:
        raise NotFound(f"Unknown market {name!r}.", code="unknown_market", field="market")
    return market


def market_index_get(*, market: ReferenceMarket, end: dt.date | None = None) -> pd.Series:
    """The market's index level up to ``end``: the benchmark's adjusted close when it has
    prices, otherwise the equal-weight index of the market's asset class."""
    from marketdata.models import Asset, PriceBar
    from marketdata.selectors import price_panel_get

    symbol = market.benchmark_symbol
    if symbol and PriceBar.objects.filter(asset__symbol=symbol).exists():
        panel = price_panel_get(symbols=[symbol], end=end, how="outer")
        return panel[symbol].dropna().rename(symbol)
    symbols = list(
        Asset.objects.filter(asset_class=market.asset_class, is_active=True, bars__isnull=False)
        .distinct()
        .order_by("symbol")
        .values_list("symbol", flat=True)
    )
    if not symbols:
        raise NotFound(
            f"Market {market.name!r} has no prices: no bars for {symbol or 'its benchmark'} "
            f"and no active {market.asset_class} assets with bars.",
            code="no_market_data",
            field="market",
        )
    panel = price_panel_get(symbols=symbols, end=end, how="outer")
    return equal_weight_index(panel).rename("index")


def regime_model_active_get(*, market: ReferenceMarket) -> RegimeModel | None:
    return RegimeModel.objects.filter(market=market, is_active=True).first()


def _state(row: MarketRegime, previous: MarketRegime | None, *, as_of: dt.date) -> RegimeState:
    return RegimeState(
        regime=row.regime,
        confidence=float(row.confidence),
        probabilities={k: float(v) for k, v in row.probabilities.items()},
        changed=row.date == as_of and previous is not None and previous.regime != row.regime,
    )


def regime_state_get(*, market: str = "default", as_of: dt.date) -> RegimeState | None:
    """The regime called on the last stored day on or before ``as_of`` (None if none).

    ``changed`` is true only when that day *is* ``as_of`` and its regime differs from
    the previous stored day's — a stale state never re-announces an old change, so
    the autopilot's regime-change trigger fires once per change.
    """
    rows = list(
        MarketRegime.objects.filter(market__name=market, date__lte=as_of).order_by("-date")[:2]
    )
    if not rows:
        return None
    return _state(rows[0], rows[1] if len(rows) > 1 else None, as_of=as_of)


def regime_history_list(
    *, market: ReferenceMarket, start: dt.date | None = None, end: dt.date | None = None
) -> QuerySet[MarketRegime]:
    """Stored regime calls of ``market`` within the inclusive window, newest first."""
    if start is not None and end is not None and end < start:
        raise ValidationFailed(
            f"end ({end.isoformat()}) is before start ({start.isoformat()}).", code="inverted_range", field="end"
        )
    rows = MarketRegime.objects.filter(market=market)
    if start is not None:
        rows = rows.filter(date__gte=start)
    if end is not None:
        rows = rows.filter(date__lte=end)
    return rows.order_by("-date")


def regime_current_get(*, market: ReferenceMarket) -> tuple[MarketRegime | None, bool]:
    """The latest stored call and whether it changed from the call before it."""
    rows = list(MarketRegime.objects.filter(market=market).order_by("-date")[:2])
    if not rows:
        return None, False
    return rows[0], len(rows) > 1 and rows[0].regime != rows[1].regime


def regime_policy_rules_get() -> list[PolicyRule]:
    """The active policy rows as engine rules; the built-in default when none are active."""
    rows = RegimePolicy.objects.filter(is_active=True)
    rules = [
        PolicyRule(
            regime=row.regime,
            risk_tier=row.risk_tier,
            strategy=row.strategy,
            min_confidence=float(row.min_confidence),
            low_confidence_strategy=row.low_confidence_strategy,
            cash_buffer=float(row.cash_buffer),
        )
        for row in rows
    ]
    return rules or list(DEFAULT_POLICY)
