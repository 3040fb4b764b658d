"""``rebalance/predict``: the cycle's decision for holdings the caller sends (stateless).

:func:`rebalance_predict` runs the same pure core as the autopilot
(:func:`~rebalancer.autopilot.engine.cycle_decide`) on holdings or weights given in the
request, against the stored market data, and returns the decision (targets, trades,
explanation). Nothing is written. The kill switch is not applied: this is advice, not
execution.

Latency: market views and strategy targets are cached in the process, keyed by the
market-data revision (a new pull invalidates them), so repeated requests on the same
universe skip the panel read and the optimizer.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from common.errors import ValidationFailed
from marketdata.models import Asset
from portfolios.policy import LimitOverrides, policy_limits
from portfolios.policy.limits import LimitsError
from portfolios.strategies import strategy_names
from rebalancer.autopilot import selectors
from rebalancer.autopilot.engine import cycle_decide
from rebalancer.autopilot.types import (
    AutonomyConfig,
    CycleDecision,
    HoldingsState,
    MarketView,
    TradeConfig,
)

DEFAULT_PORTFOLIO_VALUE = 100_000.0
PREDICT_LIMIT_KEYS = ("max_position", "max_asset_class", "max_var_95", "max_drawdown", "max_turnover")
_CACHE_SIZE = 32
_lock = threading.Lock()
_markets: OrderedDict[tuple, MarketView] = OrderedDict()
_targets: OrderedDict[tuple, dict] = OrderedDict()


@dataclass(frozen=True)
class PredictInput:
    """A validated ``rebalance/predict`` request (see the API serializer for the rules)."""

    strategy: str
    holdings: Mapping[str, float] = field(default_factory=dict)
    weights: Mapping[str, float] = field(default_factory=dict)
    cash: float = 0.0
    portfolio_value: float = DEFAULT_PORTFOLIO_VALUE
    universe: Sequence[str] = ()
    target_weights: Mapping[str, float] = field(default_factory=dict)
    risk_tolerance: str = "balanced"
    investment_horizon: int = 10
    rebalance_threshold: float = 0.05
    limits: Mapping[str, Any] = field(default_factory=dict)
    excluded_symbols: Sequence[str] = ()
    cash_buffer: float = 0.02
    min_trade_value: float = 50.0
    fractional_shares: bool = True
    as_of: dt.date | None = None
    force: bool = True


def _lru_get(cache: OrderedDict, key: tuple, make):
    with _lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    value = make()
    with _lock:
        cache[key] = value
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return value


_ASSETS_TTL = 60.0
_assets_cached: tuple[float, dict[str, Asset]] = (0.0, {})


def _assets() -> dict[str, Asset]:
    """Active assets, re-read at most once a minute (they change with admin edits only)."""
    global _assets_cached
    expires, assets = _assets_cached
    if time.monotonic() >= expires:
        assets = selectors.active_assets_get()
        _assets_cached = (time.monotonic() + _ASSETS_TTL, assets)
    return assets


def _market(symbols: Sequence[str], as_of: dt.date, assets: dict[str, Asset], revision: int) -> MarketView:
    key = (as_of, tuple(sorted(symbols)), revision)
    return _lru_get(
        _markets, key,
        lambda: selectors.market_view_get(symbols=sorted(symbols), as_of=as_of, assets=assets),
    )


def _holdings_state(data: PredictInput, market: MarketView) -> HoldingsState:
    if data.weights:
        # Weights and a notional value: quantities at today's closes.
        missing = sorted(s for s in data.weights if s not in market.prices)
        if missing:
            raise ValidationFailed(
                f"no close on {market.as_of.isoformat()} for {', '.join(missing)}", field="weights"
            )
        value = data.portfolio_value
        quantities = {s: w * value / market.prices[s] for s, w in data.weights.items() if w > 0}
        cash = value * max(0.0, 1.0 - sum(data.weights.values()))
        return HoldingsState(as_of=market.as_of, cash=cash, quantities=quantities)
    return HoldingsState(as_of=market.as_of, cash=data.cash, quantities=dict(data.holdings))


def rebalance_predict(*, data: PredictInput) -> CycleDecision:
    """The decision the autopilot would make for these holdings; raises ValidationFailed."""
    from marketdata.selectors import price_revision_get

    if data.strategy not in strategy_names():
        raise ValidationFailed(
            f"unknown strategy {data.strategy!r}; use one of {', '.join(strategy_names())}",
            field="strategy",
        )
    assets = _assets()
    for name, symbols in (("holdings", data.holdings), ("weights", data.weights),
                          ("universe", data.universe), ("target_weights", data.target_weights)):
        unknown = sorted(set(symbols) - set(assets))
        if unknown:
            raise ValidationFailed(f"unknown or inactive symbols: {', '.join(unknown[:10])}", field=name)
    if data.strategy == "target_allocation" and not data.target_weights:
        raise ValidationFailed("target_allocation needs target_weights", field="target_weights")
    as_of = data.as_of or selectors_latest_date()
    if as_of is None:
        raise ValidationFailed("there are no prices yet", field="as_of")
    held = set(data.holdings) | set(data.weights)
    universe = tuple(sorted(data.universe or (set(data.target_weights) or set(assets))))
    revision = price_revision_get()
    market = _market(sorted(held | set(universe)), as_of, assets, revision)
    if market.returns.empty:
        raise ValidationFailed(f"no price history up to {as_of.isoformat()}", field="as_of")
    overrides = LimitOverrides(**{k: v for k, v in data.limits.items() if k in PREDICT_LIMIT_KEYS})
    try:
        limits = policy_limits(
            tier=data.risk_tolerance, horizon_years=data.investment_horizon, overrides=overrides,
            cash_buffer=data.cash_buffer, excluded_symbols=data.excluded_symbols,
        )
    except LimitsError as exc:
        raise ValidationFailed(exc.message, field=f"limits.{exc.field}") from exc
    config = AutonomyConfig(
        mode="advise",
        strategy=data.strategy,
        risk_tier=data.risk_tolerance,
        universe=universe,
        rebalance_threshold=data.rebalance_threshold,
        calendar="none",
        target_weights=dict(data.target_weights),
        limits=limits,
        trade=TradeConfig(
            cash_buffer=data.cash_buffer, min_trade_value=data.min_trade_value,
            fractional=data.fractional_shares,
        ),
        force=data.force,
    )
    targets_cache = _lru_get(_targets, (as_of, revision), dict)
    if len(targets_cache) > 1000:  # many distinct universes: bound the memory
        targets_cache.clear()
    return cycle_decide(
        state=_holdings_state(data, market), market=market, config=config,
        targets_cache=targets_cache,
    )


def selectors_latest_date() -> dt.date | None:
    from rebalancer.autopilot.services import latest_market_date

    return latest_market_date()


def predict_caches_clear() -> None:
    """Forget cached assets, market views and targets (tests; after bulk data repairs)."""
    global _assets_cached
    with _lock:
        _markets.clear()
        _targets.clear()
        _assets_cached = (0.0, {})
