"""Backtests under abuse and faults: a per-user cap on active ones, the broker down at start."""

from __future__ import annotations

import pytest

from rebalancer.backtests.models import Backtest, BacktestStatus

pytestmark = pytest.mark.django_db
URL = "/api/v1/backtests"
BODY = {"symbols": ["AAPL", "XOM"], "start": "2016-01-04", "end": "2016-03-31", "lookback_days": 20}


def test_at_most_the_cap_of_active_backtests_per_user(investor_client, other_client, stored_prices, settings):
    # given a cap of 2 and runs that stay queued (no on_commit execution here)
    settings.BACKTESTS_MAX_ACTIVE_PER_USER = 2
    # when the investor starts three
    statuses = [investor_client.post(URL, BODY, format="json").status_code for _ in range(3)]
    # then the third is refused, nothing is stored for it, and another user is not affected
    assert statuses == [202, 202, 429]
    assert Backtest.objects.count() == 2
    refused = investor_client.post(URL, BODY, format="json").json()
    assert refused["errors"][0]["code"] == "too_many_active_backtests"
    assert other_client.post(URL, BODY, format="json").status_code == 202
    # a finished one frees a slot
    Backtest.objects.filter(pk=Backtest.objects.filter(owner__email="investor@example.com").first().pk).update(
        status=BacktestStatus.SUCCEEDED
    )
    assert investor_client.post(URL, BODY, format="json").status_code == 202


def test_backtest_starts_are_throttled_per_user(investor_client, stored_prices, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "backtests": "1/hour"},
    }
    assert investor_client.post(URL, BODY, format="json").status_code == 202
    assert investor_client.post(URL, BODY, format="json").status_code == 429
    assert investor_client.get(URL).status_code == 200  # listing is not a start


@pytest.mark.django_db(transaction=True)  # a real commit, so on_commit runs inside the request
def test_backtest_with_the_broker_down_is_503_and_not_left_queued(investor_client, stored_prices, monkeypatch):
    import kombu.exceptions

    from rebalancer.backtests import tasks

    def down(**kwargs):
        raise kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.backtest_run_task, "delay", down)
    body = {"symbols": ["AAPL", "XOM"], "start": "2016-01-04", "end": "2016-03-31", "lookback_days": 20}
    investor_client.raise_request_exception = False  # a server logs a 5xx and answers
    response = investor_client.post("/api/v1/backtests", body, format="json")
    assert response.status_code == 503 and int(response["Retry-After"]) >= 1
    backtest = Backtest.objects.get()
    assert backtest.status == BacktestStatus.FAILED
    assert "start it again" in backtest.error
