"""The price-provider interface, its errors, the tidy frame it returns, and the registry.

Every provider returns the same *tidy* frame: one row per (date, symbol) with columns
``date, symbol, open, high, low, close, adj_close, volume``; ``date`` is a
``datetime64[ns]`` at midnight (a trading day, no time zone), prices are float64 in the
asset's currency, ``volume`` is int64. Rows are sorted by (date, symbol) and unique per
(date, symbol).

Pure module: no Django import (services wrap it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

TIDY_COLUMNS: tuple[str, ...] = ("date", "symbol", "open", "high", "low", "close", "adj_close", "volume")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "adj_close")


class ProviderError(Exception):
    """A provider could not deliver prices (network, upstream error, bad payload)."""

    def __init__(self, message: str, *, symbols: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.symbols = list(symbols)


class UnknownSymbolsError(ProviderError):
    """The provider does not know these symbols."""


@runtime_checkable
class PriceProvider(Protocol):
    """A source of daily bars.

    ``fetch`` returns the tidy frame described in the module docstring for the
    requested symbols and the inclusive window ``[start, end]``; days without a
    quote are simply absent. Raises :class:`UnknownSymbolsError` for symbols it does
    not know and :class:`ProviderError` for any other failure.
    """

    name: str

    def fetch(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame: ...


INTRADAY_COLUMNS: tuple[str, ...] = ("timestamp", "symbol", "price", "volume")
"""Intraday quotes: ``timestamp`` tz-aware UTC (when the price was made: a bar's end),
``price`` float64, ``volume`` int64 traded in the interval ending then."""


@runtime_checkable
class IntradayProvider(Protocol):
    """A source of intraday quotes for one trading session.

    ``intraday`` returns the frame of :data:`INTRADAY_COLUMNS` for ``symbols`` on
    ``day`` every ``interval_minutes``, sorted by (timestamp, symbol); an empty frame
    for a day without a session. Same errors as :class:`PriceProvider`.
    """

    name: str

    def intraday(self, symbols: Sequence[str], day: dt.date, *, interval_minutes: int = 5) -> pd.DataFrame: ...


def intraday_frame_empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.Series([], dtype="datetime64[ns, UTC]"),
            "symbol": pd.Series([], dtype=object),
            "price": pd.Series([], dtype="float64"),
            "volume": pd.Series([], dtype="int64"),
        }
    )


def tidy_frame_empty() -> pd.DataFrame:
    """An empty tidy frame with the right dtypes."""
    return pd.DataFrame(
        {
            "date": pd.Series([], dtype="datetime64[ns]"),
            "symbol": pd.Series([], dtype=object),
            **{column: pd.Series([], dtype="float64") for column in PRICE_COLUMNS},
            "volume": pd.Series([], dtype="int64"),
        }
    )


def tidy_frame_normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with exactly the tidy columns and dtypes, sorted by (date, symbol)."""
    missing = [column for column in TIDY_COLUMNS if column not in frame.columns]
    if missing:
        raise ProviderError(f"tidy frame lacks columns {missing}")
    out = frame.loc[:, list(TIDY_COLUMNS)].copy()
    out["date"] = pd.to_datetime(out["date"]).dt.normalize().astype("datetime64[ns]")
    out["symbol"] = out["symbol"].astype(str).astype(object)
    for column in PRICE_COLUMNS:
        out[column] = out[column].astype("float64")
    out["volume"] = out["volume"].fillna(0).astype("int64")
    return out.sort_values(["date", "symbol"], kind="stable").reset_index(drop=True)


def window_mask(dates: pd.Series | pd.DatetimeIndex, start: dt.date | None, end: dt.date | None) -> np.ndarray:
    """Boolean mask of ``dates`` inside the inclusive window (either bound may be None)."""
    mask = np.ones(len(dates), dtype=bool)
    if start is not None:
        mask &= np.asarray(dates >= pd.Timestamp(start))
    if end is not None:
        mask &= np.asarray(dates <= pd.Timestamp(end))
    return mask


def _synthetic(**options: Any) -> PriceProvider:
    from marketdata.providers.synthetic import SyntheticProvider

    return SyntheticProvider(**options)


def _csv(**options: Any) -> PriceProvider:
    from marketdata.providers.csvfile import CsvProvider

    return CsvProvider(**options)


def _yahoo(**options: Any) -> PriceProvider:
    from marketdata.providers.yahoo import YahooChartProvider

    return YahooChartProvider(**options)


PROVIDERS: dict[str, Callable[..., PriceProvider]] = {
    "synthetic": _synthetic,
    "csv": _csv,
    "yahoo": _yahoo,
}


def provider_get(name: str, **options: Any) -> PriceProvider:
    """Build the provider registered as ``name`` ("synthetic", "csv", "yahoo").

    ``options`` go to the provider's constructor (``seed`` for synthetic, ``path`` and
    ``fmt`` for csv, ``session``/``max_retries`` for yahoo). Raises ``KeyError`` naming
    the known providers for an unknown name.
    """
    try:
        factory = PROVIDERS[name]
    except KeyError:
        raise KeyError(f"unknown price provider {name!r}; known: {sorted(PROVIDERS)}") from None
    return factory(**options)
