"""Write side of the VaR backtests (issue 16): the nightly backtest of every portfolio.

Each portfolio's current weights are replayed over its holdings' recent history and the
default VaR model is backtested on them (:func:`risk.var_backtest_selectors.portfolio_var_backtest_compute`);
the result is stored once per (portfolio, last scored day), replaced by a rerun.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction

from common.errors import ApplicationError
from portfolios.models import Portfolio, Position
from risk.models import VaRBacktest
from risk.selectors import portfolio_exposure_get
from risk.var_backtest_selectors import (
    VarBacktestRun,
    portfolio_var_backtest_compute,
    var_backtest_record_build,
)

logger = logging.getLogger(__name__)
BACKTEST_BATCH_SIZE = 200


@transaction.atomic
def var_backtest_store(*, portfolio: Portfolio, run: VarBacktestRun) -> VaRBacktest:
    """Store a run as the portfolio's backtest of its last scored day (idempotent per day)."""
    built = var_backtest_record_build(portfolio=portfolio, run=run)
    fields = {f.name: getattr(built, f.name) for f in VaRBacktest._meta.concrete_fields
              if f.name not in ("id", "portfolio", "date", "created_at", "updated_at")}
    record, _ = VaRBacktest.objects.update_or_create(portfolio=portfolio, date=built.date, defaults=fields)
    return record


def var_backtest_record(*, portfolio: Portfolio, as_of: dt.date | None = None) -> VaRBacktest:
    """Backtest one portfolio now and store it."""
    return var_backtest_store(portfolio=portfolio, run=portfolio_var_backtest_compute(portfolio=portfolio, as_of=as_of))


def _weights_key(portfolio: Portfolio, as_of: dt.date | None) -> tuple | None:
    exposure = portfolio_exposure_get(portfolio=portfolio, as_of=as_of)
    if not exposure.weights:
        return None
    return exposure.as_of, tuple(sorted((s, round(w, 8)) for s, w in exposure.weights.items()))


def var_backtests_record(*, as_of: dt.date | None = None, portfolio_ids: list[int] | None = None) -> int:
    """Backtest every portfolio holding positions (or the given ones); one transaction per
    portfolio so one failure does not undo the others. Portfolios that hold the same
    weights on the same day (model portfolios, copies) share one computation.
    Returns how many were stored."""
    ids = portfolio_ids
    if ids is None:
        ids = sorted(set(Position.objects.filter(quantity__gt=0).values_list("portfolio_id", flat=True)))
    runs: dict[tuple, VarBacktestRun] = {}
    stored = 0
    for start in range(0, len(ids), BACKTEST_BATCH_SIZE):
        for portfolio in Portfolio.objects.filter(pk__in=ids[start : start + BACKTEST_BATCH_SIZE]).order_by("pk"):
            try:
                key = _weights_key(portfolio, as_of)
                run = runs.get(key) if key is not None else None
                if run is None:
                    run = portfolio_var_backtest_compute(portfolio=portfolio, as_of=as_of)
                    if key is not None:
                        runs[key] = run
                var_backtest_store(portfolio=portfolio, run=run)
                stored += 1
            except ApplicationError as exc:
                logger.warning("VaR backtest of portfolio %s skipped: %s", portfolio.pk, exc.message)
    return stored
