"""Reading backtests: only the owner's (another user's backtest does not exist for them)."""

from __future__ import annotations

import pandas as pd
from django.db.models import QuerySet

from common.errors import Conflict, NotFound
from rebalancer.backtests.models import Backtest, BacktestStatus


def backtest_list(*, owner) -> QuerySet[Backtest]:
    return Backtest.objects.filter(owner=owner).defer("series", "trades")


def backtest_get(*, owner, backtest_id: int) -> Backtest:
    """The owner's backtest; :class:`NotFound` for a missing or someone else's one."""
    backtest = (
        Backtest.objects.filter(owner=owner, pk=backtest_id).defer("series", "trades").first()
    )
    if backtest is None:
        raise NotFound(f"Backtest {backtest_id} not found.", field="id")
    return backtest


def backtest_series_get(*, owner, backtest_id: int) -> dict:
    """The stored daily series of a finished backtest (``Conflict`` until it has succeeded)."""
    backtest = Backtest.objects.filter(owner=owner, pk=backtest_id).only("status", "series").first()
    if backtest is None:
        raise NotFound(f"Backtest {backtest_id} not found.", field="id")
    if backtest.status != BacktestStatus.SUCCEEDED or not backtest.series:
        raise Conflict(
            f"Backtest {backtest_id} is {backtest.status}; charts exist once it has succeeded.",
            code="not_ready",
            field="id",
        )
    return backtest.series


def series_equity_frames(series: dict) -> dict[str, pd.Series]:
    """Equity curves of a stored ``series`` by name, on a DatetimeIndex."""
    index = pd.DatetimeIndex(series["dates"])
    return {name: pd.Series(values, index=index) for name, values in series["equity"].items()}


def series_weights_frame(series: dict, strategy: str | None = None) -> tuple[str, pd.DataFrame]:
    weights = series["weights"]
    name = strategy if strategy in weights else next(iter(weights))
    block = weights[name]
    return name, pd.DataFrame(
        block["values"], index=pd.DatetimeIndex(block["dates"]), columns=block["symbols"]
    )
