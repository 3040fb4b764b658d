"""A whole backtest on a price panel: each strategy replayed, baselines, metrics, table.

:func:`backtest_report` is the pure entry point (no Django): the services load the
prices and persist what it returns; the benchmarks call it directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from rebalancer.backtests.engine.baselines import baselines_run
from rebalancer.backtests.engine.config import BacktestConfig
from rebalancer.backtests.engine.replay import ReplayResult, ReplaySpec, RetrainFn, replay
from rebalancer.backtests.engine.taxes import TaxSummary, taxes_estimate
from risk.measures.performance import PerformanceMetrics, performance_metrics

METRIC_FIELDS = (
    "total_return",
    "annual_return",
    "annual_volatility",
    "sharpe_ratio",
    "sortino_ratio",
    "calmar_ratio",
    "max_drawdown",
    "beta",
    "tracking_error",
    "information_ratio",
)


@dataclass(frozen=True)
class StrategyOutcome:
    """One strategy's (or baseline's) daily series and summary numbers."""

    name: str
    kind: str  # "strategy" | "baseline" | "benchmark"
    equity: pd.Series
    weights: pd.DataFrame | None
    metrics: PerformanceMetrics
    final_value: float
    commission: float
    slippage: float
    turnover: float  # one-way, summed over the window (initial investment excluded)
    annual_turnover: float
    rebalances: int
    trades: int
    taxes: TaxSummary | None = None
    replay: ReplayResult | None = None

    def row(self) -> dict:
        """The comparison-table row (JSON-able floats)."""
        m = self.metrics
        row: dict = {
            "name": self.name,
            "kind": self.kind,
            "final_value": round(self.final_value, 4),
        }
        for key in METRIC_FIELDS:
            value = getattr(m, key)
            row[key] = None if value is None else float(value)
        row.update(
            costs=self.commission + self.slippage,
            commission=self.commission,
            slippage=self.slippage,
            taxes=None if self.taxes is None else self.taxes.estimated_tax,
            turnover=self.turnover,
            annual_turnover=self.annual_turnover,
            rebalances=self.rebalances,
            trades=self.trades,
        )
        return row


@dataclass(frozen=True)
class BacktestReport:
    config: BacktestConfig
    dates: pd.DatetimeIndex
    outcomes: list[StrategyOutcome] = field(default_factory=list)

    def table(self) -> list[dict]:
        return [o.row() for o in self.outcomes]


def _returns_from_equity(equity: np.ndarray, initial: float) -> np.ndarray:
    """Daily returns, the first one against the initial cash (so costs of day 0 count)."""
    previous = np.concatenate(([initial], equity[:-1]))
    return equity / previous - 1.0


def _turnover(notional: np.ndarray, equity: np.ndarray, years: float) -> tuple[float, float]:
    if len(equity) < 2:
        return 0.0, 0.0
    total = float(np.sum(notional[1:] / np.where(equity[1:] > 0, equity[1:], np.inf)) / 2.0)
    return total, total / years if years > 0 else 0.0


def _metrics(equity: np.ndarray, initial: float, bench: np.ndarray | None) -> PerformanceMetrics:
    returns = _returns_from_equity(equity, initial)
    if len(returns) < 2:
        returns = np.concatenate((returns, [0.0]))
        bench = None if bench is None else np.concatenate((bench, [0.0]))
    return performance_metrics(returns, benchmark=bench)


@dataclass(frozen=True)
class _Window:
    """The replayed part of the panel and what every outcome is measured with."""

    prices: pd.DataFrame  # the rows from ``config.start``
    dates: pd.DatetimeIndex
    initial: float
    years: float
    bench_returns: np.ndarray | None  # daily, the first one 0.0


def _window_of(config: BacktestConfig, prices: pd.DataFrame, benchmark: pd.Series | None) -> _Window:
    index = pd.DatetimeIndex(prices.index)
    first = int(index.searchsorted(pd.Timestamp(config.start)))
    window = prices.iloc[first:]
    dates = pd.DatetimeIndex(window.index)
    bench_returns = None
    if benchmark is not None:
        b = benchmark.reindex(dates).ffill().to_numpy(dtype=float)
        bench_returns = np.concatenate(([0.0], b[1:] / b[:-1] - 1.0))
    return _Window(prices=window, dates=dates, initial=float(config.initial_cash), years=len(dates) / 252.0,
                   bench_returns=bench_returns)


def _strategy_replay(
    config: BacktestConfig, prices: pd.DataFrame, name: str, classes: dict[str, str],
    hook: RetrainFn | None, step: Callable[[float], None],
) -> ReplayResult:
    """Replay one strategy; a walk-forward hook's ``close()`` is called once it is over."""
    spec = ReplaySpec(
        initial_cash=Decimal(config.initial_cash),
        autonomy=config.autonomy(name),
        asset_classes=classes,
        retrain=hook,
        retrain_every=config.retrain_every if hook else "never",
        check_invariants=config.check_invariants,
    )
    try:
        return replay(prices, spec, start=config.start, progress=step)
    finally:
        close = getattr(hook, "close", None)
        if close is not None:  # a walk-forward hook drops its in-memory strategies
            close()


def _strategy_outcome(config: BacktestConfig, name: str, result: ReplayResult, w: _Window) -> StrategyOutcome:
    turnover, annual = _turnover(result.traded_notional, result.equity, w.years)
    return StrategyOutcome(
        name=name,
        kind="strategy",
        equity=pd.Series(result.equity, index=w.dates),
        weights=result.weights,
        metrics=_metrics(result.equity, w.initial, w.bench_returns),
        final_value=float(result.final_value),
        commission=float(result.commission),
        slippage=float(result.slippage),
        turnover=turnover,
        annual_turnover=annual,
        rebalances=result.rebalances,
        trades=len(result.fills),
        taxes=taxes_estimate(result.fills, config.tax_rates, ledger=result.ledger, through=config.end),
        replay=result,
    )


def _baseline_outcomes(config: BacktestConfig, classes: dict[str, str], w: _Window) -> list[StrategyOutcome]:
    trade = config.trade
    outcomes = []
    for name, fast in baselines_run(
        w.prices,
        initial_cash=w.initial,
        commission_rate=float(trade.commission_rate),
        slippage_rate=float(trade.slippage_bps) / 10_000.0,
        asset_classes=classes,
    ).items():
        turnover, annual = _turnover(fast.traded_notional, fast.equity, w.years)
        weights = pd.DataFrame(
            fast.quantities * w.prices.to_numpy(dtype=float) / fast.equity[:, None],
            index=w.dates,
            columns=list(w.prices.columns),
        )
        outcomes.append(
            StrategyOutcome(
                name=name,
                kind="baseline",
                equity=pd.Series(fast.equity, index=w.dates),
                weights=weights,
                metrics=_metrics(fast.equity, w.initial, w.bench_returns),
                final_value=float(fast.equity[-1]),
                commission=float(fast.commission.sum()),
                slippage=float(fast.slippage.sum()),
                turnover=turnover,
                annual_turnover=annual,
                rebalances=int(np.count_nonzero(fast.trade_count[1:])),
                trades=int(fast.trade_count.sum()),
            )
        )
    return outcomes


def _benchmark_outcome(name: str, bench_returns: np.ndarray, w: _Window) -> StrategyOutcome:
    bench_equity = w.initial * np.cumprod(1.0 + bench_returns)
    return StrategyOutcome(
        name=name,
        kind="benchmark",
        equity=pd.Series(bench_equity, index=w.dates),
        weights=None,
        metrics=_metrics(bench_equity, w.initial, bench_returns),
        final_value=float(bench_equity[-1]),
        commission=0.0,
        slippage=0.0,
        turnover=0.0,
        annual_turnover=0.0,
        rebalances=0,
        trades=0,
    )


def backtest_report(
    config: BacktestConfig,
    prices: pd.DataFrame,
    *,
    benchmark: pd.Series | None = None,
    asset_classes: Mapping[str, str] | None = None,
    progress: Callable[[float], None] | None = None,
    retrain: Callable[[str], RetrainFn | None] | None = None,
) -> BacktestReport:
    """Replay every strategy of ``config`` over ``prices`` and compare them.

    ``prices``: adjusted close, dates x ``config.symbols``, complete (no NaN) from
    ``config.start``; rows before it are look-back history. ``benchmark``: the
    benchmark's prices on (at least) the same dates, or ``None``. ``retrain`` maps a
    strategy name to its walk-forward hook (``None`` for strategies that are not retrained);
    a hook with a ``close()`` method has it called once its strategy's replay is over.
    """
    classes = dict(asset_classes or {})
    w = _window_of(config, prices, benchmark)
    outcomes: list[StrategyOutcome] = []
    n = len(config.strategies)
    for i, name in enumerate(config.strategies):
        hook = retrain(name) if retrain is not None and config.retrain_every != "never" else None

        def step(fraction: float, i: int = i) -> None:
            if progress is not None:
                progress((i + fraction) / n)

        result = _strategy_replay(config, prices, name, classes, hook, step)
        outcomes.append(_strategy_outcome(config, name, result, w))
    if config.baselines and len(w.dates):
        outcomes.extend(_baseline_outcomes(config, classes, w))
    if w.bench_returns is not None and config.benchmark:
        outcomes.append(_benchmark_outcome(config.benchmark, w.bench_returns, w))
    if progress is not None:
        progress(1.0)
    return BacktestReport(config=config, dates=w.dates, outcomes=outcomes)
