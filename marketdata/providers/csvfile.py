"""Parse and validate price files (wide or long CSV) into the tidy frame, all or nothing.

Formats:

* **wide** — a ``date`` column, then one column of *adjusted close* per symbol (like
  ``../shared/data/stock_prices.csv``). A wide file carries no OHLC or volume, so each
  bar gets ``open = high = low = close = adj_close`` and ``volume = 0``.
* **long** — ``date,symbol,open,high,low,close,volume`` and an optional ``adj_close``
  (``adj_close = close`` when the column is absent or the cell is empty). ``open``,
  ``high`` and ``low`` may be empty (they then equal ``close``); ``volume`` may be
  empty (0).

An empty price cell means "no quote that day" (wide: that symbol has no bar that day;
long: a row whose ``close`` and ``adj_close`` are both empty is skipped). Dates are ISO
8601 (``YYYY-MM-DD``). Nothing is repaired: the first bad cell — unparseable date,
non-numeric, zero or negative price, negative volume, a duplicate date for a symbol —
raises :class:`CsvRowError` naming the file line (the header is line 1) and the column,
and no rows are returned.

Corporate-action files (``date,symbol,type,value``) are parsed by
:func:`actions_csv_parse` with the same all-or-nothing rule.

Pure module: pandas only.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO, Literal

import numpy as np
import pandas as pd

from marketdata.providers.base import (
    PRICE_COLUMNS,
    TIDY_COLUMNS,
    UnknownSymbolsError,
    tidy_frame_empty,
    window_mask,
)

CsvFormat = Literal["wide", "long"]
LONG_REQUIRED: tuple[str, ...] = ("date", "symbol", "open", "high", "low", "close", "volume")
HEADER_LINE = 1


class CsvRowError(ValueError):
    """A bad cell. ``line`` is the 1-based line in the file (header = 1)."""

    def __init__(self, *, line: int, column: str, message: str, value: str | None = None) -> None:
        text = f"line {line}, column {column!r}: {message}"
        if value is not None:
            text += f" (got {value!r})"
        super().__init__(text)
        self.line = line
        self.column = column
        self.message = message
        self.value = value


@dataclass(frozen=True)
class _CellError:
    line: int
    column_position: int
    column: str
    message: str
    value: str | None


def _first(errors: list[_CellError]) -> None:
    """Raise the error that comes first in the file (by line, then column)."""
    if errors:
        first = min(errors, key=lambda e: (e.line, e.column_position))
        raise CsvRowError(line=first.line, column=first.column, message=first.message, value=first.value)


def _read_strings(source: str | os.PathLike[str] | IO[str]) -> pd.DataFrame:
    try:
        raw = pd.read_csv(source, dtype=str, keep_default_na=False, na_filter=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise CsvRowError(line=HEADER_LINE, column="date", message="the file is empty") from None
    except pd.errors.ParserError as exc:
        raise CsvRowError(line=HEADER_LINE, column="", message=f"not a valid CSV file: {exc}") from None
    raw.columns = [str(column).strip() for column in raw.columns]
    duplicated = [c for c in raw.columns if list(raw.columns).count(c) > 1]
    if duplicated:
        raise CsvRowError(line=HEADER_LINE, column=duplicated[0], message="duplicate column in the header")
    return raw.apply(lambda column: column.str.strip())


def _parse_dates(raw: pd.Series, lines: np.ndarray, position: int, errors: list[_CellError]) -> pd.Series:
    dates = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce")
    bad = dates.isna().to_numpy()
    if bad.any():
        k = int(np.argmax(bad))
        message = "missing date" if raw.iloc[k] == "" else "unparseable date; use YYYY-MM-DD"
        errors.append(_CellError(int(lines[k]), position, raw.name, message, raw.iloc[k]))
    return dates


def _parse_numbers(
    raw: pd.Series,
    lines: np.ndarray,
    position: int,
    errors: list[_CellError],
    *,
    positive: bool,
) -> pd.Series:
    """Parse a numeric column; empty cells become NaN, bad cells are recorded."""
    values = pd.to_numeric(raw.where(raw != ""), errors="coerce")
    present = (raw != "").to_numpy()
    numeric = values.to_numpy(dtype=float)
    not_number = present & ~np.isfinite(numeric)
    if positive:
        out_of_range = present & np.isfinite(numeric) & (numeric <= 0)
        range_message = "price must be positive"
    else:
        out_of_range = present & np.isfinite(numeric) & (numeric < 0)
        range_message = "volume must not be negative"
    for mask, message in ((not_number, "not a number"), (out_of_range, range_message)):
        if mask.any():
            k = int(np.argmax(mask))
            errors.append(_CellError(int(lines[k]), position, raw.name, message, raw.iloc[k]))
    return values.astype(float)


def _duplicates(
    keys: pd.DataFrame, lines: np.ndarray, position: int, errors: list[_CellError], *, message: str
) -> None:
    duplicated = keys.duplicated(keep="first").to_numpy()
    if duplicated.any():
        k = int(np.argmax(duplicated))
        errors.append(_CellError(int(lines[k]), position, "date", message, None))


def parse_wide(raw: pd.DataFrame) -> pd.DataFrame:
    """Wide strings frame → tidy frame (see the module docstring)."""
    if "date" not in raw.columns:
        raise CsvRowError(line=HEADER_LINE, column="date", message="a wide file needs a 'date' column")
    symbols = [c for c in raw.columns if c != "date"]
    if not symbols or any(s == "" or s.startswith("Unnamed:") for s in symbols):
        raise CsvRowError(line=HEADER_LINE, column="", message="every column after 'date' must name a symbol")
    lines = np.arange(len(raw)) + HEADER_LINE + 1
    errors: list[_CellError] = []
    positions = {c: k for k, c in enumerate(raw.columns)}
    dates = _parse_dates(raw["date"], lines, positions["date"], errors)
    _duplicates(raw[["date"]], lines, positions["date"], errors, message="duplicate date")
    prices = {s: _parse_numbers(raw[s], lines, positions[s], errors, positive=True) for s in symbols}
    _first(errors)
    matrix = pd.DataFrame(prices)
    matrix.index = dates
    stacked = matrix.stack(future_stack=True).dropna()
    if stacked.empty:
        return tidy_frame_empty()
    frame = pd.DataFrame(
        {
            "date": stacked.index.get_level_values(0),
            "symbol": stacked.index.get_level_values(1).astype(object),
            "adj_close": stacked.to_numpy(),
        }
    )
    for column in ("open", "high", "low", "close"):
        frame[column] = frame["adj_close"]
    frame["volume"] = 0
    return _sorted(frame)


def parse_long(raw: pd.DataFrame) -> pd.DataFrame:
    """Long strings frame → tidy frame (see the module docstring)."""
    missing = [c for c in LONG_REQUIRED if c not in raw.columns]
    if missing:
        raise CsvRowError(line=HEADER_LINE, column=missing[0], message=f"a long file needs columns {list(LONG_REQUIRED)}")
    lines = np.arange(len(raw)) + HEADER_LINE + 1
    positions = {c: k for k, c in enumerate(raw.columns)}
    has_adj = "adj_close" in raw.columns
    quoted = (raw["close"] != "") | ((raw["adj_close"] != "") if has_adj else False)
    quoted = np.asarray(quoted, dtype=bool)
    raw, lines = raw.loc[quoted].reset_index(drop=True), lines[quoted]
    errors: list[_CellError] = []
    dates = _parse_dates(raw["date"], lines, positions["date"], errors)
    empty_symbol = (raw["symbol"] == "").to_numpy()
    if empty_symbol.any():
        k = int(np.argmax(empty_symbol))
        errors.append(_CellError(int(lines[k]), positions["symbol"], "symbol", "missing symbol", ""))
    numbers = {
        c: _parse_numbers(raw[c], lines, positions[c], errors, positive=True)
        for c in (*PRICE_COLUMNS[:4], *(("adj_close",) if has_adj else ()))
    }
    volume = _parse_numbers(raw["volume"], lines, positions["volume"], errors, positive=False)
    fractional = (volume.notna() & (volume != np.floor(volume))).to_numpy()
    if fractional.any():
        k = int(np.argmax(fractional))
        errors.append(_CellError(int(lines[k]), positions["volume"], "volume", "volume must be a whole number", raw["volume"].iloc[k]))
    _duplicates(
        pd.DataFrame({"s": raw["symbol"], "d": dates}),
        lines,
        positions["date"],
        errors,
        message="duplicate date for this symbol",
    )
    _first(errors)
    close = numbers["close"].fillna(numbers["adj_close"]) if has_adj else numbers["close"]
    adj_close = numbers["adj_close"].fillna(close) if has_adj else close
    frame = pd.DataFrame(
        {
            "date": dates,
            "symbol": raw["symbol"].astype(object),
            "open": numbers["open"].fillna(close),
            "high": numbers["high"].fillna(close),
            "low": numbers["low"].fillna(close),
            "close": close,
            "adj_close": adj_close,
            "volume": volume.fillna(0).astype("int64"),
        }
    )
    return _sorted(frame)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.loc[:, list(TIDY_COLUMNS)]
    frame["date"] = frame["date"].astype("datetime64[ns]")
    frame["volume"] = frame["volume"].astype("int64")
    return frame.sort_values(["date", "symbol"], kind="stable").reset_index(drop=True)


def prices_csv_parse(source: str | os.PathLike[str] | IO[str], *, fmt: CsvFormat = "wide") -> pd.DataFrame:
    """Read a whole price file into the tidy frame, or raise :class:`CsvRowError`."""
    if fmt not in ("wide", "long"):
        raise ValueError(f"unknown CSV format {fmt!r}; use 'wide' or 'long'")
    raw = _read_strings(source)
    return parse_wide(raw) if fmt == "wide" else parse_long(raw)


class CsvProvider:
    """A price file behind the provider interface (the file is parsed once, lazily)."""

    name = "csv"

    def __init__(self, *, path: str | os.PathLike[str], fmt: CsvFormat = "wide") -> None:
        self.path = path
        self.fmt = fmt
        self._frame: pd.DataFrame | None = None

    @property
    def price_basis(self) -> str:
        """``adjusted`` for a wide file (its closes are adjusted closes), ``raw`` for a long one."""
        return "adjusted" if self.fmt == "wide" else "raw"

    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = prices_csv_parse(self.path, fmt=self.fmt)
        return self._frame

    def fetch(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        frame = self.frame()
        unknown = sorted(set(symbols) - set(frame["symbol"].unique()))
        if unknown:
            raise UnknownSymbolsError(f"{os.fspath(self.path)} has no symbols {unknown}", symbols=unknown)
        mask = window_mask(frame["date"], start, end) & frame["symbol"].isin(list(symbols)).to_numpy()
        return frame.loc[mask].reset_index(drop=True)


# --- corporate actions ------------------------------------------------------------------

ACTION_REQUIRED: tuple[str, ...] = ("date", "symbol", "type", "value")
ACTION_OPTIONAL: tuple[str, ...] = ("pay_date", "qualified", "note")
ACTION_TYPES = ("split", "dividend")
_TRUE = {"true", "yes", "1", "qualified"}
_FALSE = {"false", "no", "0", "ordinary"}


@dataclass(frozen=True)
class ActionRow:
    """One corporate action of a file: ``kind`` split (``numerator`` for ``denominator``) or
    dividend (``amount`` per share, paid on ``pay_date``, ``qualified`` if known)."""

    line: int
    date: dt.date
    symbol: str
    kind: str
    numerator: Decimal | None = None
    denominator: Decimal | None = None
    amount: Decimal | None = None
    pay_date: dt.date | None = None
    qualified: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> Decimal:
        """Split: new shares per share held; dividend: cash per share."""
        if self.kind == "split":
            assert self.numerator is not None and self.denominator is not None
            return self.numerator / self.denominator
        assert self.amount is not None
        return self.amount


_SPLIT_TERMS = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(?::|/|-for-|\s+for\s+)\s*([0-9]*\.?[0-9]+)\s*$", re.IGNORECASE)


def _positive_decimal(text: str, *, line: int, column: str, places: int = 8) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CsvRowError(line=line, column=column, message="not a number", value=text) from None
    if not value.is_finite() or value <= 0:
        raise CsvRowError(line=line, column=column, message="must be a positive number", value=text)
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise CsvRowError(line=line, column=column, message=f"more than {places} decimal places", value=text)
    return value


def _split_terms(text: str, *, line: int) -> tuple[Decimal, Decimal]:
    """``2``, ``2:1``, ``3/2``, ``1-for-10`` → (numerator, denominator)."""
    match = _SPLIT_TERMS.match(text)
    if match:
        numerator = _positive_decimal(match.group(1), line=line, column="value")
        denominator = _positive_decimal(match.group(2), line=line, column="value")
    else:
        numerator, denominator = _positive_decimal(text, line=line, column="value"), Decimal(1)
    if numerator == denominator:
        raise CsvRowError(line=line, column="value", message="a split ratio of 1 changes nothing", value=text)
    return numerator, denominator


def _iso_date(text: str, *, line: int, column: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        message = f"missing {column}" if text == "" else "unparseable date; use YYYY-MM-DD"
        raise CsvRowError(line=line, column=column, message=message, value=text) from None


def actions_csv_parse(source: str | os.PathLike[str] | IO[str]) -> list[ActionRow]:
    """Read a whole corporate-action file, or raise :class:`CsvRowError` at the first bad cell.

    Columns ``date,symbol,type,value`` (``type`` split or dividend; ``value`` the split
    ratio — ``2``, ``2:1``, ``3/2``, ``1-for-10`` — or the cash dividend per share),
    optional ``pay_date`` (dividends; default: the ex-date), ``qualified``
    (true/false; empty: unknown) and ``note``. ``date`` is the ex-date. A (symbol, date,
    type) twice is an error. Nothing is returned unless every row is valid.
    """
    raw = _read_strings(source)
    missing = [c for c in ACTION_REQUIRED if c not in raw.columns]
    if missing:
        raise CsvRowError(line=HEADER_LINE, column=missing[0], message=f"an action file needs columns {list(ACTION_REQUIRED)}")
    unknown = [c for c in raw.columns if c not in (*ACTION_REQUIRED, *ACTION_OPTIONAL)]
    if unknown:
        raise CsvRowError(line=HEADER_LINE, column=unknown[0], message=f"unknown column; known: {[*ACTION_REQUIRED, *ACTION_OPTIONAL]}")
    rows: list[ActionRow] = []
    seen: dict[tuple[str, dt.date, str], int] = {}
    for k, record in enumerate(raw.to_dict("records")):
        line = k + HEADER_LINE + 1
        if not any(str(v) for v in record.values()):
            continue  # a blank line
        day = _iso_date(record["date"], line=line, column="date")
        symbol = record["symbol"]
        if not symbol:
            raise CsvRowError(line=line, column="symbol", message="missing symbol", value="")
        kind = record["type"].lower()
        if kind not in ACTION_TYPES:
            raise CsvRowError(line=line, column="type", message=f"type must be one of {list(ACTION_TYPES)}", value=record["type"])
        key = (symbol, day, kind)
        if key in seen:
            raise CsvRowError(line=line, column="date", message=f"duplicate {kind} of {symbol} on this date (line {seen[key]})")
        seen[key] = line
        pay_text = record.get("pay_date", "") or ""
        qualified_text = (record.get("qualified", "") or "").lower()
        if kind == "split":
            if pay_text or qualified_text:
                column = "pay_date" if pay_text else "qualified"
                raise CsvRowError(line=line, column=column, message="only dividends have a pay date or a qualification")
            numerator, denominator = _split_terms(record["value"], line=line)
            rows.append(ActionRow(line, day, symbol, kind, numerator=numerator, denominator=denominator,
                                  note=record.get("note", "") or ""))
            continue
        amount = _positive_decimal(record["value"], line=line, column="value")
        pay_date = _iso_date(pay_text, line=line, column="pay_date") if pay_text else None
        if pay_date is not None and pay_date < day:
            raise CsvRowError(line=line, column="pay_date", message="the pay date is before the ex-date", value=pay_text)
        if qualified_text and qualified_text not in _TRUE | _FALSE:
            raise CsvRowError(line=line, column="qualified", message="use true or false (or leave it empty)", value=qualified_text)
        qualified = True if qualified_text in _TRUE else False if qualified_text in _FALSE else None
        rows.append(ActionRow(line, day, symbol, kind, amount=amount, pay_date=pay_date, qualified=qualified,
                              note=record.get("note", "") or ""))
    return rows
