"""The sweeper: stuck work is re-enqueued, or failed with a reason, and shows on the dashboard."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from marketdata.models import DataPull
from mlagents.models import AgentModel
from rebalancer.autopilot.models import CycleRun
from rebalancer.backtests.models import Backtest
from rebalancer.ops.models import SweepAction
from rebalancer.ops.services.sweeper import stuck_work_sweep
from tests.ops.conftest import AS_OF

pytestmark = pytest.mark.django_db
HOUR = dt.timedelta(hours=1)


def _stuck_runs(portfolios, *, started, attempt=1):
    runs = [CycleRun.objects.create(portfolio=p, as_of=AS_OF, status="pending", attempt=attempt) for p in portfolios]
    CycleRun.objects.filter(pk__in=[r.pk for r in runs]).update(started_at=started)
    return runs


def test_a_stuck_chunk_is_re_enqueued(portfolio_make, enqueued, django_capture_on_commit_callbacks):
    # given a chunk whose worker died an hour ago (its runs still pending) and a fresh pending run
    now = timezone.now()
    stuck = [portfolio_make(), portfolio_make()]
    _stuck_runs(stuck, started=now - HOUR)
    fresh = portfolio_make()
    _stuck_runs([fresh], started=now - dt.timedelta(minutes=2))
    # when the sweeper runs
    with django_capture_on_commit_callbacks(execute=True):
        report = stuck_work_sweep(now=now)
    # then the stuck chunk, and only it, is enqueued again, and the sweep is recorded
    assert enqueued == [("chunk", {"portfolio_ids": [p.pk for p in stuck], "as_of": AS_OF.isoformat()})]
    assert report.requeued == {"cycle_runs": 2}
    action = SweepAction.objects.get()
    assert (action.kind, action.outcome, action.object_ids) == ("cycle_runs", "requeued", [p.pk for p in stuck])


def test_a_re_enqueued_chunk_finishes_its_cycles_once(portfolio_make, django_capture_on_commit_callbacks):
    # given a stuck chunk (tasks run in process in the tests)
    now = timezone.now()
    p = portfolio_make()
    _stuck_runs([p], started=now - HOUR)
    # when swept
    with django_capture_on_commit_callbacks(execute=True):
        stuck_work_sweep(now=now)
    # then the cycle ran, once
    run = CycleRun.objects.get(portfolio=p)
    assert (run.status, run.action, run.attempt) == ("done", "rebalance", 2)


def test_a_run_that_no_worker_finishes_is_failed_after_the_attempts(portfolio_make, enqueued):
    now = timezone.now()
    p = portfolio_make()
    _stuck_runs([p], started=now - HOUR, attempt=3)
    report = stuck_work_sweep(now=now)
    run = CycleRun.objects.get(portfolio=p)
    assert run.status == "failed" and "after 3 worker starts" in run.error
    assert report.failed == {"cycle_runs": 1} and enqueued == []


def test_a_stuck_run_of_a_paused_portfolio_is_failed_not_run(portfolio_make, enqueued):
    now = timezone.now()
    p = portfolio_make(enabled=False)
    _stuck_runs([p], started=now - HOUR)
    stuck_work_sweep(now=now)
    run = CycleRun.objects.get(portfolio=p)
    assert run.status == "failed" and "paused" in run.error
    assert enqueued == []


@pytest.fixture
def backtest_delays(monkeypatch):
    from rebalancer.backtests import tasks

    calls: list[int] = []
    monkeypatch.setattr(tasks.backtest_run_task, "delay", lambda **kw: calls.append(kw["backtest_id"]))
    return calls


def test_a_queued_backtest_is_re_enqueued_then_failed(investor, backtest_delays, django_capture_on_commit_callbacks):
    now = timezone.now()
    backtest = Backtest.objects.create(owner=investor, config={})
    Backtest.objects.filter(pk=backtest.pk).update(created_at=now - HOUR)
    # twice re-enqueued, the third time failed with the reason
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            stuck_work_sweep(now=now)
    assert backtest_delays == [backtest.pk, backtest.pk]
    stuck_work_sweep(now=now)
    backtest.refresh_from_db()
    assert backtest.status == "failed" and "after 2 re-enqueue(s)" in backtest.error
    assert list(SweepAction.objects.order_by("id").values_list("outcome", flat=True)) == [
        "requeued", "requeued", "failed"]


def test_a_backtest_running_past_the_time_limit_is_queued_again(investor, backtest_delays,
                                                                django_capture_on_commit_callbacks):
    now = timezone.now()
    backtest = Backtest.objects.create(owner=investor, config={}, status="running", started_at=now - 2 * HOUR)
    with django_capture_on_commit_callbacks(execute=True):
        stuck_work_sweep(now=now)
    backtest.refresh_from_db()
    assert backtest.status == "queued"
    assert backtest_delays == [backtest.pk]


def test_a_data_pull_left_running_is_failed_and_pulled_again(db, monkeypatch, django_capture_on_commit_callbacks):
    from marketdata import tasks

    calls: list[dict] = []
    monkeypatch.setattr(tasks.prices_pull_task, "delay", lambda **kw: calls.append(kw))
    now = timezone.now()
    pull = DataPull.objects.create(provider="synthetic", symbols=["ORBT"])
    DataPull.objects.filter(pk=pull.pk).update(started_at=now - 2 * HOUR)
    with django_capture_on_commit_callbacks(execute=True):
        stuck_work_sweep(now=now)
    pull.refresh_from_db()
    assert pull.status == "failed" and "worker was lost" in pull.errors[-1]
    assert calls == [{"provider": "synthetic", "symbols": ["ORBT"]}]


def test_training_that_died_is_retired_with_the_reason(db):
    now = timezone.now()
    agent = AgentModel.objects.create(algorithm="ppo", version=1, universe=["A"], progress=0.4)
    AgentModel.objects.filter(pk=agent.pk).update(created_at=now - 7 * HOUR)
    finished = AgentModel.objects.create(algorithm="ppo", version=2, universe=["A"], progress=1.0)
    stuck_work_sweep(now=now)
    agent.refresh_from_db(), finished.refresh_from_db()
    assert agent.status == "retired" and "40% done" in agent.promotion_reason
    assert finished.status == "candidate"


def test_the_dashboard_shows_the_sweeps(staff_client, portfolio_make, enqueued):
    now = timezone.now()
    _stuck_runs([portfolio_make()], started=now - HOUR)
    stuck_work_sweep(now=now)
    html = staff_client.get("/ops/").content.decode()
    assert "cycle_runs requeued" in html
    assert 'data-figure="stuck_cycle_runs">1<' in html


def test_the_sweeper_runs_from_beat():
    from rebalancer.ops.beat import BEAT_SCHEDULE

    assert BEAT_SCHEDULE["ops: sweep stuck work"]["task"] == "ops.stuck_work_sweep_task"
