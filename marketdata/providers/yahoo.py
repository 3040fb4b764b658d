"""Daily bars from Yahoo Finance's public chart API (``/v8/finance/chart/{symbol}``).

One GET per symbol with ``interval=1d`` and ``includeAdjustedClose=true``. Responses
are JSON::

    {"chart": {"result": [{"meta": {"symbol", "currency", "exchangeTimezoneName", ...},
                           "timestamp": [epoch seconds of each session's open],
                           "indicators": {"quote": [{"open": [...], "high": [...], "low": [...],
                                                     "close": [...], "volume": [...]}],
                                          "adjclose": [{"adjclose": [...]}]}}],
               "error": null}}

and for an unknown symbol HTTP 404 with ``{"chart": {"result": null, "error":
{"code": "Not Found", "description": ...}}}``. Timestamps are converted to the
exchange's local date. Rows whose prices are ``null`` (Yahoo's placeholder for a
session without a quote) are dropped; nothing else is altered.

Transient failures (connection errors, timeouts, HTTP 429 and 5xx) are retried with
exponential backoff — ``backoff * 2**attempt`` seconds, honouring ``Retry-After`` when
Yahoo sends it — up to ``max_retries`` times; then :class:`ProviderError`. The HTTP
session and the sleep function are injectable, so tests replay recorded responses and
never touch the network.

Pure module: requests and pandas only.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
import requests

from marketdata.providers.base import (
    INTRADAY_COLUMNS,
    TIDY_COLUMNS,
    ProviderError,
    UnknownSymbolsError,
    intraday_frame_empty,
    tidy_frame_empty,
    tidy_frame_normalize,
)

CHART_URL = "https://query2.finance.yahoo.com/v8/finance/chart/{symbol}"
ACTION_COLUMNS = ("date", "symbol", "kind", "ratio", "numerator", "denominator")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "Mozilla/5.0 (compatible; rebalancer-marketdata/1.0)"
INTRADAY_INTERVALS = (1, 2, 5, 15, 30, 60, 90)
"""Minutes Yahoo's chart API accepts as an intraday ``interval`` ("1m" ... "90m")."""


class HttpResponse(Protocol):
    status_code: int
    headers: Any

    def json(self) -> Any: ...


class HttpSession(Protocol):
    def get(self, url: str, *, params: dict[str, Any], timeout: float, headers: dict[str, str]) -> HttpResponse: ...


class YahooChartProvider:
    """Yahoo's chart API behind the provider interface, with retries and backoff."""

    name = "yahoo"
    price_basis = "raw"
    """``close`` is the close as traded; ``adj_close`` is split- and dividend-adjusted."""

    def __init__(
        self,
        *,
        session: HttpSession | None = None,
        max_retries: int = 4,
        backoff: float = 1.0,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        url: str = CHART_URL,
    ) -> None:
        self.session: HttpSession = session or requests.Session()
        self.max_retries = max_retries
        self.backoff = backoff
        self.timeout = timeout
        self.sleep = sleep
        self.url = url

    def fetch(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        """Bars of ``symbols``; the corporate actions Yahoo sent with them (dividends and
        splits in the window) are left in ``self.actions`` (date, symbol, kind, ratio)."""
        frames, unknown, actions = [], [], []
        for symbol in symbols:
            try:
                frames.append(self.fetch_one(symbol, start, end))
            except UnknownSymbolsError:
                unknown.append(symbol)
                continue
            actions.append(self._last_actions)
        self.actions = (
            pd.concat(actions, ignore_index=True) if actions else pd.DataFrame(columns=list(ACTION_COLUMNS))
        )
        if unknown:
            raise UnknownSymbolsError(f"Yahoo does not know {unknown}", symbols=unknown)
        frames = [f for f in frames if not f.empty]
        if not frames:
            return tidy_frame_empty()
        return tidy_frame_normalize(pd.concat(frames, ignore_index=True))

    def fetch_one(self, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Bars of one symbol in ``[start, end]``."""
        period1 = int(dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC).timestamp())
        # period2 is exclusive upstream; ask for the whole end day
        period2 = int(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC).timestamp())
        params = {
            "period1": period1,
            "period2": period2,
            "interval": "1d",
            "includeAdjustedClose": "true",
            "events": "div,splits",
        }
        payload = self._get_json(symbol, params)
        frame = chart_payload_parse(symbol, payload)
        actions = chart_events_parse(symbol, payload)
        in_window = (actions["date"] >= pd.Timestamp(start)) & (actions["date"] <= pd.Timestamp(end))
        self._last_actions = actions.loc[in_window].reset_index(drop=True)
        dates = frame["date"]
        return frame.loc[(dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))].reset_index(drop=True)

    def intraday(self, symbols: Sequence[str], day: dt.date, *, interval_minutes: int = 5) -> pd.DataFrame:
        """Intraday quotes of ``day``'s regular session, one GET per symbol with
        ``interval={n}m`` (same retries as daily bars); unknown symbols raise
        :class:`UnknownSymbolsError` naming them after the others were fetched."""
        if interval_minutes not in INTRADAY_INTERVALS:
            raise ValueError(f"Yahoo's intraday intervals are {INTRADAY_INTERVALS} minutes")
        period1 = int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp())
        period2 = int(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC).timestamp())
        params = {"period1": period1, "period2": period2, "interval": f"{interval_minutes}m",
                  "includePrePost": "false"}
        frames, unknown = [], []
        for symbol in symbols:
            try:
                payload = self._get_json(symbol, params)
                frames.append(chart_intraday_parse(symbol, payload, interval_minutes=interval_minutes))
            except UnknownSymbolsError:
                unknown.append(symbol)
        if unknown:
            raise UnknownSymbolsError(f"Yahoo does not know {unknown}", symbols=unknown)
        frames = [f for f in frames if not f.empty]
        if not frames:
            return intraday_frame_empty()
        out = pd.concat(frames, ignore_index=True)
        return out.sort_values(["timestamp", "symbol"], kind="stable").reset_index(drop=True)

    def _get_json(self, symbol: str, params: dict[str, Any]) -> Any:
        url = self.url.format(symbol=symbol)
        last_problem = ""
        for attempt in range(self.max_retries + 1):
            try:
                response = self.session.get(
                    url, params=params, timeout=self.timeout, headers={"User-Agent": USER_AGENT}
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 404:
                    raise UnknownSymbolsError(f"Yahoo does not know {symbol!r}", symbols=[symbol])
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError as exc:
                        raise ProviderError(f"Yahoo sent invalid JSON for {symbol!r}: {exc}", symbols=[symbol]) from exc
                if response.status_code not in RETRY_STATUSES:
                    raise ProviderError(
                        f"Yahoo answered HTTP {response.status_code} for {symbol!r}", symbols=[symbol]
                    )
                last_problem = f"HTTP {response.status_code}"
                retry_after = _retry_after(response)
                if retry_after is not None and attempt < self.max_retries:
                    self.sleep(retry_after)
                    continue
            if attempt < self.max_retries:
                self.sleep(self.backoff * 2**attempt)
        raise ProviderError(
            f"Yahoo failed for {symbol!r} after {self.max_retries + 1} attempts ({last_problem})", symbols=[symbol]
        )


def _retry_after(response: HttpResponse) -> float | None:
    value = (response.headers or {}).get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def chart_payload_parse(symbol: str, payload: Any) -> pd.DataFrame:
    """Turn one chart JSON payload into the tidy frame (raises ProviderError if malformed)."""
    try:
        chart = payload["chart"]
        error = chart.get("error")
        if error:
            if error.get("code") == "Not Found":
                raise UnknownSymbolsError(f"Yahoo does not know {symbol!r}", symbols=[symbol])
            raise ProviderError(f"Yahoo error for {symbol!r}: {error.get('description') or error}", symbols=[symbol])
        result = chart["result"][0]
        timestamps = result.get("timestamp") or []
        if not timestamps:
            return tidy_frame_empty()
        tz = result["meta"].get("exchangeTimezoneName") or "America/New_York"
        quote = result["indicators"]["quote"][0]
        adjclose_block = result["indicators"].get("adjclose") or [{}]
        adjclose = adjclose_block[0].get("adjclose") or quote["close"]
        columns = {
            "open": quote["open"],
            "high": quote["high"],
            "low": quote["low"],
            "close": quote["close"],
            "adj_close": adjclose,
            "volume": quote["volume"],
        }
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ProviderError(f"unexpected Yahoo payload for {symbol!r}: {exc!r}", symbols=[symbol]) from exc
    if any(len(values) != len(timestamps) for values in columns.values()):
        raise ProviderError(f"Yahoo arrays of unequal length for {symbol!r}", symbols=[symbol])
    local = pd.to_datetime(np.asarray(timestamps, dtype="int64"), unit="s", utc=True).tz_convert(tz)
    frame = pd.DataFrame(
        {name: pd.to_numeric(pd.Series(values, dtype=object), errors="coerce") for name, values in columns.items()}
    )
    frame.insert(0, "symbol", symbol)
    frame.insert(0, "date", local.tz_localize(None).normalize())
    quoted = frame[["open", "high", "low", "close", "adj_close"]].notna().all(axis=1)
    frame = frame.loc[quoted]
    # Yahoo occasionally repeats the live session as a second row of the same date; keep the last
    frame = frame.drop_duplicates(subset=["date"], keep="last")
    return tidy_frame_normalize(frame.loc[:, list(TIDY_COLUMNS)])


def chart_events_parse(symbol: str, payload: Any) -> pd.DataFrame:
    """Dividends (ratio = amount per share) and splits (ratio = numerator / denominator,
    e.g. 4 for 1 → 4.0, a 1-for-10 reverse split → 0.1) of one chart payload, as a frame
    with columns date (the ex-date), symbol, kind, ratio, numerator, denominator (NaN for
    dividends). Yahoo gives no pay date or tax character."""
    try:
        result = payload["chart"]["result"][0]
        tz = result["meta"].get("exchangeTimezoneName") or "America/New_York"
        events = result.get("events") or {}
        rows = [
            (item["date"], "dividend", float(item["amount"]), np.nan, np.nan)
            for item in (events.get("dividends") or {}).values()
        ] + [
            (item["date"], "split", float(item["numerator"]) / float(item["denominator"]),
             float(item["numerator"]), float(item["denominator"]))
            for item in (events.get("splits") or {}).values()
        ]
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise ProviderError(f"unexpected Yahoo events for {symbol!r}: {exc!r}", symbols=[symbol]) from exc
    if not rows:
        return pd.DataFrame(columns=list(ACTION_COLUMNS))
    stamps, kinds, ratios, numerators, denominators = zip(*rows, strict=True)
    local = pd.to_datetime(np.asarray(stamps, dtype="int64"), unit="s", utc=True).tz_convert(tz)
    return pd.DataFrame(
        {"date": local.tz_localize(None).normalize(), "symbol": symbol, "kind": list(kinds), "ratio": list(ratios),
         "numerator": list(numerators), "denominator": list(denominators)}
    ).sort_values(["date", "kind"], ignore_index=True)


def chart_intraday_parse(symbol: str, payload: Any, *, interval_minutes: int) -> pd.DataFrame:
    """One intraday chart payload as the intraday frame: each bar's close, stamped at the
    bar's end in UTC (the time the price was made); bars without a close are dropped."""
    try:
        chart = payload["chart"]
        error = chart.get("error")
        if error:
            if error.get("code") == "Not Found":
                raise UnknownSymbolsError(f"Yahoo does not know {symbol!r}", symbols=[symbol])
            raise ProviderError(f"Yahoo error for {symbol!r}: {error.get('description') or error}", symbols=[symbol])
        result = chart["result"][0]
        timestamps = result.get("timestamp") or []
        if not timestamps:
            return intraday_frame_empty()
        quote = result["indicators"]["quote"][0]
        closes, volumes = quote["close"], quote.get("volume") or [0] * len(timestamps)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ProviderError(f"unexpected Yahoo payload for {symbol!r}: {exc!r}", symbols=[symbol]) from exc
    if len(closes) != len(timestamps) or len(volumes) != len(timestamps):
        raise ProviderError(f"Yahoo arrays of unequal length for {symbol!r}", symbols=[symbol])
    stamps = pd.to_datetime(np.asarray(timestamps, dtype="int64") + 60 * interval_minutes, unit="s", utc=True)
    frame = pd.DataFrame({
        "timestamp": stamps,
        "symbol": symbol,
        "price": pd.to_numeric(pd.Series(closes, dtype=object), errors="coerce").astype("float64"),
        "volume": pd.to_numeric(pd.Series(volumes, dtype=object), errors="coerce").fillna(0).astype("int64"),
    })
    frame = frame.loc[frame["price"].notna() & (frame["price"] > 0)]
    frame = frame.drop_duplicates(subset=["timestamp"], keep="last")
    return frame.loc[:, list(INTRADAY_COLUMNS)].reset_index(drop=True)
