"""``import_actions PATH``: all or nothing, errors naming line and column, reruns change nothing."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.core.management import CommandError, call_command

from marketdata.models import CorporateAction
from portfolios.models import CashMovement, CorporateActionApplication, Position
from portfolios.services import ledger_audit, trades_execute
from portfolios.trading import ProposedTrade


@pytest.fixture
def holder(portfolio):
    trades_execute(portfolio=portfolio, trades=[ProposedTrade("BBB", "buy", D(8), D(0), D(0), "t")], as_of=date(2024, 1, 2))
    return portfolio


def write(tmp_path, body: str):
    path = tmp_path / "actions.csv"
    path.write_text("date,symbol,type,value,pay_date\n" + body)
    return str(path)


def test_an_import_records_and_applies_and_a_rerun_changes_nothing(holder, tmp_path, capsys):
    # given a 2-for-1 split and a dividend of BBB
    path = write(tmp_path, "2024-01-03,BBB,split,2:1,\n2024-01-04,BBB,dividend,0.25,2024-01-04\n")
    # when imported twice
    call_command("import_actions", path)
    first = capsys.readouterr().out
    call_command("import_actions", path)
    second = capsys.readouterr().out
    # then 16 shares, 16 x 0.25 = 4.00 credited once
    assert Position.objects.get(portfolio=holder, asset__symbol="BBB").quantity == D(16)
    assert list(CashMovement.objects.filter(kind="dividend").values_list("amount", flat=True)) == [D("4.0000")]
    assert "2 actions read: 2 new, 0 updated, 0 unchanged; ledgers: 1 splits applied, 0 dividends accrued, 1 paid" in first
    assert "2 actions read: 0 new, 0 updated, 2 unchanged; ledgers: 0 splits applied, 0 dividends accrued, 0 paid" in second
    assert ledger_audit() == []


def test_a_bad_row_imports_nothing_and_names_the_line_and_column(holder, tmp_path):
    path = write(tmp_path, "2024-01-03,BBB,split,2:1,\n2024-01-04,BBB,dividend,zero,\n")
    with pytest.raises(CommandError, match=r"line 3, column 'value': not a number \(got 'zero'\)"):
        call_command("import_actions", path)
    assert not CorporateAction.objects.exists() and not CorporateActionApplication.objects.exists()


def test_an_unknown_symbol_imports_nothing(holder, tmp_path):
    path = write(tmp_path, "2024-01-03,BBB,split,2:1,\n2024-01-04,NOPE,dividend,1,\n")
    with pytest.raises(CommandError, match=r"line 3, column 'symbol': unknown symbol 'NOPE'"):
        call_command("import_actions", path)
    assert not CorporateAction.objects.exists()
    assert Position.objects.get(portfolio=holder, asset__symbol="BBB").quantity == D(8)


def test_an_applied_action_cannot_be_changed_by_a_later_import(holder, tmp_path):
    call_command("import_actions", write(tmp_path, "2024-01-03,BBB,split,2:1,\n"))
    with pytest.raises(CommandError, match=r"line 2, column 'value': the split of BBB on 2024-01-03 is already applied"):
        call_command("import_actions", write(tmp_path, "2024-01-03,BBB,split,3:1,\n"))
    assert CorporateAction.objects.get().numerator == D(2)
    assert Position.objects.get(portfolio=holder, asset__symbol="BBB").quantity == D(16)


def test_a_missing_file_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_actions", str(tmp_path / "nope.csv"))
