"""Parsing and all-or-nothing validation of price files (DB-free)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest

from marketdata.providers.base import TIDY_COLUMNS, UnknownSymbolsError, provider_get
from marketdata.providers.csvfile import CsvProvider, CsvRowError, prices_csv_parse

STOCKS = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "stock_prices.csv"


def parse(text: str, fmt: str = "wide") -> pd.DataFrame:
    return prices_csv_parse(io.StringIO(text), fmt=fmt)


def error_of(text: str, fmt: str = "wide") -> CsvRowError:
    with pytest.raises(CsvRowError) as caught:
        parse(text, fmt)
    return caught.value


def test_the_shared_stock_file_parses_completely():
    # when
    frame = prices_csv_parse(STOCKS, fmt="wide")
    raw = pd.read_csv(STOCKS)

    # then: one bar per non-empty cell, values exactly as in the file
    assert list(frame.columns) == list(TIDY_COLUMNS)
    assert len(frame) == int(raw.drop(columns="date").notna().sum().sum()) == 106_931
    first = frame[(frame["symbol"] == "AAPL") & (frame["date"] == "1989-12-29")].iloc[0]
    assert first["adj_close"] == first["open"] == first["close"] == 0.117203
    assert first["volume"] == 0
    assert frame["date"].min() == pd.Timestamp("1989-12-29")
    assert frame["date"].max() == pd.Timestamp("2018-04-11")
    assert frame.loc[frame["symbol"] == "FB", "date"].min().year == 2012


def test_wide_empty_cells_mean_no_quote():
    # when
    frame = parse("date,A,B\n2020-01-01,1.5,\n2020-01-02,1.6,2.5\n")

    # then
    assert list(zip(frame["date"].dt.date, frame["symbol"], frame["adj_close"], strict=True)) == [
        (dt.date(2020, 1, 1), "A", 1.5),
        (dt.date(2020, 1, 2), "A", 1.6),
        (dt.date(2020, 1, 2), "B", 2.5),
    ]


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("date,A,B\n2020-01-01,1,2\n2020-01-02,1,-2\n", 3, "B", "price must be positive"),
        ("date,A,B\n2020-01-01,1,2\n2020-01-02,0,2\n", 3, "A", "price must be positive"),
        ("date,A,B\n2020-01-01,1,2\n2020-13-02,1,2\n", 3, "date", "unparseable date; use YYYY-MM-DD"),
        ("date,A,B\n2020-01-01,1,2\n02/01/2020,1,2\n", 3, "date", "unparseable date; use YYYY-MM-DD"),
        ("date,A,B\n2020-01-01,1,2\n2020-01-01,1,3\n", 3, "date", "duplicate date"),
        ("date,A,B\n2020-01-01,1,abc\n", 2, "B", "not a number"),
        ("date,A,B\n2020-01-01,1,2\n,1,2\n", 3, "date", "missing date"),
    ],
)
def test_wide_bad_cells_name_line_and_column(text, line, column, message):
    # when
    error = error_of(text)

    # then
    assert (error.line, error.column, error.message) == (line, column, message)


def test_the_first_bad_cell_in_file_order_is_reported():
    # given: a bad price on line 4 and a bad date on line 3
    error = error_of("date,A\n2020-01-01,1\n2020-01-0x,1\n2020-01-03,-1\n")

    # then
    assert (error.line, error.column) == (3, "date")
    assert str(error) == "line 3, column 'date': unparseable date; use YYYY-MM-DD (got '2020-01-0x')"


def test_wide_needs_a_date_column_and_symbols():
    assert error_of("day,A\n2020-01-01,1\n").column == "date"
    assert error_of("date\n2020-01-01\n").line == 1
    assert error_of("").line == 1


LONG_HEADER = "date,symbol,open,high,low,close,volume"


def test_long_format_with_and_without_adjusted_close():
    # when
    plain = parse(f"{LONG_HEADER}\n2020-01-02,X,10,11,9,10.5,1000\n", "long")
    adjusted = parse(f"{LONG_HEADER},adj_close\n2020-01-02,X,10,11,9,10.5,1000,10.25\n", "long")

    # then
    assert plain.iloc[0][["open", "high", "low", "close", "adj_close", "volume"]].tolist() == [10, 11, 9, 10.5, 10.5, 1000]
    assert adjusted.iloc[0]["adj_close"] == 10.25
    assert adjusted.iloc[0]["close"] == 10.5


def test_long_rows_without_a_close_are_no_quote_and_optional_cells_default():
    # when
    frame = parse(f"{LONG_HEADER}\n2020-01-02,X,,,,,\n2020-01-03,X,,,,10.5,\n", "long")

    # then
    assert len(frame) == 1
    assert frame.iloc[0][["open", "high", "low", "close", "adj_close", "volume"]].tolist() == [10.5] * 5 + [0]


@pytest.mark.parametrize(
    ("rows", "line", "column", "message"),
    [
        ("2020-01-02,X,10,11,9,10.5,1000\n2020-01-02,X,10,11,9,10.5,1000\n", 3, "date", "duplicate date for this symbol"),
        ("2020-01-02,X,10,11,0,10.5,1000\n", 2, "low", "price must be positive"),
        ("2020-01-02,X,10,11,9,10.5,-5\n", 2, "volume", "volume must not be negative"),
        ("2020-01-02,X,10,11,9,10.5,1.5\n", 2, "volume", "volume must be a whole number"),
        ("2020-01-02,,10,11,9,10.5,1\n", 2, "symbol", "missing symbol"),
        ("2020-02-30,X,10,11,9,10.5,1\n", 2, "date", "unparseable date; use YYYY-MM-DD"),
    ],
)
def test_long_bad_cells_name_line_and_column(rows, line, column, message):
    # when
    error = error_of(f"{LONG_HEADER}\n{rows}", "long")

    # then
    assert (error.line, error.column, error.message) == (line, column, message)


def test_long_same_date_for_two_symbols_is_fine():
    frame = parse(f"{LONG_HEADER}\n2020-01-02,X,1,1,1,1,1\n2020-01-02,Y,2,2,2,2,2\n", "long")
    assert frame["symbol"].tolist() == ["X", "Y"]


def test_long_requires_its_columns():
    error = error_of("date,symbol,close\n2020-01-02,X,1\n", "long")
    assert (error.line, error.column) == (1, "open")


def test_csv_provider_filters_symbols_and_window(tmp_path):
    # given
    path = tmp_path / "prices.csv"
    path.write_text("date,A,B\n2020-01-01,1,2\n2020-01-02,1.1,2.1\n2020-01-03,1.2,2.2\n")
    provider = provider_get("csv", path=path, fmt="wide")

    # when
    frame = provider.fetch(["B"], dt.date(2020, 1, 2), dt.date(2020, 1, 3))

    # then
    assert isinstance(provider, CsvProvider)
    assert frame["adj_close"].tolist() == [2.1, 2.2]
    with pytest.raises(UnknownSymbolsError):
        provider.fetch(["C"], dt.date(2020, 1, 1), dt.date(2020, 1, 3))
