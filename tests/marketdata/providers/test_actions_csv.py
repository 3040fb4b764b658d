"""Corporate-action files: parsed whole or not at all, errors naming the line and column."""

import datetime as dt
import io
from decimal import Decimal as D

import pytest

from marketdata.providers.csvfile import CsvRowError, actions_csv_parse


def parse(text: str):
    return actions_csv_parse(io.StringIO(text))


def test_splits_in_every_notation_and_dividends_with_pay_dates_and_character():
    rows = parse(
        "date,symbol,type,value,pay_date,qualified\n"
        "2024-06-10,NVDA,split,10:1,,\n"
        "2024-06-11,ABC,split,1-for-10,,\n"
        "2024-06-12,DEF,Split,3/2,,\n"
        "2024-06-13,GHI,split,2,,\n"
        "2024-06-14,NVDA,dividend,0.01,2024-06-28,true\n"
        "2024-06-14,XOM,dividend,0.95,,false\n"
        "2024-06-14,T,dividend,0.2775,,\n"
    )
    assert [(r.symbol, r.kind, r.numerator, r.denominator, r.amount) for r in rows] == [
        ("NVDA", "split", D(10), D(1), None), ("ABC", "split", D(1), D(10), None), ("DEF", "split", D(3), D(2), None),
        ("GHI", "split", D(2), D(1), None), ("NVDA", "dividend", None, None, D("0.01")),
        ("XOM", "dividend", None, None, D("0.95")), ("T", "dividend", None, None, D("0.2775")),
    ]
    assert [(r.pay_date, r.qualified) for r in rows[4:]] == [(dt.date(2024, 6, 28), True), (None, False), (None, None)]
    assert rows[1].ratio == D("0.1") and rows[2].line == 4


@pytest.mark.parametrize(
    ("body", "line", "column", "message"),
    [
        ("2024-13-01,A,split,2", 2, "date", "unparseable date"),
        ("2024-01-02,,split,2", 2, "symbol", "missing symbol"),
        ("2024-01-02,A,merger,2", 2, "type", "type must be one of"),
        ("2024-01-02,A,split,-2", 2, "value", "must be a positive number"),
        ("2024-01-02,A,split,1:1", 2, "value", "a split ratio of 1 changes nothing"),
        ("2024-01-02,A,dividend,abc", 2, "value", "not a number"),
        ("2024-01-02,A,dividend,0.123456789", 2, "value", "more than 8 decimal places"),
        ("2024-01-02,A,dividend,1\n2024-01-02,A,dividend,2", 3, "date", "duplicate dividend of A"),
    ],
)
def test_the_first_bad_cell_is_named_by_line_and_column(body, line, column, message):
    with pytest.raises(CsvRowError) as err:
        parse("date,symbol,type,value\n2024-01-01,OK,dividend,1\n".replace("2024-01-01,OK,dividend,1\n", "") + body + "\n")
    assert (err.value.line, err.value.column) == (line, column)
    assert message in str(err.value)


def test_pay_dates_and_character_belong_to_dividends_and_follow_the_ex_date():
    with pytest.raises(CsvRowError) as err:
        parse("date,symbol,type,value,pay_date\n2024-01-02,A,dividend,1,2024-01-01\n")
    assert (err.value.column, "before the ex-date" in str(err.value)) == ("pay_date", True)
    with pytest.raises(CsvRowError) as err:
        parse("date,symbol,type,value,qualified\n2024-01-02,A,split,2,true\n")
    assert err.value.column == "qualified"


def test_a_missing_or_unknown_column_is_a_header_error():
    with pytest.raises(CsvRowError) as err:
        parse("date,symbol,value\n2024-01-02,A,2\n")
    assert (err.value.line, err.value.column) == (1, "type")
    with pytest.raises(CsvRowError) as err:
        parse("date,symbol,type,value,ratio\n2024-01-02,A,split,2,2\n")
    assert (err.value.line, err.value.column) == (1, "ratio")
