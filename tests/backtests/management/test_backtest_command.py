"""``manage.py backtest``: prints the comparison table, stores the run for an owner."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from rebalancer.backtests.models import Backtest

ARGS = [
    "--symbols",
    "AAPL,XOM,JPM,PFE",
    "--start",
    "2016-01-04",
    "--end",
    "2016-04-29",
    "--benchmark",
    "SPY",
]


def test_prints_a_comparison_table_without_storing(stored_prices):
    out = StringIO()
    call_command("backtest", *ARGS, "--strategy", "equal_weight", "--threshold", "1", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:3] == ["strategy", "final", "value"]
    assert [line.split()[0] for line in lines[1:]] == [
        "equal_weight",
        "buy_and_hold",
        "equal_weight_monthly",
        "SPY",
    ]
    assert Backtest.objects.count() == 0


def test_stores_the_run_for_an_owner(stored_prices, investor):
    out = StringIO()
    call_command("backtest", *ARGS, "--owner", investor.email, "--check-invariants", stdout=out)
    backtest = Backtest.objects.get()
    assert backtest.owner == investor
    assert backtest.status == "succeeded"
    assert f"Stored as backtest #{backtest.pk}" in out.getvalue()


def test_an_unknown_symbol_is_an_error_naming_the_field(stored_prices):
    with pytest.raises(CommandError, match="symbols"):
        call_command(
            "backtest", "--symbols", "AAPL,NOPE", "--start", "2016-01-04", "--end", "2016-04-29"
        )
