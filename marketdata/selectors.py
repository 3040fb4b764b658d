"""Reads of market data: assets, bars, return panels, latest prices, data health.

Return panels — the read every engine uses — come from one SQL statement over
``marketdata_pricebar`` (on PostgreSQL one packed binary value viewed by numpy) reading
the whole history of the requested symbols, pivoted to dates × symbols and cached in the
Django cache (windows are slices of the cached frame) under the current
:class:`~marketdata.models.PriceDataRevision`, which every write of bars bumps in its
own transaction. A cached panel is therefore never served after new bars commit.

Missing-data policy of panels (``how``):

* ``"inner"`` (default) — keep only dates on which *every* requested symbol has a bar
  ("require full history"): no NaN; an asset listed late shortens the panel.
* ``"outer"`` — keep every date on which *any* requested symbol has a bar; NaN where a
  symbol has none. Returns are then NaN wherever either of the two prices is missing,
  which suits pairwise estimators (pandas' ``cov``/``corr`` skip NaN pairwise).

Returns are between consecutive rows of the price panel (the first date has none).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby
from typing import Literal

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Max, OuterRef, Q, QuerySet, Subquery

from common.errors import NotFound, ValidationFailed
from marketdata.models import Asset, CorporateAction, PriceBar, PriceDataRevision
from marketdata.validation import AssetHealth, HealthRules, series_health

PanelField = Literal["open", "high", "low", "close", "adj_close", "volume"]
PANEL_FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "adj_close", "volume")
PANEL_CACHE_SECONDS = 24 * 60 * 60
_EPOCH = dt.date(2000, 1, 1)
_EPOCH64 = np.datetime64(_EPOCH, "D")

__all__ = [
    "AssetHealth",
    "asset_get",
    "asset_health_get",
    "asset_list",
    "bars_get",
    "latest_prices_get",
    "price_panel_get",
    "price_revision_get",
    "return_panel_get",
]


# --- assets -------------------------------------------------------------------------


def asset_list(
    *,
    asset_class: str | None = None,
    sector: str | None = None,
    search: str | None = None,
    is_active: bool | None = None,
) -> QuerySet[Asset]:
    """Assets filtered by class, sector (case-insensitive), and a search in symbol or name."""
    assets = Asset.objects.all()
    if asset_class:
        assets = assets.filter(asset_class=asset_class)
    if sector:
        assets = assets.filter(sector__iexact=sector)
    if search:
        assets = assets.filter(Q(symbol__icontains=search) | Q(name__icontains=search))
    if is_active is not None:
        assets = assets.filter(is_active=is_active)
    return assets.order_by("symbol")


def asset_get(*, symbol: str) -> Asset:
    """The asset with this symbol (case-sensitive) or NotFound naming it."""
    asset = Asset.objects.filter(symbol=symbol).first()
    if asset is None:
        raise NotFound(f"Unknown symbol {symbol!r}.", code="unknown_symbol", field="symbol")
    return asset


def _assets_resolve(symbols: Sequence[str], *, field: str) -> dict[str, Asset]:
    """Map every symbol to its asset in one query; NotFound naming the unknown ones."""
    symbols = list(symbols)
    if not symbols:
        raise ValidationFailed("Give at least one symbol.", code="empty", field=field)
    duplicates = sorted({s for s in symbols if symbols.count(s) > 1})
    if duplicates:
        raise ValidationFailed(f"Duplicate symbols: {', '.join(duplicates)}.", code="duplicate", field=field)
    found = {asset.symbol: asset for asset in Asset.objects.filter(symbol__in=symbols)}
    unknown = [s for s in symbols if s not in found]
    if unknown:
        raise NotFound(
            f"Unknown symbols: {', '.join(unknown)}.",
            code="unknown_symbol",
            field=field,
            extra={"symbols": unknown},
        )
    return found


def _window_check(start: dt.date | None, end: dt.date | None) -> None:
    if start is not None and end is not None and end < start:
        raise ValidationFailed(
            f"end ({end.isoformat()}) is before start ({start.isoformat()}).", code="inverted_range", field="end"
        )


# --- panels -------------------------------------------------------------------------


def price_revision_get() -> int:
    """The current revision of the bars (bumped by every write)."""
    return PriceDataRevision.objects.filter(pk=1).values_list("revision", flat=True).first() or 0


def _panel_cache_key(revision: int, ids: Sequence[int], start, end, field: str) -> str:
    digest = hashlib.blake2b(",".join(map(str, ids)).encode(), digest_size=12).hexdigest()
    return f"marketdata:panel:r{revision}:{field}:{start}:{end}:{digest}"


def _read_rows_postgresql(ids: Sequence[int], start, end, field: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(asset_id, day offset from 2000-01-01, value) of every bar in one statement.

    PostgreSQL packs the rows into one bytea of fixed-width big-endian records
    (``int4send || int4send || float8send``), fetched in binary and viewed by numpy
    without a Python object per row. Measured against COPY (one message per row),
    per-row fetches and float8[] arrays, this was the fastest (bench_marketdata_panel).
    """
    import psycopg  # PostgreSQL only

    conditions = ["asset_id = ANY(%s)"]
    params: list = [list(ids)]
    if start is not None:
        conditions.append("date >= %s")
        params.append(start)
    if end is not None:
        conditions.append("date <= %s")
        params.append(end)
    statement = (
        f"SELECT string_agg(int4send(asset_id::int4) || int4send(date - DATE '{_EPOCH.isoformat()}') "
        f"|| float8send({field}::float8), ''::bytea) "
        f"FROM {PriceBar._meta.db_table} WHERE {' AND '.join(conditions)}"
    )
    connection.ensure_connection()
    # Django's cursors bind client-side (text results); a plain psycopg cursor on the same
    # connection (same transaction) can ask for a binary result.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(statement, params, binary=True)
        payload = cursor.fetchone()[0] or b""
    rows = np.frombuffer(payload, dtype=np.dtype([("asset", ">i4"), ("day", ">i4"), ("value", ">f8")]))
    return rows["asset"].astype(np.int64), rows["day"].astype(np.int64), rows["value"].astype(np.float64)


def _read_rows_generic(ids: Sequence[int], start, end, field: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bars = PriceBar.objects.filter(asset_id__in=list(ids))
    if start is not None:
        bars = bars.filter(date__gte=start)
    if end is not None:
        bars = bars.filter(date__lte=end)
    sql, params = bars.values_list("asset_id", "date", field).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
    asset_ids, dates, values = zip(*rows, strict=True)
    days = (np.array([np.datetime64(d, "D") for d in map(_as_date, dates)]) - _EPOCH64).astype(np.int64)
    return np.asarray(asset_ids, np.int64), days, np.asarray([float(v) for v in values], np.float64)


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _panel_read(ids: Sequence[int], symbols: Sequence[str], start, end, field: str) -> pd.DataFrame:
    """The outer panel, dates × symbols, from one SQL statement."""
    reader = _read_rows_postgresql if connection.vendor == "postgresql" else _read_rows_generic
    asset_ids, days, values = reader(ids, start, end, field)
    # O(n) pivot with lookup tables (ids and day numbers are small integers), no sorting
    id_array = np.asarray(ids, dtype=np.int64)
    column_of = np.full(int(id_array.max()) + 1, -1, dtype=np.int64)
    column_of[id_array] = np.arange(len(id_array))
    columns = column_of[asset_ids]
    if len(days):
        first = int(days.min())
        offsets = days - first
        present = np.zeros(int(offsets.max()) + 1, dtype=bool)
        present[offsets] = True
        unique_days = np.flatnonzero(present) + first
        rows = (np.cumsum(present) - 1)[offsets]
    else:
        unique_days, rows = np.empty(0, np.int64), np.empty(0, np.int64)
    matrix = np.full((len(unique_days), len(ids)), np.nan)
    matrix[rows, columns] = values
    index = pd.DatetimeIndex((_EPOCH64 + unique_days.astype("timedelta64[D]")).astype("datetime64[ns]"), name="date")
    return pd.DataFrame(matrix, index=index, columns=pd.Index(list(symbols), name="symbol"))


def price_panel_get(
    *,
    symbols: Sequence[str],
    start: dt.date | None = None,
    end: dt.date | None = None,
    field: PanelField = "adj_close",
    how: Literal["inner", "outer"] = "inner",
    error_field: str = "symbols",
) -> pd.DataFrame:
    """Prices as a dates × symbols float64 frame (DatetimeIndex "date", columns in the
    order of ``symbols``) over the inclusive window; see the module docstring for ``how``.

    Raises NotFound (``error_field``) for unknown symbols, ValidationFailed for an empty or
    duplicated symbol list, an unknown field, or ``end < start``.
    """
    if field not in PANEL_FIELDS:
        raise ValidationFailed(f"Unknown price field {field!r}; use one of {', '.join(PANEL_FIELDS)}.", field="field")
    if how not in ("inner", "outer"):
        raise ValidationFailed("how must be 'inner' or 'outer'.", field="how")
    _window_check(start, end)
    assets = _assets_resolve(symbols, field=error_field)
    ids = [assets[s].pk for s in symbols]
    # The whole history of the symbol set is read and cached once per data revision;
    # windows are slices of it, so the daily cycle's moving as-of date and a backtest's
    # many windows over one universe cost one read.
    key = _panel_cache_key(price_revision_get(), ids, None, None, field)
    panel = cache.get(key)
    if panel is None:
        panel = _panel_read(ids, list(symbols), None, None, field)
        cache.set(key, panel, PANEL_CACHE_SECONDS)
    if start is not None or end is not None:
        panel = panel.loc[pd.Timestamp(start) if start else None : pd.Timestamp(end) if end else None]
    if how == "inner":
        panel = panel.loc[~panel.isna().any(axis=1)]
    return panel.copy()


def return_panel_get(
    *,
    symbols: Sequence[str],
    start: dt.date | None = None,
    end: dt.date | None = None,
    kind: Literal["simple", "log"] = "simple",
    how: Literal["inner", "outer"] = "inner",
    error_field: str = "symbols",
) -> pd.DataFrame:
    """Daily simple or log returns of the adjusted close, dates × symbols; the first
    date of the price panel has no return and is dropped."""
    if kind not in ("simple", "log"):
        raise ValidationFailed("kind must be 'simple' or 'log'.", field="kind")
    prices = price_panel_get(symbols=symbols, start=start, end=end, how=how, error_field=error_field)
    if kind == "simple":
        returns = prices / prices.shift(1) - 1.0
    else:
        returns = np.log(prices / prices.shift(1))
    return returns.iloc[1:]


# --- latest prices and health ------------------------------------------------------


def latest_prices_get(*, symbols: Sequence[str], as_of: dt.date, error_field: str = "symbols") -> dict[str, Decimal]:
    """Last adjusted close on or before ``as_of`` per symbol, in one query.

    Raises NotFound (code ``no_price``) naming the symbols that have no bar by then.
    """
    _assets_resolve(symbols, field=error_field)
    last = PriceBar.objects.filter(asset=OuterRef("pk"), date__lte=as_of).order_by("-date")
    rows = (
        Asset.objects.filter(symbol__in=list(symbols))
        .annotate(last_adj_close=Subquery(last.values("adj_close")[:1]))
        .values_list("symbol", "last_adj_close")
    )
    prices = dict(rows)
    without = [s for s in symbols if prices.get(s) is None]
    if without:
        raise NotFound(
            f"No price on or before {as_of.isoformat()} for: {', '.join(without)}.",
            code="no_price",
            field=error_field,
            extra={"symbols": without},
        )
    return {s: Decimal(prices[s]) for s in symbols}


def health_rules_get() -> HealthRules:
    """Health thresholds from settings ``MARKETDATA_HEALTH`` (a dict of HealthRules fields)."""
    return HealthRules(**getattr(settings, "MARKETDATA_HEALTH", {}))


def asset_health_get(
    *,
    symbols: Sequence[str],
    as_of: dt.date,
    rules: HealthRules | None = None,
    error_field: str = "symbols",
) -> dict[str, AssetHealth]:
    """Health of each symbol's series as of ``as_of`` (see :mod:`marketdata.validation`).

    Three queries whatever the number of symbols: last bar dates, the recent bars, and
    the corporate actions in that window.
    """
    rules = rules or health_rules_get()
    assets = _assets_resolve(symbols, field=error_field)
    ids = [assets[s].pk for s in symbols]
    last_dates = dict(
        PriceBar.objects.filter(asset_id__in=ids, date__lte=as_of)
        .values("asset_id")
        .annotate(last=Max("date"))
        .values_list("asset_id", "last")
    )
    # enough calendar days to hold lookback_days business days plus long holidays
    window_start = as_of - dt.timedelta(days=int(rules.lookback_days * 7 / 5) + 30)
    bars = pd.DataFrame.from_records(
        PriceBar.objects.filter(asset_id__in=ids, date__gte=window_start, date__lte=as_of).values_list(
            "asset_id", "date", "high", "low", "close", "adj_close"
        ),
        columns=["asset_id", "date", "high", "low", "close", "adj_close"],
    )
    actions: dict[int, set[dt.date]] = {}
    for asset_id, day in CorporateAction.objects.filter(
        asset_id__in=ids, date__gte=window_start, date__lte=as_of
    ).values_list("asset_id", "date"):
        actions.setdefault(asset_id, set()).add(day)
    grouped = dict(tuple(bars.groupby("asset_id"))) if not bars.empty else {}
    report: dict[str, AssetHealth] = {}
    for symbol in symbols:
        asset = assets[symbol]
        own = grouped.get(asset.pk)
        if own is None and asset.pk in last_dates:
            # bars exist but all before the window: stale, judged from the last date alone
            own = pd.DataFrame.from_records(
                PriceBar.objects.filter(asset_id=asset.pk, date=last_dates[asset.pk]).values_list(
                    "date", "high", "low", "close", "adj_close"
                ),
                columns=["date", "high", "low", "close", "adj_close"],
            )
        report[symbol] = series_health(
            symbol=symbol,
            asset_class=asset.asset_class,
            bars=own if own is not None else pd.DataFrame(columns=["date", "high", "low", "close", "adj_close"]),
            as_of=as_of,
            rules=rules,
            action_dates=actions.get(asset.pk, ()),
        )
    return report


# --- bars for the API ---------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One bar as served by the API (a daily bar, or a week/month aggregate dated by
    its last trading day)."""

    date: dt.date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    adj_close: Decimal
    volume: int


def _aggregate(bars: Iterable[Bar], key) -> list[Bar]:
    out = []
    for _, group in groupby(bars, key=lambda bar: key(bar.date)):
        items = list(group)
        out.append(
            Bar(
                date=items[-1].date,
                open=items[0].open,
                high=max(b.high for b in items),
                low=min(b.low for b in items),
                close=items[-1].close,
                adj_close=items[-1].adj_close,
                volume=sum(b.volume for b in items),
            )
        )
    return out


def bars_get(
    *,
    symbol: str,
    start: dt.date,
    end: dt.date,
    interval: Literal["daily", "weekly", "monthly"] = "daily",
) -> list[Bar]:
    """OHLCV bars of ``symbol`` in ``[start, end]``; weekly (ISO weeks) and monthly
    bars aggregate daily ones: first open, highest high, lowest low, last close and
    adjusted close, summed volume, dated by the period's last trading day."""
    _window_check(start, end)
    asset = asset_get(symbol=symbol)
    daily = [
        Bar(*row)
        for row in PriceBar.objects.filter(asset=asset, date__gte=start, date__lte=end)
        .order_by("date")
        .values_list("date", "open", "high", "low", "close", "adj_close", "volume")
    ]
    if interval == "daily":
        return daily
    if interval == "weekly":
        return _aggregate(daily, lambda d: d.isocalendar()[:2])
    if interval == "monthly":
        return _aggregate(daily, lambda d: (d.year, d.month))
    raise ValidationFailed("interval must be daily, weekly or monthly.", field="interval")


def asset_last_bar_date_get(*, symbol: str) -> dt.date | None:
    """Date of the asset's most recent bar (None when it has none)."""
    asset = asset_get(symbol=symbol)
    return asset.bars.aggregate(last=Max("date"))["last"]


def latest_price_date_get() -> dt.date | None:
    """Date of the most recent bar of any asset: the market's latest close (None without bars)."""
    return PriceBar.objects.aggregate(last=Max("date"))["last"]
