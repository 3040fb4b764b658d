"""Backtest services: create (validate, store, queue) and run (replay, persist results).

The engine (:mod:`rebalancer.backtests.engine`) does the work on plain frames; these
functions translate between it and the database: prices come from
``marketdata.selectors.price_panel_get``, results go into :class:`Backtest`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone

from common.errors import ApplicationError, ValidationFailed
from common.tasks import runs_in_background, task_enqueue_on_commit
from marketdata.models import Asset
from marketdata.selectors import price_panel_get
from portfolios.policy import LimitOverrides, PolicyLimits, policy_limits
from portfolios.policy.limits import LimitsError
from portfolios.strategies import strategy_names
from rebalancer.autopilot.selectors import LOOKBACK_DAYS
from rebalancer.autopilot.types import TaxConfig, TradeConfig
from rebalancer.backtests.engine.config import BacktestConfig, TaxRates
from rebalancer.backtests.engine.replay import ReplayResult
from rebalancer.backtests.engine.report import BacktestReport, StrategyOutcome, backtest_report
from rebalancer.backtests.engine.taxes import TaxSummary
from rebalancer.backtests.models import Backtest, BacktestStatus

logger = logging.getLogger(__name__)

LIMIT_OVERRIDE_KEYS = ("max_position", "max_asset_class", "max_var_95", "max_drawdown", "max_turnover", "max_holdings")
MAX_YEARS = 30
MAX_SYMBOLS = 100
MAX_STRATEGIES = 5
API_EQUITY_POINTS = 250
"""The API's equity curves are downsampled to about this many points (full series in ``series``)."""
STORED_WEIGHT_ROWS = 520
"""Weights over time are stored at most this many dates (evenly spaced, last day kept)."""
STORED_TRADES = 20_000
PROGRESS_EVERY_S = 0.5
RUNNING_STALE_AFTER_S = 60 * 60  # the Celery task time limit: older "running" rows are orphans
DEFAULT_WALK_FORWARD_EPISODES = 200
HISTORY_CALENDAR_FACTOR = 1.5  # calendar days of look-back history per trading day


# --- configuration -----------------------------------------------------------------
def backtest_config_from(data: Mapping[str, Any]) -> BacktestConfig:
    """The engine's configuration from a validated request (the API serializer's data)."""
    tier = data.get("risk_tier", "balanced")
    cash_buffer = float(data.get("cash_buffer", 0.02))
    return BacktestConfig(
        symbols=tuple(data["symbols"]),
        start=_as_date(data["start"]),
        end=_as_date(data["end"]),
        initial_cash=Decimal(str(data.get("initial_cash", "100000"))),
        strategies=tuple(data.get("strategies") or ("equal_weight",)),
        benchmark=data.get("benchmark") or None,
        risk_tier=tier,
        rebalance_threshold=float(data.get("rebalance_threshold", 0.05)),
        calendar=data.get("calendar", "monthly"),
        lookback_days=int(data.get("lookback_days", LOOKBACK_DAYS)),
        trade=TradeConfig(
            min_trade_value=float(data.get("min_trade_value", 50.0)),
            fractional=bool(data.get("fractional_shares", True)),
            commission_rate=float(data.get("commission_rate", 0.0005)),
            commission_min=float(data.get("commission_min", 0.0)),
            slippage_bps=float(data.get("slippage_bps", 5.0)),
            cash_buffer=float(data.get("cash_buffer", 0.02)),
        ),
        tax=TaxConfig(
            enabled=bool(data.get("tax_loss_harvesting", False)),
            loss_threshold=float(data.get("harvest_loss_threshold", 0.05)),
        ),
        tax_rates=TaxRates(
            short_term=float(data.get("short_term_tax_rate", 0.35)),
            long_term=float(data.get("long_term_tax_rate", 0.15)),
            loss_deduction_limit=float(data.get("capital_loss_deduction", 3000.0)),
        ),
        limits=backtest_limits(data, tier=tier, cash_buffer=cash_buffer),
        retrain_every=data.get("retrain_every", "never"),
        check_invariants=bool(data.get("check_invariants", False)),
    )


def backtest_limits(data: Mapping[str, Any], *, tier: str, cash_buffer: float) -> PolicyLimits:
    """The live pipeline's limits for a backtest: the tier (and horizon), then the request's overrides."""
    given = {k: v for k, v in (data.get("limits") or {}).items() if k in LIMIT_OVERRIDE_KEYS and v is not None}
    try:
        return policy_limits(
            tier=tier, horizon_years=data.get("investment_horizon"), overrides=LimitOverrides(**given),
            cash_buffer=cash_buffer,
        )
    except LimitsError as exc:
        raise ValidationFailed(exc.message, field=f"limits.{exc.field}") from exc


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Decimal | date):
            out[key] = str(value) if isinstance(value, Decimal) else value.isoformat()
        elif isinstance(value, Mapping):
            out[key] = _jsonable(value)
        elif isinstance(value, tuple):
            out[key] = list(value)
        else:
            out[key] = value
    return out


def _validate(config: BacktestConfig) -> None:
    if not config.symbols:
        raise ValidationFailed("Give at least one symbol.", field="symbols")
    if len(config.symbols) > MAX_SYMBOLS:
        raise ValidationFailed(f"At most {MAX_SYMBOLS} symbols.", field="symbols")
    if len(set(config.symbols)) != len(config.symbols):
        raise ValidationFailed("Symbols must be unique.", field="symbols")
    if config.end <= config.start:
        raise ValidationFailed("end must be after start.", field="end")
    if (config.end - config.start).days > MAX_YEARS * 366:
        raise ValidationFailed(f"The window is limited to {MAX_YEARS} years.", field="end")
    if not 1 <= len(config.strategies) <= MAX_STRATEGIES:
        raise ValidationFailed(f"Give 1 to {MAX_STRATEGIES} strategies.", field="strategies")
    known = set(strategy_names())
    unknown = [s for s in config.strategies if s not in known]
    if unknown:
        raise ValidationFailed(
            f"Unknown strategy {unknown[0]!r}; known strategies: {', '.join(sorted(known))}.",
            field="strategies",
        )


def _prices_load(config: BacktestConfig) -> tuple[pd.DataFrame, pd.Series | None]:
    """The universe's prices with look-back history, and the benchmark's (NotFound names the field)."""
    history_start = config.start - timedelta(
        days=int(config.lookback_days * HISTORY_CALENDAR_FACTOR) + 7
    )
    prices = price_panel_get(
        symbols=list(config.symbols), start=history_start, end=config.end, how="inner"
    )
    trading = prices.loc[pd.Timestamp(config.start) :]
    if len(trading) < 2:
        raise ValidationFailed(
            "The symbols have fewer than 2 common trading days with prices between start and end.",
            field="start",
        )
    benchmark = None
    if config.benchmark:
        panel = price_panel_get(
            symbols=[config.benchmark], start=history_start, end=config.end, error_field="benchmark"
        )
        benchmark = panel[config.benchmark]
        if benchmark.reindex(trading.index).ffill().isna().any():
            raise ValidationFailed(
                f"The benchmark {config.benchmark} has no price at the start of the window.",
                field="benchmark",
            )
    return prices, benchmark


def _retrainers(config: BacktestConfig, data: Mapping[str, Any]):
    """Walk-forward hooks for the ``agent:<algorithm>`` strategies (others are not retrained)."""
    episodes = int(data.get("walk_forward_episodes", DEFAULT_WALK_FORWARD_EPISODES))

    def factory(strategy: str):
        if not strategy.startswith("agent:"):
            return None
        from rebalancer.backtests.walkforward import walk_forward_retrainer

        return walk_forward_retrainer(
            algorithm=strategy.split(":", 1)[1], symbols=config.symbols, episodes=episodes
        )

    return factory


# --- create --------------------------------------------------------------------------
@transaction.atomic
def backtest_create(
    *, owner, data: Mapping[str, Any], name: str = "", enqueue: bool = True
) -> Backtest:
    """Validate a request, store it as a queued :class:`Backtest` and queue its run.

    Raises ValidationFailed / NotFound naming the field (unknown symbol, benchmark or
    strategy, a window without prices).
    """
    config = backtest_config_from(data)
    _validate(config)
    _prices_load(config)  # unknown symbols and empty windows fail now, not in the worker
    _active_cap_check(owner)
    backtest = Backtest.objects.create(owner=owner, name=name, config=_jsonable(data))
    if enqueue:
        if runs_in_background():  # no broker: after the response, on the process's thread
            from rebalancer.backtests.tasks import backtest_run_task

            task_enqueue_on_commit(backtest_run_task, backtest_id=backtest.pk)
        else:
            transaction.on_commit(lambda: _enqueue(backtest.pk))
    return backtest


def _active_cap_check(owner) -> None:
    """At most ``BACKTESTS_MAX_ACTIVE_PER_USER`` queued or running backtests per user (429).

    The owner's row is locked so two concurrent starts cannot both pass. Rows older than
    the task time limit no longer count (a purged or orphaned one must not block the user).
    """
    from django.conf import settings
    from django.contrib.auth import get_user_model

    cap = int(getattr(settings, "BACKTESTS_MAX_ACTIVE_PER_USER", 3))
    get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
    since = timezone.now() - timedelta(seconds=RUNNING_STALE_AFTER_S)
    active = Backtest.objects.filter(
        owner=owner, status__in=(BacktestStatus.QUEUED, BacktestStatus.RUNNING), created_at__gte=since
    ).count()
    if active >= cap:
        raise ApplicationError(
            f"{active} of your backtests are still queued or running (at most {cap}); "
            "wait for one to finish.",
            code="too_many_active_backtests",
            status_code=429,
            extra={"active": active, "limit": cap},
        )


def _enqueue(backtest_id: int) -> None:
    """Queue the run after the commit; if the broker is down, the backtest is marked failed
    (nothing will run it) and the error propagates (503): the client's retry starts anew."""
    from common.faults import dependency_down
    from rebalancer.backtests.tasks import backtest_run_task

    try:
        backtest_run_task.delay(backtest_id=backtest_id)
    except Exception as exc:
        if dependency_down(exc) is None:
            raise
        Backtest.objects.filter(pk=backtest_id, status=BacktestStatus.QUEUED).update(
            status=BacktestStatus.FAILED,
            error="The task queue was unavailable, so the backtest never started; start it again.",
            finished_at=timezone.now(),
        )
        raise


# --- run -----------------------------------------------------------------------------
def _claim(backtest_id: int) -> Backtest | None:
    with transaction.atomic():
        backtest = Backtest.objects.select_for_update().filter(pk=backtest_id).first()
        # A finished one is never run twice; a running one only when its worker must have
        # died (redelivered after the task time limit), not when two workers race.
        if backtest is None or backtest.status in (BacktestStatus.SUCCEEDED, BacktestStatus.FAILED):
            return None
        if (
            backtest.status == BacktestStatus.RUNNING
            and backtest.started_at is not None
            and timezone.now() - backtest.started_at < timedelta(seconds=RUNNING_STALE_AFTER_S)
        ):
            return None
        backtest.status = BacktestStatus.RUNNING
        backtest.progress = 0.0
        backtest.started_at = timezone.now()
        backtest.save(update_fields=["status", "progress", "started_at"])
        return backtest


def _progress_writer(
    backtest_id: int, extra: Callable[[float], None] | None
) -> Callable[[float], None]:
    last = {"t": 0.0}

    def write(fraction: float) -> None:
        if extra is not None:
            extra(fraction)
        now = time.monotonic()
        if now - last["t"] >= PROGRESS_EVERY_S:  # throttled: one UPDATE per half second at most
            last["t"] = now
            Backtest.objects.filter(pk=backtest_id).update(progress=min(0.99, float(fraction)))

    return write


def backtest_run(
    *, backtest_id: int, progress: Callable[[float], None] | None = None
) -> Backtest | None:
    """Run a queued backtest and store its results (or its failure); idempotent."""
    backtest = _claim(backtest_id)
    if backtest is None:
        return None
    started = time.monotonic()
    try:
        config = backtest_config_from(backtest.config)
        _validate(config)  # a strategy may have been unregistered since it was queued
        prices, benchmark = _prices_load(config)
        classes = dict(
            Asset.objects.filter(symbol__in=config.symbols).values_list("symbol", "asset_class")
        )
        report = backtest_report(
            config,
            prices,
            benchmark=benchmark,
            asset_classes=classes,
            progress=_progress_writer(backtest.pk, progress),
            retrain=_retrainers(config, backtest.config),
        )
    except Exception as exc:  # the task's boundary: record any failure on the row
        logger.exception("backtest %s failed", backtest_id)
        message = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
        Backtest.objects.filter(pk=backtest.pk).update(
            status=BacktestStatus.FAILED,
            error=message[:2000],
            finished_at=timezone.now(),
            duration_s=time.monotonic() - started,
        )
        backtest.refresh_from_db()
        return backtest
    results, series, trades = report_serialize(report)
    Backtest.objects.filter(pk=backtest.pk).update(
        status=BacktestStatus.SUCCEEDED,
        progress=1.0,
        results=results,
        series=series,
        trades=trades,
        finished_at=timezone.now(),
        duration_s=time.monotonic() - started,
    )
    backtest.refresh_from_db()
    return backtest


# --- serialization -------------------------------------------------------------------
def _clean(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _downsample_index(n: int, points: int) -> np.ndarray:
    if n <= points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, points).round().astype(int))


TAX_FIELDS = (
    "realized_short_term", "realized_long_term", "harvested_losses", "gains_offset", "tax_saved",
    "wash_sale_disallowed", "wash_sale_blocks", "estimated_tax",
)
TAX_YEAR_FIELDS = (*TAX_FIELDS, "loss_deduction", "carryover")


def taxes_serialize(taxes: TaxSummary) -> dict[str, Any]:
    """A backtest's taxes as JSON: totals, ``by_year`` (estimated tax) and ``years`` (every
    figure per calendar year); money rounded to cents."""
    def figures(source: Any, fields: tuple[str, ...]) -> dict[str, Any]:
        return {k: (getattr(source, k) if isinstance(getattr(source, k), int) else round(getattr(source, k), 2))
                for k in fields}

    return {
        **figures(taxes, TAX_FIELDS),
        "by_year": {str(y): round(t, 2) for y, t in taxes.by_year.items()},
        "years": {str(y): figures(s, TAX_YEAR_FIELDS) for y, s in taxes.years.items()},
    }


def _weights_series(weights: pd.DataFrame, dates: list[str], weight_idx: np.ndarray) -> dict[str, Any]:
    """The stored weights: the downsampled rows, rounded to 6 places."""
    w = weights.iloc[weight_idx]
    return {
        "dates": [dates[i] for i in weight_idx],
        "symbols": [str(c) for c in w.columns],
        "values": np.round(w.to_numpy(dtype=float), 6).tolist(),
    }


def _decisions_serialize(replayed: ReplayResult) -> list[dict[str, Any]]:
    """The last 50 decisions of a replay."""
    return [
        {
            "date": d.as_of.isoformat(),
            "action": d.action,
            "strategy": d.strategy,
            "triggers": list(d.triggers),
            "trades": d.trades,
            "override": d.override,
        }
        for d in replayed.decisions[-50:]
    ]


def _fills_serialize(replayed: ReplayResult) -> list[dict[str, Any]]:
    """The first ``STORED_TRADES`` fills of a replay, Decimals as strings."""
    return [
        {
            "date": f.as_of.isoformat(),
            "symbol": f.symbol,
            "side": f.side,
            "quantity": str(f.quantity),
            "price": str(f.price),
            "fill_price": str(f.fill_price),
            "commission": str(f.commission),
            "slippage": str(f.slippage),
            "realized_gain": str(f.realized_gain),
            "harvest": f.harvest,
        }
        for f in replayed.fills[:STORED_TRADES]
    ]


def _outcome_entry(outcome: StrategyOutcome, dates: list[str], api_idx: np.ndarray) -> dict[str, Any]:
    """One strategy's entry of the API's results (its weights, taxes and decisions when it has them)."""
    equity = outcome.equity.to_numpy(dtype=float)
    entry: dict[str, Any] = {
        "kind": outcome.kind,
        "equity_curve": [[dates[i], round(float(equity[i]), 2)] for i in api_idx],
    }
    if outcome.weights is not None and len(outcome.weights):
        last = outcome.weights.iloc[-1]
        entry["final_weights"] = {str(s): round(float(v), 6) for s, v in last.items() if v > 1e-9}
    if outcome.taxes is not None:
        entry["taxes"] = taxes_serialize(outcome.taxes)
    if outcome.replay is not None:
        entry["decisions"] = _decisions_serialize(outcome.replay)
    return entry


def report_serialize(report: BacktestReport) -> tuple[dict, dict, dict]:
    """(results for the API, full daily series, trades) as JSON-able dicts."""
    dates = [d.date().isoformat() for d in report.dates]
    table = [{k: _clean(v) for k, v in row.items()} for row in report.table()]
    api_idx = _downsample_index(len(dates), API_EQUITY_POINTS)
    weight_idx = _downsample_index(len(dates), STORED_WEIGHT_ROWS)
    strategies: dict[str, Any] = {}
    series: dict[str, Any] = {"dates": dates, "equity": {}, "weights": {}}
    trades: dict[str, Any] = {}
    for outcome in report.outcomes:
        equity = outcome.equity.to_numpy(dtype=float)
        series["equity"][outcome.name] = [round(float(v), 4) for v in equity]
        if outcome.weights is not None and len(outcome.weights):
            series["weights"][outcome.name] = _weights_series(outcome.weights, dates, weight_idx)
        if outcome.replay is not None:
            trades[outcome.name] = _fills_serialize(outcome.replay)
        strategies[outcome.name] = _outcome_entry(outcome, dates, api_idx)
    results = {
        "start": dates[0] if dates else None,
        "end": dates[-1] if dates else None,
        "trading_days": len(dates),
        "benchmark": report.config.benchmark,
        "comparison": table,
        "strategies": strategies,
    }
    return results, series, trades


def backtest_compute(
    *, data: Mapping[str, Any], progress: Callable[[float], None] | None = None
) -> list[dict]:
    """Run a request without storing it; return the comparison table (for the command)."""
    config = backtest_config_from(data)
    _validate(config)
    prices, benchmark = _prices_load(config)
    classes = dict(
        Asset.objects.filter(symbol__in=config.symbols).values_list("symbol", "asset_class")
    )
    report = backtest_report(
        config, prices, benchmark=benchmark, asset_classes=classes, progress=progress
    )
    results, _, _ = report_serialize(report)
    return results["comparison"]
