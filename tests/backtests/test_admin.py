"""The Backtest admin: list with status and progress, read-only detail with inline charts."""

from __future__ import annotations

import pytest

from rebalancer.backtests.models import Backtest

pytestmark = pytest.mark.django_db


def test_admin_lists_and_shows_a_finished_backtest_with_its_charts(
    admin_client, investor_client, stored_prices, django_capture_on_commit_callbacks
):
    # given a finished backtest
    body = {
        "symbols": ["AAPL", "XOM"],
        "start": "2016-01-04",
        "end": "2016-03-31",
        "strategies": ["equal_weight"],
        "rebalance_threshold": 1.0,
        "lookback_days": 60,
    }
    with django_capture_on_commit_callbacks(execute=True):
        backtest_id = investor_client.post("/api/v1/backtests", body, format="json").json()["id"]
    # when
    listing = admin_client.get("/admin/backtests/backtest/")
    detail = admin_client.get(f"/admin/backtests/backtest/{backtest_id}/change/")
    # then
    assert listing.status_code == 200
    assert b"equal_weight" in listing.content and b"100%" in listing.content
    assert detail.status_code == 200
    assert detail.content.count(b"data:image/png;base64,") == 2
    assert Backtest.objects.get(pk=backtest_id).status == "succeeded"
