"""Walk-forward evaluation of strategies x risk tiers on real prices (pure, no Django).

The evidence the team owns (``python manage.py evaluate``, docs/EVIDENCE.md): every
strategy replayed through the production pipeline (:func:`~.engine.replay.replay`: the
projection, the risk overlay, the bands and the cost gate of ``cycle_decide``) for each
tier over many rolling windows, against baselines that pay **the same costs and the
same taxes**:

* **windows** — ``window_years`` long, one starting every ``step_months``; each window's
  universe is every symbol with a price on every day of the window and of its look-back
  history (a symbol listed later joins later windows);
* **baselines** — equal weight rebalanced monthly (the bar to clear), buy and hold, and
  60/40 when the universe holds bonds (the report says when it does not). They trade
  through the same in-memory ledger (:class:`~.engine.ledger.PaperLedger`: commission,
  slippage, lots), so their realised gains are taxed like the strategies';
* **after tax** — each year's estimated tax (:func:`~.engine.taxes.taxes_estimate`, losses
  carried forward) is paid on the first trading day of the next year (the last year's
  at the end) by selling the portfolio proportionally, and the daily return series is
  taken after those payments; the Sharpe ratios compared are after costs and taxes;
* **statistics** per strategy x tier and per set of windows — tuning (windows ending
  before ``tuning_end``; the defaults were chosen on these only) and confirmation (the
  others, never tuned on): Sharpe minus the equal-weight baseline's (median, 10th and
  90th percentile, a circular-block bootstrap 90 % interval of the median, blocks of
  consecutive windows because overlapping windows are dependent), max drawdown and its
  difference, turnover, rebalances per month, mean cash, costs, taxes, the share of
  windows beating equal weight, and a **random-portfolio test**: the share of
  ``random_portfolios`` long-only Dirichlet portfolios of the window's universe
  (rebalanced monthly, same costs, before tax) whose Sharpe beats the strategy's (the
  median over windows is reported as a p-value).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from portfolios.strategies import RegimeState
from rebalancer.autopilot.types import (
    AutonomyConfig,
    BandSettings,
    OverlaySettings,
    TaxConfig,
    TradeConfig,
)
from rebalancer.backtests.engine.baselines import sixty_forty_weights
from rebalancer.backtests.engine.config import TaxRates
from rebalancer.backtests.engine.fast import fixed_weight_backtest
from rebalancer.backtests.engine.ledger import PaperLedger
from rebalancer.backtests.engine.replay import ReplaySpec, _cost_model, _decimal_price, replay
from rebalancer.backtests.engine.schedule import period_starts
from rebalancer.backtests.engine.taxes import taxes_estimate

TRADING_DAYS = 252
BASELINE = "equal_weight_monthly"


@dataclass(frozen=True)
class EvaluationSpec:
    """What to evaluate and how (every field has the default the evidence used)."""

    strategies: tuple[str, ...] = (
        "equal_weight", "optimizer:min_volatility", "optimizer:max_sharpe", "optimizer:risk_parity",
        "optimizer:hrp", "optimizer:min_cvar", "regime_adaptive",
    )
    tiers: tuple[str, ...] = ("conservative", "balanced", "aggressive")
    window_years: int = 5
    step_months: int = 3
    first_start: date = date(1995, 1, 1)
    tuning_end: date = date(2013, 1, 1)
    """Windows ending before this day are the tuning set; the rest confirm."""
    lookback_days: int = 252
    initial_cash: Decimal = Decimal("100000")
    calendar: str = "monthly"
    rebalance_threshold: float = 0.05
    trade: TradeConfig = field(default_factory=TradeConfig)
    tax_rates: TaxRates = field(default_factory=TaxRates)
    overlay: OverlaySettings = field(default_factory=OverlaySettings)
    band: BandSettings = field(default_factory=BandSettings)
    horizon_years: int = 10
    random_portfolios: int = 200
    seed: int = 0
    min_symbols: int = 5


@dataclass(frozen=True)
class Window:
    start: date
    end: date
    symbols: tuple[str, ...]
    set: str  # "tuning" | "confirmation"


@dataclass(frozen=True)
class RunRow:
    """One strategy (or baseline) in one window and tier."""

    window_start: date
    window_end: date
    set: str
    strategy: str
    tier: str
    kind: str  # "strategy" | "baseline"
    sharpe: float
    sharpe_pre_tax: float
    annual_return: float
    annual_volatility: float
    max_drawdown: float
    annual_turnover: float
    rebalances_per_month: float
    max_rebalances_in_a_month: int
    mean_cash: float
    costs: float
    taxes: float
    final_value: float
    random_p: float | None = None
    n_symbols: int = 0
    invested_days: float = 1.0
    """Share of days with at least 5 % invested (a window sat out in cash scores 0)."""


def windows_make(prices: pd.DataFrame, spec: EvaluationSpec) -> list[Window]:
    """Rolling windows over ``prices`` (see the module docstring)."""
    index = pd.DatetimeIndex(prices.index)
    last = index[-1]
    out: list[Window] = []
    start = pd.Timestamp(spec.first_start)
    while True:
        end = start + pd.DateOffset(years=spec.window_years) - pd.Timedelta(days=1)
        if end > last:
            break
        first_trading = index[index.searchsorted(start)]
        history_start = index.searchsorted(first_trading) - spec.lookback_days - 2
        if history_start >= 0:
            block = prices.iloc[history_start : index.searchsorted(end, side="right")]
            symbols = tuple(str(c) for c in block.columns[block.notna().all().to_numpy()])
            if len(symbols) >= spec.min_symbols:
                label = "tuning" if end.date() < spec.tuning_end else "confirmation"
                out.append(Window(first_trading.date(), end.date(), symbols, label))
        start = start + pd.DateOffset(months=spec.step_months)
    return out


# --- after-tax equity and metrics -------------------------------------------------------------


def after_tax_equity(equity: np.ndarray, dates: pd.DatetimeIndex, tax_by_year: Mapping[int, float]) -> np.ndarray:
    """The equity curve after paying each year's tax on the next year's first trading day.

    A payment sells the portfolio proportionally: from then on the curve is scaled by
    ``1 - tax / value``. The last year's tax is paid on the last day.
    """
    out = equity.astype(float).copy()
    years = dates.year.to_numpy()
    scale = 1.0
    factors = np.ones(len(out))
    for year in sorted(tax_by_year):
        tax = float(tax_by_year[year])
        if tax <= 0:
            continue
        later = np.flatnonzero(years > year)
        k = int(later[0]) if later.size else len(out) - 1
        value = out[k] * scale
        if value <= 0:
            continue
        scale *= max(0.0, 1.0 - tax / value)
        factors[k:] = scale
    return out * factors


def _sharpe(returns: np.ndarray) -> float:
    if returns.size < 2:
        return 0.0
    sd = float(np.std(returns, ddof=1))
    return float(np.mean(returns) / sd * math.sqrt(TRADING_DAYS)) if sd > 0 else 0.0


def _returns(equity: np.ndarray, initial: float) -> np.ndarray:
    previous = np.concatenate(([initial], equity[:-1]))
    return equity / previous - 1.0


def _max_drawdown(equity: np.ndarray, initial: float) -> float:
    wealth = np.concatenate(([initial], equity))
    peak = np.maximum.accumulate(wealth)
    return float(np.max(1.0 - wealth / peak))


def _rebalance_counts(days: Sequence[date], dates: pd.DatetimeIndex) -> tuple[float, int]:
    months = max(1.0, len(dates) / 21.0)
    if not days:
        return 0.0, 0
    keys = pd.Series([d.year * 100 + d.month for d in days]).value_counts()
    return len(days) / months, int(keys.max())


# --- baselines through the same ledger ---------------------------------------------------------


def _ledger_fixed_weights(prices: pd.DataFrame, weights: np.ndarray, rebalance: np.ndarray, spec: EvaluationSpec):
    """A fixed-weight baseline traded through the PaperLedger (costs and lots like a strategy)."""
    symbols = [str(c) for c in prices.columns]
    ledger = PaperLedger(initial_cash=Decimal(spec.initial_cash), costs=_cost_model(_autonomy(spec, "equal_weight", "balanced")))
    equity = np.zeros(len(prices))
    cash = np.zeros(len(prices))
    notional = np.zeros(len(prices))
    trade_days: list[date] = []
    values = prices.to_numpy(dtype=float)
    for t, ts in enumerate(prices.index):
        row = {s: _decimal_price(values[t, i]) for i, s in enumerate(symbols)}
        if rebalance[t]:
            total = ledger.value(row)
            orders = []
            for i, s in enumerate(symbols):
                target = Decimal(repr(float(weights[i]))) * total / row[s]
                delta = (target - ledger.quantities.get(s, Decimal(0))).quantize(Decimal("0.00000001"))
                if abs(delta) * row[s] >= Decimal(str(spec.trade.min_trade_value)):
                    orders.append((s, delta))
            orders.sort(key=lambda o: o[1] > 0)  # sells first
            for s, delta in orders:
                fill = ledger.execute(as_of=ts.date(), symbol=s, side="buy" if delta > 0 else "sell",
                                      quantity=abs(delta), price=row[s])
                notional[t] += float(fill.quantity * fill.price)
            if orders and t > 0:
                trade_days.append(ts.date())
        equity[t] = float(ledger.value(row))
        cash[t] = float(ledger.cash)
    return equity, cash, notional, ledger, trade_days


def _autonomy(spec: EvaluationSpec, strategy: str, tier: str, symbols: Sequence[str] = ()) -> AutonomyConfig:
    from portfolios.policy import policy_limits

    return AutonomyConfig(
        mode="autopilot", strategy=strategy, risk_tier=tier, universe=tuple(symbols),
        rebalance_threshold=spec.rebalance_threshold, calendar=spec.calendar,  # type: ignore[arg-type]
        limits=policy_limits(tier=tier, horizon_years=spec.horizon_years, cash_buffer=spec.trade.cash_buffer),
        trade=spec.trade,
        tax=TaxConfig(short_term_rate=spec.tax_rates.short_term, long_term_rate=spec.tax_rates.long_term),
        lookback_days=spec.lookback_days, overlay=spec.overlay, band=spec.band,
    )


def _row(*, window, strategy, tier, kind, equity, cash, notional, fills, trade_days, dates, spec, n_symbols) -> RunRow:
    initial = float(spec.initial_cash)
    taxes = taxes_estimate(fills, spec.tax_rates)
    taxed = after_tax_equity(equity, dates, taxes.by_year)
    years = len(dates) / TRADING_DAYS
    r_after = _returns(taxed, initial)
    r_pre = _returns(equity, initial)
    turnover = float(np.sum(notional[1:] / np.where(equity[1:] > 0, equity[1:], np.inf)) / 2.0)
    per_month, worst_month = _rebalance_counts(trade_days, dates)
    cash_share = cash / np.where(equity > 0, equity, np.inf)
    commission = sum(float(f.commission) for f in fills)
    slippage = sum(float(f.slippage) for f in fills)
    return RunRow(
        window_start=window.start, window_end=window.end, set=window.set, strategy=strategy, tier=tier,
        kind=kind, sharpe=_sharpe(r_after), sharpe_pre_tax=_sharpe(r_pre),
        annual_return=float((taxed[-1] / initial) ** (1.0 / years) - 1.0) if years > 0 and taxed[-1] > 0 else -1.0,
        annual_volatility=float(np.std(r_after, ddof=1) * math.sqrt(TRADING_DAYS)),
        max_drawdown=_max_drawdown(taxed, initial), annual_turnover=turnover / years if years else 0.0,
        rebalances_per_month=per_month, max_rebalances_in_a_month=worst_month,
        mean_cash=float(np.mean(cash_share)), costs=commission + slippage, taxes=taxes.estimated_tax,
        final_value=float(taxed[-1]), n_symbols=n_symbols,
        invested_days=float(np.mean(cash_share < 0.95)),
    )


# --- the random-portfolio test -----------------------------------------------------------------


def random_sharpes(values: np.ndarray, *, n: int, seed: int, commission: float, slippage: float, dates) -> np.ndarray:
    """Pre-tax Sharpe ratios of ``n`` random long-only portfolios rebalanced monthly."""
    rng = np.random.default_rng(seed)
    monthly = period_starts(pd.DatetimeIndex(dates), "monthly")
    out = np.empty(n)
    for i in range(n):
        w = rng.dirichlet(np.ones(values.shape[1]))
        fast = fixed_weight_backtest(values, w, monthly, initial_cash=100_000.0, commission_rate=commission,
                                     slippage_rate=slippage)
        out[i] = _sharpe(_returns(fast.equity, 100_000.0))
    return out


# --- one window, every strategy and tier --------------------------------------------------------


def window_evaluate(
    window: Window,
    prices: pd.DataFrame,
    spec: EvaluationSpec,
    *,
    asset_classes: Mapping[str, str],
    regimes: Mapping[date, RegimeState] | None = None,
    strategy_cache: dict | None = None,
) -> list[RunRow]:
    """Every strategy x tier of ``spec`` and the baselines in one window."""
    index = pd.DatetimeIndex(prices.index)
    lo = index.searchsorted(pd.Timestamp(window.start)) - spec.lookback_days - 2
    hi = index.searchsorted(pd.Timestamp(window.end), side="right")
    panel = prices.iloc[max(0, lo) : hi][list(window.symbols)]
    trading = panel.loc[pd.Timestamp(window.start) :]
    dates = pd.DatetimeIndex(trading.index)
    classes = {s: asset_classes.get(s, "equity") for s in window.symbols}
    rows: list[RunRow] = []
    values = trading.to_numpy(dtype=float)
    n = len(window.symbols)
    slip = spec.trade.slippage_bps / 10_000.0
    randoms = random_sharpes(values, n=spec.random_portfolios, seed=spec.seed, commission=spec.trade.commission_rate,
                             slippage=slip, dates=dates) if spec.random_portfolios else np.zeros(0)
    baselines = {
        "equal_weight_monthly": (np.full(n, 1.0 / n), period_starts(dates, "monthly")),
        "buy_and_hold": (np.full(n, 1.0 / n), period_starts(dates, "never")),
    }
    sixty = sixty_forty_weights(list(window.symbols), classes)
    if sixty is not None:
        baselines["sixty_forty"] = (sixty, period_starts(dates, "monthly"))
    for name, (w, mask) in baselines.items():
        equity, cash, notional, ledger, days = _ledger_fixed_weights(trading, w, mask, spec)
        rows.append(_row(window=window, strategy=name, tier="-", kind="baseline", equity=equity, cash=cash,
                         notional=notional, fills=ledger.fills, trade_days=days, dates=dates, spec=spec,
                         n_symbols=n))
    shared = strategy_cache if strategy_cache is not None else {}
    for tier in spec.tiers:
        for strategy in spec.strategies:
            if strategy in ("regime_adaptive",) and not regimes:
                continue
            autonomy = _autonomy(spec, strategy, tier, window.symbols)
            result = replay(panel, ReplaySpec(initial_cash=spec.initial_cash, autonomy=autonomy, asset_classes=classes,
                                              regimes=regimes), start=window.start, strategy_cache=shared)
            trade_days = [d.as_of for d in result.decisions if d.trades and d.as_of != dates[0].date()]
            row = _row(window=window, strategy=strategy, tier=tier, kind="strategy", equity=result.equity,
                       cash=result.cash, notional=result.traded_notional, fills=result.fills,
                       trade_days=trade_days, dates=dates, spec=spec, n_symbols=n)
            p = float(np.mean(randoms >= row.sharpe_pre_tax)) if randoms.size else None
            rows.append(replace(row, random_p=p))
    return rows


def evaluation_run(
    prices: pd.DataFrame,
    spec: EvaluationSpec,
    *,
    asset_classes: Mapping[str, str] | None = None,
    regimes: Mapping[date, RegimeState] | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    windows: Sequence[Window] | None = None,
) -> pd.DataFrame:
    """Every window of ``spec`` (see :func:`window_evaluate`); one row per run as a frame.

    ``workers`` > 1 spreads contiguous blocks of windows over processes (each keeps its
    own strategy cache, shared by its overlapping windows).
    """
    windows = list(windows) if windows is not None else windows_make(prices, spec)
    classes = dict(asset_classes or {})
    rows: list[RunRow] = []
    if workers <= 1:
        cache: dict = {}
        for i, window in enumerate(windows):
            rows += window_evaluate(window, prices, spec, asset_classes=classes, regimes=regimes, strategy_cache=cache)
            if progress is not None:
                progress(i + 1, len(windows))
    else:
        import multiprocessing as mp

        blocks = [list(b) for b in np.array_split(np.arange(len(windows)), workers * 4) if len(b)]
        context = mp.get_context("fork")
        done = 0
        with context.Pool(workers, initializer=_worker_init, initargs=(prices, spec, classes, regimes)) as pool:
            for part, count in pool.imap_unordered(_worker_block, [[windows[i] for i in b] for b in blocks]):
                rows += part
                done += count
                if progress is not None:
                    progress(done, len(windows))
    frame = pd.DataFrame([r.__dict__ for r in rows])
    return frame.sort_values(["window_start", "kind", "strategy", "tier"]).reset_index(drop=True)


_WORKER: dict = {}


def strategies_register_pure() -> None:
    """Every strategy the evaluation replays, with no database behind them.

    The regime-adaptive strategy reads the replay's regime calls and the default policy
    (``mlagents.regime.engine.policy.DEFAULT_POLICY``), not the operator's stored rules.
    """
    from mlagents.regime.engine.policy import DEFAULT_POLICY, AdaptiveStrategy
    from portfolios.strategies import register
    from rebalancer.autopilot.strategies import strategies_register

    strategies_register()
    register("regime_adaptive", lambda: AdaptiveStrategy(rules=lambda: DEFAULT_POLICY, regime_at=lambda day: None))


def _worker_init(prices, spec, classes, regimes) -> None:
    strategies_register_pure()
    _WORKER.update(prices=prices, spec=spec, classes=classes, regimes=regimes, cache={})


def _worker_block(windows: list[Window]) -> tuple[list[RunRow], int]:
    w = _WORKER
    rows: list[RunRow] = []
    for window in windows:
        rows += window_evaluate(window, w["prices"], w["spec"], asset_classes=w["classes"], regimes=w["regimes"],
                                strategy_cache=w["cache"])
    return rows, len(windows)


# --- summaries -----------------------------------------------------------------------------------


def block_bootstrap_median(values: np.ndarray, *, block: int = 8, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """A 90 % circular-block bootstrap interval of the median of a series of dependent values.

    Circular (Politis and Romano, 1992): blocks wrap around the end, so every value is drawn
    equally often. The plain moving-block scheme draws the first and last ``block - 1``
    values less often than the middle ones; with 14 windows and blocks of 8 its interval
    could miss the sample's own median (the hold-out report showed -0.05 with an interval
    of -0.16 to -0.07)."""
    values = np.asarray(values, dtype=float)
    m = len(values)
    if m == 0:
        return (math.nan, math.nan)
    block = max(1, min(block, m))
    rng = np.random.default_rng(seed)
    k = int(math.ceil(m / block))
    offsets = np.arange(block)
    starts = rng.integers(0, m, size=(n, k))
    index = ((starts[:, :, None] + offsets) % m).reshape(n, k * block)[:, :m]
    medians = np.median(values[index], axis=1)
    return float(np.quantile(medians, 0.05)), float(np.quantile(medians, 0.95))


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per set x strategy x tier: the statistics of the module docstring."""
    base = runs[runs.strategy == BASELINE].set_index("window_start")
    out = []
    strategies = runs[runs.kind == "strategy"]
    for (set_, strategy, tier), group in strategies.groupby(["set", "strategy", "tier"], sort=False):
        g = group.set_index("window_start")
        b = base.loc[g.index]
        delta = (g.sharpe - b.sharpe).to_numpy()
        dd_delta = (g.max_drawdown - b.max_drawdown).to_numpy()
        lo, hi = block_bootstrap_median(delta)
        out.append({
            "set": set_, "strategy": strategy, "tier": tier, "windows": len(g),
            "sharpe": float(g.sharpe.median()), "sharpe_baseline": float(b.sharpe.median()),
            "delta_sharpe_median": float(np.median(delta)), "delta_sharpe_p10": float(np.quantile(delta, 0.1)),
            "delta_sharpe_p90": float(np.quantile(delta, 0.9)), "delta_sharpe_ci_lo": lo, "delta_sharpe_ci_hi": hi,
            "beats_baseline": float(np.mean(delta >= 0)),
            "max_drawdown": float(g.max_drawdown.median()), "delta_max_drawdown": float(np.median(dd_delta)),
            "volatility": float(g.annual_volatility.median()), "annual_return": float(g.annual_return.median()),
            "annual_turnover": float(g.annual_turnover.median()),
            "rebalances_per_month": float(g.rebalances_per_month.mean()),
            "max_rebalances_per_month": float(g.rebalances_per_month.max()),
            "mean_cash": float(g.mean_cash.mean()), "costs": float(g.costs.median()),
            "taxes": float(g.taxes.median()), "taxes_baseline": float(b.taxes.median()),
            "random_p_median": float(g.random_p.median()) if g.random_p.notna().any() else math.nan,
            "windows_sat_out": int((g.invested_days < 0.05).sum()),
        })
    return pd.DataFrame(out)


def baseline_table(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (set_, name), g in runs[runs.kind == "baseline"].groupby(["set", "strategy"], sort=False):
        rows.append({"set": set_, "baseline": name, "windows": len(g), "sharpe": float(g.sharpe.median()),
                     "max_drawdown": float(g.max_drawdown.median()), "volatility": float(g.annual_volatility.median()),
                     "annual_turnover": float(g.annual_turnover.median()), "taxes": float(g.taxes.median())})
    return pd.DataFrame(rows)


def monotone_by_tier(summary: pd.DataFrame, column: str, tiers: Iterable[str]) -> dict[tuple[str, str], bool]:
    """Whether ``column`` rises from tier to tier for each (set, strategy)."""
    order = list(tiers)
    out = {}
    for (set_, strategy), g in summary.groupby(["set", "strategy"]):
        values = [float(g[g.tier == t][column].iloc[0]) for t in order if (g.tier == t).any()]
        out[(set_, strategy)] = all(b >= a - 1e-12 for a, b in zip(values, values[1:], strict=False))
    return out


def regimes_walk_forward(market: pd.Series) -> dict[date, RegimeState]:
    """Causal regime calls on a market index (the detector refitted yearly, walk-forward).

    The same engine the product's regime detection runs (``mlagents.regime.engine``);
    each day's call uses only data up to that day. Days before the first fit have none.
    """
    from mlagents.regime.engine.features import regime_features
    from mlagents.regime.engine.hmm import walk_forward

    probabilities = walk_forward(regime_features(market)).probabilities
    out: dict[date, RegimeState] = {}
    previous = None
    for ts, row in probabilities.iterrows():
        regime = str(row.idxmax())
        out[ts.date()] = RegimeState(regime=regime, confidence=float(row.max()),
                                     probabilities={k: float(v) for k, v in row.items()},
                                     changed=previous is not None and regime != previous)
        previous = regime
    return out
