"""The intraday risk monitor: quotes in, held portfolios re-evaluated, alerts out.

:func:`intraday_quotes_ingest` stores the latest quote of each asset
(:class:`~rebalancer.ops.models.IntradayPrice`), re-evaluates every portfolio holding one
of the quoted assets with the same alert rules as the nightly snapshot
(:func:`risk.measures.alerts.evaluate_alert_rules`, the limits read once, in
:func:`limits_get`), opens or resolves alerts through the risk app's own
:func:`risk.services.risk_alerts_sync_many` (all changed portfolios in one go), and hands new alerts to the autopilot's rules
(:mod:`rebalancer.ops.services.responses`). One call, so a price update becomes an alert
in the time it takes (``bench/bench_intraday_risk.py`` measures it; the goal is < 5 s).

What is valued intraday, and how (the nightly view's numbers with today's prices):

* holdings at the intraday price when the quote is newer than the asset's last daily
  bar, at that bar's close otherwise; weights are position value over portfolio value;
* 1-day historical VaR at the limit's confidence, and the average pairwise correlation,
  of those weights over the last two years of daily returns on which every holding has
  a price (``risk.selectors.LOOKBACK``) — the daily window does not move intraday, the
  weights do;
* drawdown of the time-weighted value history (the portfolio's daily snapshots) with
  the intraday value as its newest point; without snapshots, of the holdings' replayed
  daily returns plus today's move.

An unchanged set of breaches leaves the alerts as they are (no write per tick); a
breach that appears opens an alert (a new episode), one that ends resolves it.
:func:`intraday_poll` is what beat runs during the session: it asks the configured
intraday provider (synthetic or Yahoo, :class:`marketdata.providers.IntradayProvider`)
for the quotes of every held asset up to now and ingests them.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common.errors import ValidationFailed
from marketdata.models import Asset
from marketdata.selectors import price_panel_get
from portfolios.models import Portfolio, PortfolioSnapshot, Position
from portfolios.performance import twr_series
from portfolios.prices import latest_closes
from rebalancer.ops.models import IntradayPrice
from risk.measures.alerts import AlertSignal
from risk.measures.correlation import average_pairwise_correlation
from risk.measures.performance import current_drawdown
from risk.models import RiskAlert, RiskSnapshot
from risk.selectors import LOOKBACK, MIN_OBSERVATIONS, alert_signals, risk_limits_get, var_forecast

logger = logging.getLogger(__name__)
SESSION_TZ = ZoneInfo("America/New_York")


LIMITS_TTL_SECONDS = 60.0
"""Limits are read at most once a minute per portfolio and process (a tick runs every
minute over thousands of portfolios; an operator's change of limits applies within that)."""
_limits_cache: dict[int, tuple[float, object]] = {}


def limits_get(*, portfolio: Portfolio):
    """The portfolio's limits: the ONE place the monitor reads them (the risk-tier selector
    every other consumer reads, ``portfolios.selectors.policy_limits_get``)."""
    now = time.monotonic()
    cached = _limits_cache.get(portfolio.pk)
    if cached is not None and cached[0] > now:
        return cached[1]
    limit = risk_limits_get(portfolio=portfolio)
    _limits_cache[portfolio.pk] = (now + LIMITS_TTL_SECONDS, limit)
    return limit


def limits_cache_clear() -> None:
    _limits_cache.clear()


@dataclass(frozen=True)
class Quote:
    symbol: str
    price: Decimal
    at: dt.datetime
    """When the price was made (aware)."""


@dataclass
class IntradayEvaluation:
    """What one evaluation did."""

    portfolios: int = 0
    opened: list[int] = field(default_factory=list)
    """Ids of the alerts this evaluation opened (new breach episodes)."""
    resolved: int = 0
    changed_portfolios: int = 0
    seconds: float = 0.0
    responses: int = 0


# --- quotes ------------------------------------------------------------------------------


def intraday_prices_record(*, quotes: Iterable[Quote], provider: str) -> list[str]:
    """Store each asset's latest quote (an older quote than the stored one is ignored);
    returns the symbols whose price was stored. Unknown symbols → 400 naming them."""
    latest: dict[str, Quote] = {}
    for quote in quotes:
        if quote.price is None or Decimal(quote.price) <= 0:
            raise ValidationFailed(f"price of {quote.symbol} must be positive", field="price")
        if timezone.is_naive(quote.at):
            raise ValidationFailed("quote times must be time-zone aware", field="at")
        if quote.symbol not in latest or quote.at >= latest[quote.symbol].at:
            latest[quote.symbol] = quote
    if not latest:
        return []
    assets = {a.symbol: a for a in Asset.objects.filter(symbol__in=list(latest))}
    unknown = sorted(set(latest) - set(assets))
    if unknown:
        raise ValidationFailed(f"unknown symbols: {', '.join(unknown)}", code="unknown_symbols", field="symbols")
    stored = []
    with transaction.atomic():
        current = {p.asset_id: p for p in IntradayPrice.objects.select_for_update().filter(
            asset_id__in=[a.pk for a in assets.values()])}
        for symbol, quote in latest.items():
            asset = assets[symbol]
            row = current.get(asset.pk)
            price = Decimal(str(quote.price)).quantize(Decimal("0.000001"))
            if row is None:
                IntradayPrice.objects.create(asset=asset, price=price, at=quote.at, provider=provider)
            elif quote.at >= row.at:
                row.price, row.at, row.provider = price, quote.at, provider
                row.save(update_fields=["price", "at", "provider", "received_at"])
            else:
                continue
            stored.append(symbol)
    return stored


def _prices_now(symbols: Sequence[str]) -> tuple[dict[str, float], dict[str, float], dt.date | None]:
    """(price now, last daily close, the latest daily bar date) per symbol."""
    closes = latest_closes(symbols=symbols)
    daily = {s: float(c) for s, (c, _) in closes.items()}
    last_bar = {s: d for s, (_, d) in closes.items()}
    now = dict(daily)
    for symbol, price, at in IntradayPrice.objects.filter(asset__symbol__in=list(symbols)).values_list(
        "asset__symbol", "price", "at"
    ):
        bar_day = last_bar.get(symbol)
        if bar_day is None or at.astimezone(SESSION_TZ).date() > bar_day:
            now[symbol] = float(price)
    return now, daily, max(last_bar.values(), default=None)


# --- evaluation -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Holdings:
    cash: float
    quantities: dict[str, float]


def _holdings(symbols: Sequence[str] | None) -> dict[int, _Holdings]:
    positions = Position.objects.filter(quantity__gt=0)
    if symbols is not None:
        ids = positions.filter(asset__symbol__in=list(symbols)).values_list("portfolio_id", flat=True).distinct()
        positions = Position.objects.filter(quantity__gt=0, portfolio_id__in=list(ids))
    quantities: dict[int, dict[str, float]] = defaultdict(dict)
    for pid, symbol, qty in positions.values_list("portfolio_id", "asset__symbol", "quantity"):
        quantities[pid][symbol] = float(qty)
    cash = dict(Portfolio.objects.filter(pk__in=list(quantities)).values_list("pk", "cash"))
    return {pid: _Holdings(float(cash.get(pid, 0)), q) for pid, q in quantities.items()}


class _Windows:
    """Daily return windows of every set of holdings, from one panel of all held assets.

    Kept across ticks while the daily data does not change (same price revision, same
    last bar, same assets): intraday, only the weights move. The average correlation
    (unweighted) depends on the set of holdings only, so it is cached per set too.
    """

    def __init__(self, symbols: Sequence[str], end: dt.date | None) -> None:
        self.end = end
        self.prices = price_panel_get(symbols=list(symbols), how="outer", end=end, error_field="weights")
        self.start = pd.Timestamp((end or dt.date.today()) - LOOKBACK)
        self._panels: dict[frozenset, pd.DataFrame] = {}
        self._correlations: dict[frozenset, float | None] = {}

    def get(self, symbols: Iterable[str]) -> pd.DataFrame:
        """The returns of ``symbols`` exactly as the nightly view reads them
        (``return_panel_get(how="outer")`` of the holdings, last two years, complete rows)."""
        key = frozenset(symbols)
        if key not in self._panels:
            prices = self.prices.loc[:, sorted(key)].dropna(how="all")
            returns = (prices / prices.shift(1) - 1.0).iloc[1:]
            self._panels[key] = returns.loc[returns.index > self.start].dropna()
        return self._panels[key]

    def correlation(self, symbols: Iterable[str], weights: dict[str, float]) -> float | None:
        key = frozenset(symbols)
        if key not in self._correlations:
            self._correlations[key] = average_pairwise_correlation(self.get(key), weights)
        return self._correlations[key]


_windows_cache: dict[tuple, _Windows] = {}


def _windows_get(symbols: Sequence[str], end: dt.date | None) -> _Windows:
    from marketdata.selectors import price_revision_get

    key = (price_revision_get(), end, tuple(sorted(symbols)))
    windows = _windows_cache.get(key)
    if windows is None:
        _windows_cache.clear()  # one set of windows per process: bounded memory
        windows = _windows_cache[key] = _Windows(symbols, end)
    return windows


def _drawdown(rows: list[tuple], value_now: float, today: dt.date, replay: pd.Series | None,
              move_today: float) -> float | None:
    """Drawdown of the TWR history with ``value_now`` as today's point (see the module docstring)."""
    rows = [r for r in rows if r[0] < today]
    if rows:
        points = twr_series(dates=[r[0] for r in rows] + [today], values=[r[1] for r in rows] + [value_now],
                            flows=[r[2] for r in rows] + [0])
        if len(points) >= 2:
            return max(-float(points[-1].drawdown), 0.0)
    if replay is None or replay.empty:
        return None
    series = pd.concat([replay, pd.Series([move_today], index=[pd.Timestamp(today)])])
    return current_drawdown(series)


def portfolio_signals_intraday(
    *, portfolio: Portfolio, holdings: _Holdings, prices: dict[str, float], daily: dict[str, float],
    windows: _Windows, snapshots: list[tuple], today: dt.date, asset_classes: dict[str, str] | None = None,
) -> list[AlertSignal]:
    """The alert signals of one portfolio at intraday prices (rules of the nightly view)."""
    limit = limits_get(portfolio=portfolio)
    values = {s: q * prices[s] for s, q in holdings.quantities.items() if s in prices}
    total = holdings.cash + sum(values.values())
    if total <= 0 or not values:
        return []
    weights = {s: v / total for s, v in values.items() if v != 0.0}
    value_at_close = holdings.cash + sum(q * daily.get(s, prices[s]) for s, q in holdings.quantities.items()
                                         if s in prices)
    move_today = total / value_at_close - 1 if value_at_close > 0 else 0.0
    panel = windows.get(weights)
    var_1d = corr = None
    replay = None
    if panel.shape[0] >= MIN_OBSERVATIONS:
        var_1d = var_forecast(panel, weights)
        corr = windows.correlation(weights, weights)
        replay = pd.Series(panel.to_numpy() @ np.array([weights[c] for c in panel.columns]), index=panel.index)
    drawdown = _drawdown(snapshots, total, today, replay, move_today)
    if asset_classes is None:
        asset_classes = dict(Asset.objects.filter(symbol__in=list(weights)).values_list("symbol", "asset_class"))
    return alert_signals(weights=weights, asset_classes=asset_classes, limits=limit, var_forecast=var_1d,
                         current_drawdown=drawdown, average_correlation=corr)


def intraday_risk_evaluate(
    *, symbols: Sequence[str] | None = None, today: dt.date | None = None
) -> IntradayEvaluation:
    """Re-evaluate every portfolio holding one of ``symbols`` (all held portfolios if None)."""
    from risk.services import risk_alerts_sync_many

    started = time.perf_counter()
    result = IntradayEvaluation()
    holdings = _holdings(symbols)
    if not holdings:
        result.seconds = time.perf_counter() - started
        return result
    held = sorted({s for h in holdings.values() for s in h.quantities})
    prices, daily, last_bar = _prices_now(held)
    today = today or timezone.now().astimezone(SESSION_TZ).date()
    windows = _windows_get(held, last_bar)
    ids = sorted(holdings)
    portfolios = Portfolio.objects.in_bulk(ids)
    snapshots: dict[int, list[tuple]] = defaultdict(list)
    for pid, day, value, flows in PortfolioSnapshot.objects.filter(portfolio_id__in=ids).order_by(
        "portfolio_id", "date"
    ).values_list("portfolio_id", "date", "value", "net_flows"):
        snapshots[pid].append((day, value, flows))
    current: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for pid, rule, symbol in RiskAlert.objects.filter(portfolio_id__in=ids).exclude(
        status=RiskAlert.Status.RESOLVED
    ).values_list("portfolio_id", "rule", "symbol"):
        current[pid].add((rule, symbol))
    latest_snapshot = dict(
        RiskSnapshot.objects.filter(portfolio_id__in=ids).order_by("portfolio_id", "date")
        .values_list("portfolio_id", "pk")
    )
    changed: dict[int, list[AlertSignal]] = {}
    classes = dict(Asset.objects.filter(symbol__in=held).values_list("symbol", "asset_class"))
    for pid in ids:
        result.portfolios += 1
        signals = portfolio_signals_intraday(
            portfolio=portfolios[pid], holdings=holdings[pid], prices=prices, daily=daily, windows=windows,
            snapshots=snapshots.get(pid, []), today=today, asset_classes=classes,
        )
        if {(s.rule, s.symbol) for s in signals} != current.get(pid, set()):
            changed[pid] = signals
    if changed:
        kept = risk_alerts_sync_many(
            signals=changed,
            snapshots={pid: RiskSnapshot(pk=latest_snapshot[pid]) if pid in latest_snapshot else None
                       for pid in changed},  # the FK only: no query
        )
        for pid, alerts in kept.items():
            before = current.get(pid, set())
            result.opened += [a.pk for a in alerts if (a.rule, a.symbol) not in before]
            result.resolved += len(before - {(a.rule, a.symbol) for a in alerts})
        result.changed_portfolios = len(changed)
    result.seconds = time.perf_counter() - started
    return result


def intraday_quotes_ingest(*, quotes: Iterable[Quote], provider: str) -> IntradayEvaluation:
    """Store the quotes, re-evaluate the portfolios holding those assets, and carry out the
    autopilot's response to every new alert (see :mod:`rebalancer.ops.services.responses`)."""
    from rebalancer.ops.services.responses import alert_responses_dispatch

    started = time.perf_counter()
    symbols = intraday_prices_record(quotes=quotes, provider=provider)
    if not symbols:
        return IntradayEvaluation()
    result = intraday_risk_evaluate(symbols=symbols)
    if result.opened:
        result.responses = len(alert_responses_dispatch(alert_ids=result.opened))
    result.seconds = time.perf_counter() - started
    if result.opened:
        logger.info("intraday: %s alert(s) opened on %s portfolio(s) in %.3f s", len(result.opened),
                    result.changed_portfolios, result.seconds)
    return result


# --- polling (beat) ---------------------------------------------------------------------


def intraday_provider_get(name: str | None = None):
    """The configured intraday provider (``OPS_INTRADAY_PROVIDER``, default the daily one)."""
    from marketdata.providers import IntradayProvider, provider_get

    name = name or getattr(settings, "OPS_INTRADAY_PROVIDER", "") or getattr(settings, "MARKETDATA_PROVIDER", "synthetic")
    options = dict(getattr(settings, "MARKETDATA_PROVIDER_OPTIONS", {}).get(name, {}))
    try:
        provider = provider_get(name, **options)
    except KeyError as exc:
        raise ValidationFailed(str(exc.args[0]), code="unknown_provider", field="provider") from exc
    if not isinstance(provider, IntradayProvider):
        raise ValidationFailed(f"provider {name!r} has no intraday quotes", code="no_intraday", field="provider")
    return provider


def quotes_until(frame: pd.DataFrame, now: dt.datetime) -> list[Quote]:
    """Each symbol's last quote at or before ``now`` from an intraday frame."""
    if frame.empty:
        return []
    seen = frame.loc[frame["timestamp"] <= pd.Timestamp(now).tz_convert("UTC")]
    last = seen.groupby("symbol", sort=True).tail(1)
    return [Quote(r.symbol, Decimal(str(r.price)), r.timestamp.to_pydatetime()) for r in last.itertuples()]


def intraday_poll(*, now: dt.datetime | None = None, provider: str | None = None,
                  interval_minutes: int | None = None) -> IntradayEvaluation:
    """Ask the intraday provider for every held asset's quote up to ``now`` and ingest them
    (bars of ``interval_minutes``, default ``OPS_INTRADAY_INTERVAL_MINUTES``)."""
    from django.conf import settings

    from marketdata.providers import ProviderError, UnknownSymbolsError

    interval_minutes = interval_minutes or settings.OPS_INTRADAY_INTERVAL_MINUTES

    now = now or timezone.now()
    held = sorted(set(Position.objects.filter(quantity__gt=0).values_list("asset__symbol", flat=True)))
    if not held:
        return IntradayEvaluation()
    source = intraday_provider_get(provider)
    day = now.astimezone(SESSION_TZ).date()
    try:
        try:
            frame = source.intraday(held, day, interval_minutes=interval_minutes)
        except UnknownSymbolsError as exc:  # quote the assets the provider knows
            known = [s for s in held if s not in set(exc.symbols)]
            logger.warning("intraday provider %s does not know %s", source.name, ", ".join(exc.symbols))
            frame = source.intraday(known, day, interval_minutes=interval_minutes) if known else None
    except ProviderError as exc:
        logger.warning("intraday poll of %s failed: %s", source.name, exc.message)
        return IntradayEvaluation()
    if frame is None:
        return IntradayEvaluation()
    return intraday_quotes_ingest(quotes=quotes_until(frame, now), provider=source.name)
