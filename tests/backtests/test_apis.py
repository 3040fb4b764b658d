"""POST/GET backtests: queue and run, results, ownership, validation, charts."""

from __future__ import annotations

import pytest

from rebalancer.backtests.models import Backtest, BacktestStatus

URL = "/api/v1/backtests"


def payload(**overrides) -> dict:
    body = {
        "symbols": ["AAPL", "XOM", "JPM", "PFE"],
        "start": "2016-01-04",
        "end": "2016-06-30",
        "initial_cash": "100000",
        "strategies": ["equal_weight", "optimizer:min_volatility"],
        "benchmark": "SPY",
        "lookback_days": 120,
        "calendar": "monthly",
        "rebalance_threshold": 1.0,  # calendar only: the optimizer runs once a month
    }
    body.update(overrides)
    return body


def test_post_queues_and_runs_a_backtest_with_a_comparison_table(
    investor_client, stored_prices, django_capture_on_commit_callbacks
):
    # when (Celery is eager in the tests: the run happens on commit, in process)
    with django_capture_on_commit_callbacks(execute=True):
        response = investor_client.post(URL, payload(), format="json")
    # then
    assert response.status_code == 202, response.content
    backtest_id = response.json()["id"]
    detail = investor_client.get(f"{URL}/{backtest_id}")
    assert detail.status_code == 200
    body = detail.json()
    assert body["status"] == "succeeded", body["error"]
    assert body["progress"] == 1.0
    names = [row["name"] for row in body["results"]["comparison"]]
    assert names == [
        "equal_weight",
        "optimizer:min_volatility",
        "buy_and_hold",
        "equal_weight_monthly",
        "SPY",
    ]
    row = body["results"]["comparison"][0]
    for key in (
        "sharpe_ratio",
        "sortino_ratio",
        "calmar_ratio",
        "max_drawdown",
        "beta",
        "tracking_error",
        "costs",
    ):
        assert key in row
    assert row["trades"] > 0 and row["rebalances"] >= 2
    curve = body["results"]["strategies"]["equal_weight"]["equity_curve"]
    assert curve[0][0] == "2016-01-04" and curve[-1][0] == "2016-06-30"
    assert body["equity_chart"] == f"/api/v1/backtests/{backtest_id}/equity.png"


def test_charts_are_png(investor_client, stored_prices, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        backtest_id = investor_client.post(
            URL, payload(strategies=["equal_weight"]), format="json"
        ).json()["id"]
    for chart in ("equity", "allocation"):
        response = investor_client.get(f"{URL}/{backtest_id}/{chart}.png")
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert response.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_chart_of_an_unfinished_backtest_is_a_conflict(investor_client, investor):
    backtest = Backtest.objects.create(owner=investor, config={"strategies": ["equal_weight"]})
    response = investor_client.get(f"{URL}/{backtest.pk}/equity.png")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "not_ready"


def test_another_users_backtest_is_not_found(other_client, investor):
    # given
    backtest = Backtest.objects.create(owner=investor, config={}, status=BacktestStatus.SUCCEEDED)
    # when / then
    assert other_client.get(f"{URL}/{backtest.pk}").status_code == 404
    assert other_client.get(f"{URL}/{backtest.pk}/equity.png").status_code == 404


@pytest.mark.parametrize(
    ("change", "attr", "status"),
    [
        ({"symbols": ["AAPL", "NOPE"]}, "symbols", 422),
        ({"benchmark": "NOPE"}, "benchmark", 422),
        ({"strategies": ["no_such_strategy"]}, "strategies", 400),
        ({"end": "2015-01-01"}, "end", 400),
        ({"start": "1950-01-03", "end": "1999-12-31"}, "end", 400),
        ({"strategies": ["equal_weight"] * 6}, "strategies", 400),
        ({"symbols": [f"S{i}" for i in range(101)]}, "symbols", 400),
        ({"start": "2019-01-02", "end": "2019-06-28"}, "start", 400),
    ],
)
def test_bad_requests_name_the_field_and_create_nothing(
    investor_client, stored_prices, change, attr, status
):
    # when
    response = investor_client.post(URL, payload(**change), format="json")
    # then
    assert response.status_code == status, response.content
    assert response.json()["errors"][0]["attr"] == attr
    assert Backtest.objects.count() == 0


def test_a_failing_run_is_recorded_as_failed(investor, stored_prices):
    # given a backtest whose stored config names a strategy that no longer exists
    from rebalancer.backtests.services import backtest_run

    backtest = Backtest.objects.create(owner=investor, config=payload(strategies=["gone"]))
    # when
    result = backtest_run(backtest_id=backtest.pk)
    # then
    assert result.status == "failed"
    assert "gone" in result.error
    assert backtest_run(backtest_id=backtest.pk) is None  # never run twice


def test_a_running_backtest_is_not_run_again_by_a_racing_worker(investor, stored_prices):
    # given a backtest another worker started a minute ago
    from datetime import timedelta

    from django.utils import timezone

    from rebalancer.backtests.services import backtest_run

    started = timezone.now() - timedelta(minutes=1)
    backtest = Backtest.objects.create(
        owner=investor,
        config=payload(strategies=["equal_weight"]),
        status="running",
        started_at=started,
    )
    # when / then
    assert backtest_run(backtest_id=backtest.pk) is None
    backtest.refresh_from_db()
    assert (backtest.status, backtest.started_at, backtest.results) == ("running", started, None)
    # and once it is older than the task time limit (its worker died), it is run again
    Backtest.objects.filter(pk=backtest.pk).update(started_at=started - timedelta(hours=2))
    assert backtest_run(backtest_id=backtest.pk).status == "succeeded"


class _CapturingPool:
    """Stands in for the background thread: keeps the job, so the test sees the state in between."""

    def __init__(self) -> None:
        self.jobs: list[tuple] = []

    def submit(self, fn, *args):
        from concurrent.futures import Future

        self.jobs.append(args)
        return Future()


def test_without_a_broker_post_answers_202_at_once_and_the_status_tells_the_truth(
    investor_client, stored_prices, settings, monkeypatch, django_capture_on_commit_callbacks
):
    import time

    from common import tasks as common_tasks
    from rebalancer.backtests.tasks import backtest_run_task

    # given the demo's configuration: Celery eager (no broker), tasks after the response
    settings.CELERY_TASK_ALWAYS_EAGER, settings.TASKS_EAGER_IN_BACKGROUND = True, True
    pool = _CapturingPool()
    monkeypatch.setattr(common_tasks, "background_pool", lambda: pool)
    investor_client.get(URL)  # the process's first request imports every view (wsgi.py does it at start)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        started = time.perf_counter()
        response = investor_client.post(URL, payload(), format="json")
        elapsed = time.perf_counter() - started
    # then the answer came before the work, and says queued
    assert response.status_code == 202
    assert elapsed < 0.5, f"POST backtests took {elapsed:.3f} s"
    backtest_id = response.json()["id"]
    assert response.json()["status"] == "queued"
    queued = investor_client.get(f"{URL}/{backtest_id}").json()
    assert (queued["status"], queued["progress"], queued["results"]) == ("queued", 0.0, None)
    [(task, kwargs)] = pool.jobs
    assert (task, kwargs) == (backtest_run_task, {"backtest_id": backtest_id})
    # when the background thread runs it
    task.apply(kwargs=kwargs)
    # then
    done = investor_client.get(f"{URL}/{backtest_id}").json()
    assert (done["status"], done["progress"]) == ("succeeded", 1.0)


def test_the_background_thread_runs_the_task_off_the_request_thread(settings):
    import threading

    from celery import shared_task

    from common.tasks import _run, background_pool

    @shared_task(name="tests.thread_name_task")
    def thread_name_task(*, tag: str) -> str:
        return f"{tag}:{threading.current_thread().name}"

    result = background_pool().submit(_run, thread_name_task, {"tag": "x"}).result(timeout=10)
    assert result.startswith("x:task") and threading.current_thread().name not in result


def test_a_retried_post_with_the_same_idempotency_key_queues_one_backtest(
    investor_client, stored_prices, django_capture_on_commit_callbacks
):
    # when the app retries the same request (same key, same body)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = investor_client.post(URL, payload(), format="json", HTTP_IDEMPOTENCY_KEY="bt-1")
        again = investor_client.post(URL, payload(), format="json", HTTP_IDEMPOTENCY_KEY="bt-1")
        other = investor_client.post(URL, payload(end="2016-05-31"), format="json", HTTP_IDEMPOTENCY_KEY="bt-1")
    # then one backtest, queued once; the retry gets the first answer; another body is a 422
    assert (first.status_code, again.status_code, other.status_code) == (202, 202, 422)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Backtest.objects.count() == 1
    assert len(callbacks) == 1


def test_taxes_of_a_backtest_are_reported_per_year(investor_client, stored_prices, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = investor_client.post(
            URL, payload(strategies=["equal_weight"], tax_loss_harvesting=True, start="2015-03-02", end="2016-12-30"),
            format="json",
        )
    taxes = investor_client.get(f"{URL}/{response.json()['id']}").json()["results"]["strategies"]["equal_weight"]["taxes"]
    assert set(taxes) >= {"harvested_losses", "gains_offset", "tax_saved", "wash_sale_disallowed", "wash_sale_blocks",
                          "estimated_tax", "by_year", "years"}
    assert sorted(taxes["years"]) == ["2015", "2016"]
    assert taxes["estimated_tax"] == pytest.approx(sum(y["estimated_tax"] for y in taxes["years"].values()), abs=0.05)
