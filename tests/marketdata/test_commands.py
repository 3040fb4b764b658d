"""import_prices and demo commands, the pull task and its beat entry."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from celery.schedules import crontab
from django.core.management import CommandError, call_command

from marketdata.beat import BEAT_SCHEDULE
from marketdata.models import Asset, DataPull, PriceBar
from marketdata.tasks import prices_pull_task

pytestmark = pytest.mark.django_db


def test_import_prices_reports_counts_and_is_idempotent(tmp_path):
    # given
    path = tmp_path / "prices.csv"
    path.write_text("date,AAA,BBB\n2024-01-02,10,20\n2024-01-03,11,\n")
    out = StringIO()

    # when
    call_command("import_prices", str(path), "--no-progress", stdout=out)
    call_command("import_prices", str(path), "--format", "wide", "--no-progress", stdout=out)

    # then
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("3 bars read: 3 inserted, 0 updated, 0 unchanged; new assets: AAA, BBB")
    assert lines[1].startswith("3 bars read: 0 inserted, 0 updated, 3 unchanged (data pull #")
    assert PriceBar.objects.count() == 3


def test_import_prices_with_a_bad_row_fails_naming_it_and_imports_nothing(tmp_path):
    # given
    path = tmp_path / "prices.csv"
    path.write_text("date,symbol,open,high,low,close,volume\n2024-01-02,AAA,1,1,1,1,1\n2024-01-02,AAA,1,1,1,1,1\n")

    # when
    with pytest.raises(CommandError) as caught:
        call_command("import_prices", str(path), "--format", "long", "--no-progress")

    # then
    assert "line 3, column 'date': duplicate date for this symbol" in str(caught.value)
    assert (Asset.objects.count(), PriceBar.objects.count(), DataPull.objects.count()) == (0, 0, 0)


def test_demo_runs_every_app_step_after_the_market(monkeypatch):
    # given: a fake app step
    calls = []
    from marketdata.management.commands import demo

    monkeypatch.setattr(demo, "demo_steps", lambda: [("fake", lambda *, stdout: calls.append(Asset.objects.count()))])
    monkeypatch.setattr(
        demo,
        "demo_market_load",
        lambda **kw: __import__("marketdata.services", fromlist=["x"]).demo_market_load(end=dt.date(2024, 6, 28), **kw),
    )
    out = StringIO()

    # when
    call_command("demo", "--years", "1", stdout=out)

    # then: the step saw the market already loaded
    assert calls == [26]
    assert "[fake] demo step..." in out.getvalue()
    assert out.getvalue().strip().endswith("Demo world ready.")


def test_demo_steps_are_discovered_from_installed_apps():
    from marketdata.management.commands.demo import demo_steps

    labels = [label for label, _ in demo_steps()]
    assert "marketdata" not in labels
    assert all(callable(loader) for _, loader in demo_steps())


def test_pull_task_pulls_and_returns_the_pull_id():
    # given
    Asset.objects.create(symbol="ORBT")

    # when
    pull_id = prices_pull_task.delay(provider="synthetic").get()

    # then
    pull = DataPull.objects.get(pk=pull_id)
    assert pull.status == "succeeded"
    assert pull.provider == "synthetic"


def test_beat_pulls_weekdays_after_the_us_close():
    entry = BEAT_SCHEDULE["marketdata: pull daily bars"]
    assert entry["task"] == prices_pull_task.name == "marketdata.prices_pull_task"
    assert entry["schedule"] == crontab(minute=30, hour=22, day_of_week="mon-fri")
