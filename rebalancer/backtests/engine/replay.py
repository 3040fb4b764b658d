"""The day-by-day replay of the autopilot's pure decision core over stored prices.

For every trading day of the window the replay builds the same inputs the live DB
shell builds from the database — a :class:`HoldingsState` from the (in-memory) ledger
and a :class:`MarketView` of the prices and returns known at that close — calls
:func:`rebalancer.autopilot.engine.cycle_decide`, and books the decided trades in a
:class:`~rebalancer.backtests.engine.ledger.PaperLedger` through the same cost model
the paper broker uses. Nothing is written to the database per day; the same day and
inputs give the live pipeline's decision (a test checks it).

Walk-forward retraining: ``retrain`` is called at the first trading day of each
``retrain_every`` period with the returns known at that close (no look-ahead); it may
return the name of a (freshly trained and registered) strategy to use from then on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from portfolios.strategies import RegimeState
from portfolios.trading.costs import BUY, CostModel
from rebalancer.autopilot import triggers
from rebalancer.autopilot.engine import DUST, cycle_decide, universe_of
from rebalancer.autopilot.metrics import drawdown, historical_var, metrics_of, window_stats
from rebalancer.autopilot.types import AutonomyConfig, HoldingsState, Lot, MarketView
from rebalancer.backtests.engine.ledger import Fill, PaperLedger
from rebalancer.backtests.engine.schedule import period_starts

WASH_SALE_LOOKBACK_DAYS = 30
TRADING_DAYS_WINDOW = 40  # trading days around as_of the calendar trigger may look at

ProgressFn = Callable[[float], None]
RetrainFn = Callable[[date, pd.DataFrame], "str | None"]


@dataclass(frozen=True)
class ReplaySpec:
    """A portfolio configuration to replay (prices come separately)."""

    initial_cash: Decimal
    autonomy: AutonomyConfig
    asset_classes: Mapping[str, str] = field(default_factory=dict)
    kill_switch: str = "off"
    regimes: Mapping[date, RegimeState] | None = None
    """Causal regime per day (from the regime detector), or ``None``."""
    retrain: RetrainFn | None = None
    retrain_every: str = "never"
    """``monthly``, ``quarterly``, ``annually`` or ``never``: walk-forward cadence."""
    check_invariants: bool = False
    """Run the ledger invariants and cost accounting after every day (the harness)."""
    screen: bool = True
    """Skip the core on days no trigger can fire (see :func:`_quiet_day`); same results."""


@dataclass(frozen=True)
class DecisionRecord:
    """The part of a day's decision a backtest report keeps (days that did something)."""

    as_of: date
    action: str
    strategy: str | None
    triggers: tuple[str, ...]
    trades: int
    summary: str
    override: str | None = None


@dataclass(frozen=True)
class ReplayResult:
    """Daily series and records of one replay."""

    dates: pd.DatetimeIndex
    equity: np.ndarray  # (T,) value at each close after that day's trades (float)
    cash: np.ndarray  # (T,)
    weights: pd.DataFrame  # (T, N) weight of each symbol in value after trades
    fills: list[Fill]
    decisions: list[DecisionRecord]
    final_value: Decimal
    commission: Decimal
    slippage: Decimal
    traded_notional: np.ndarray  # (T,) reference notional traded each day
    ledger: PaperLedger

    @property
    def rebalances(self) -> int:
        return sum(1 for d in self.decisions if d.action == "rebalance" and d.trades)


def _decimal_price(value: float) -> Decimal:
    # Prices are stored with 6 decimal places (marketdata's DecimalField); the live
    # shell reads them from there, so the replay rounds the same way.
    return Decimal(repr(float(value))).quantize(Decimal("0.000001"))


def replay(
    prices: pd.DataFrame,
    spec: ReplaySpec,
    *,
    start: date | None = None,
    progress: ProgressFn | None = None,
) -> ReplayResult:
    """Replay ``spec`` over ``prices`` (dates x symbols, adjusted close, no NaN from ``start``).

    Rows before ``start`` are history only (the strategy's look-back window); trading
    starts at the first row on or after ``start`` (the first row when ``None``).
    """
    symbols = tuple(str(s) for s in prices.columns)
    index = pd.DatetimeIndex(prices.index)
    first = 0 if start is None else int(index.searchsorted(pd.Timestamp(start)))
    returns_all = (
        prices.pct_change(fill_method=None).iloc[1:] if len(prices) > 1 else prices.iloc[:0]
    )
    days = [ts.date() for ts in index]
    values = prices.to_numpy(dtype=float)
    returns_np = returns_all.to_numpy(dtype=float)
    complete = not np.isnan(returns_np).any()
    dec_prices = [[_decimal_price(v) for v in row] for row in values[first:]]

    ledger = PaperLedger(initial_cash=Decimal(spec.initial_cash), costs=_cost_model(spec.autonomy))
    autonomy = spec.autonomy
    n_days = len(index) - first
    equity = np.zeros(n_days)
    cash = np.zeros(n_days)
    weights = np.zeros((n_days, len(symbols)))
    notional = np.zeros(n_days)
    decisions: list[DecisionRecord] = []
    retrain_days = period_starts(index[first:], spec.retrain_every) if spec.retrain else None
    last_rebalanced: date | None = None
    col = {s: i for i, s in enumerate(symbols)}
    lookback = autonomy.lookback_days
    report_every = max(1, n_days // 100)

    screen = spec.screen and _screenable(spec)

    def _record_close(k: int) -> None:
        as_of, price_map = days[first + k], dict(zip(symbols, dec_prices[k], strict=True))
        if spec.check_invariants:
            ledger.check_invariants(as_of)
        total = ledger.value(price_map)
        equity[k] = float(total)
        cash[k] = float(ledger.cash)
        if total > 0:
            for s, q in ledger.quantities.items():
                weights[k, col[s]] = float(q * price_map[s] / total)
        if progress is not None and (k % report_every == 0 or k == n_days - 1):
            progress((k + 1) / n_days)

    for k in range(n_days):
        t = first + k
        as_of = days[t]
        row_dec = dec_prices[k]
        price_map = dict(zip(symbols, row_dec, strict=True))
        # Returns known at this close: rows up to and including as_of (returns_all is
        # shifted by one row against prices).
        lo = max(0, t - lookback - 5)
        if retrain_days is not None and retrain_days[k]:
            name = spec.retrain(as_of, returns_all.iloc[:t])
            if name:
                autonomy = replace(autonomy, strategy=name)
        float_prices = {s: float(p) for s, p in price_map.items()}
        trading_days = tuple(days[max(0, t - TRADING_DAYS_WINDOW) : t + 1])
        regime = spec.regimes.get(as_of) if spec.regimes else None
        if screen and _quiet_day(
            as_of=as_of,
            cash=float(ledger.cash),
            quantities={s: float(q) for s, q in ledger.quantities.items()},
            prices=float_prices,
            value_history=equity[:k],
            window=lambda lo=lo, t=t: returns_all.iloc[lo:t],
            window_array=(lambda t=t: returns_np[max(0, t - lookback) : t]) if complete else None,
            columns=col,
            trading_days=trading_days,
            config=autonomy,
            regime=regime,
        ):
            _record_close(k)  # provably a hold: the core would trade nothing today
            continue
        market = MarketView(
            as_of=as_of,
            returns=returns_all.iloc[lo:t],
            prices=float_prices,
            asset_classes=spec.asset_classes,
            trading_days=trading_days,
        )
        state = _holdings_state(ledger, as_of, equity[:k], days[first : first + k], last_rebalanced)
        if autonomy.tax.enabled:  # what a harvested loss can offset this year (rebalancer.autopilot.harvest)
            realized, carryover = ledger.tax_position(as_of, loss_deduction_limit=autonomy.tax.loss_deduction_limit)
            state = replace(state, realized_this_year=realized, loss_carryover=carryover)
        decision = cycle_decide(
            state=state,
            market=market,
            config=autonomy,
            kill_switch=spec.kill_switch,
            regime=regime,
            targets_cache={},
        )
        executed = 0
        ledger.wash_sale_blocks.extend((as_of, s, "wash-sale rule") for s in decision.wash_sale_blocks)
        if decision.action == "rebalance" and autonomy.mode == "autopilot":
            for intent in decision.trades:
                fill = ledger.execute(
                    as_of=as_of,
                    symbol=intent.symbol,
                    side=intent.side,
                    quantity=Decimal(repr(float(intent.quantity))).quantize(Decimal("0.00000001")),
                    price=price_map[intent.symbol],
                    lot_ids=tuple(intent.lot_ids),
                    harvest=bool(intent.harvest),
                    reason=intent.reason,
                )
                notional[k] += float(fill.quantity * fill.price)
                executed += 1
            if executed:
                last_rebalanced = as_of
        if decision.action != "hold" or executed:
            decisions.append(
                DecisionRecord(
                    as_of=as_of,
                    action=decision.action,
                    strategy=decision.strategy,
                    triggers=tuple(tr.kind for tr in decision.triggers),
                    trades=executed,
                    summary=decision.summary,
                    override=decision.override.reason if decision.override else None,
                )
            )
        _record_close(k)

    return ReplayResult(
        dates=index[first:],
        equity=equity,
        cash=cash,
        weights=pd.DataFrame(weights, index=index[first:], columns=list(symbols)),
        fills=list(ledger.fills),
        decisions=decisions,
        final_value=ledger.value(dict(zip(symbols, dec_prices[-1], strict=True)))
        if n_days
        else ledger.cash,
        commission=ledger.commission_total,
        slippage=ledger.slippage_total,
        traded_notional=notional,
        ledger=ledger,
    )


def _screenable(spec: ReplaySpec) -> bool:
    """Whether days can be screened: every trigger but the strategy-dependent drift
    trigger can be evaluated without the strategy, so the drift trigger must be off.

    Drift is the largest |current - target| weight, at most 1, and fires only when it
    is *beyond* the threshold: a threshold of 1 or more switches it off.
    """
    a = spec.autonomy
    return spec.kill_switch == "off" and not a.force and a.rebalance_threshold >= 1.0


def _quiet_day(
    *,
    as_of: date,
    cash: float,
    quantities: Mapping[str, float],
    prices: Mapping[str, float],
    value_history: np.ndarray,
    window: Callable[[], pd.DataFrame],
    window_array: Callable[[], np.ndarray] | None = None,
    columns: Mapping[str, int] | None = None,
    trading_days: tuple[date, ...],
    config: AutonomyConfig,
    regime: RegimeState | None,
) -> bool:
    """True when none of the core's triggers fires today (drift is off, see
    :func:`_screenable`), so :func:`cycle_decide` would return a ``hold`` with no trade.

    Uses the core's own trigger and metric functions on the same inputs.
    """
    if triggers.calendar_trigger(as_of, config.calendar, trading_days):
        return False
    if triggers.regime_trigger(regime) is not None:
        return False
    held = {s: q for s, q in quantities.items() if q > DUST}
    total = cash + sum(q * float(prices[s]) for s, q in held.items())
    if total <= 0:
        return True  # the core skips an empty portfolio
    # Targets keep at least the buffer in cash, so measuring against the buffer alone can
    # only fire more often than the core does: a day screened as quiet is quiet there too.
    if triggers.cash_trigger(cash, total, config.trade.cash_buffer, config.trade.min_trade_value):
        return False
    limits = config.limits
    if limits.max_drawdown is not None and drawdown(value_history) > limits.max_drawdown:
        return False
    if limits.max_var_95 is not None:
        current = {s: q * float(prices[s]) / total for s, q in held.items()}
        symbols = tuple(sorted(set(held) | set(_universe(quantities, config))))
        if window_array is not None and columns is not None and all(s in columns for s in symbols):
            # The panel has no gap, so the core's window (dropna, then the last
            # ``lookback`` rows) is exactly these rows; computed in numpy it can differ
            # from the core's pandas path in the last bits only, so a day within a hair
            # of the limit is left to the core.
            rows = window_array()
            if rows.shape[0] >= 2:
                w = np.array([current.get(s, 0.0) for s in symbols])
                var = historical_var(rows[:, [columns[s] for s in symbols]] @ w)
                if var > limits.max_var_95 * (1.0 - 1e-9):
                    return False
        else:
            stats = window_stats(window(), symbols, config.lookback_days)
            if metrics_of(current, stats).var_95 > limits.max_var_95:
                return False
    return True


def _universe(quantities: Mapping[str, float], config: AutonomyConfig) -> tuple[str, ...]:
    # The core's universe_of reads only the quantities of the state.
    return universe_of(HoldingsState(as_of=date.min, cash=0.0, quantities=quantities), config)


def _cost_model(autonomy: AutonomyConfig) -> CostModel:
    trade = autonomy.trade
    return CostModel(
        commission_rate=Decimal(repr(float(trade.commission_rate))),
        commission_min=Decimal(repr(float(trade.commission_min))),
        slippage_bps=Decimal(repr(float(trade.slippage_bps))),
    )


def _holdings_state(
    ledger: PaperLedger,
    as_of: date,
    equity_so_far: np.ndarray,
    dates_so_far: list[date],
    last_rebalanced: date | None,
) -> HoldingsState:
    recent: list[tuple[str, date]] = []
    loss_sales: list[tuple[str, date]] = []
    harvests: list[tuple[str, date]] = []
    for f in reversed(ledger.fills):  # chronological, so stop at the first old one
        if (as_of - f.as_of).days > WASH_SALE_LOOKBACK_DAYS:
            break
        if f.side == BUY:
            recent.append((f.symbol, f.as_of))
        elif f.realized_gain < 0:
            loss_sales.append((f.symbol, f.as_of))
            if f.harvest:
                harvests.append((f.symbol, f.as_of))
    history = pd.Series(equity_so_far, index=pd.Index(dates_so_far)) if len(dates_so_far) else None
    return HoldingsState(
        as_of=as_of,
        cash=float(ledger.cash),
        quantities={s: float(q) for s, q in ledger.quantities.items()},
        lots=tuple(
            Lot(
                symbol=lot.symbol,
                quantity=float(lot.quantity),
                cost_per_share=float(lot.cost_per_share),
                acquired_on=lot.acquired_on,
                lot_id=lot.lot_id,
            )
            for lot in ledger.lots
        ),
        recent_buys=tuple(reversed(recent)),
        recent_loss_sales=tuple(reversed(loss_sales)),
        recent_harvests=tuple(reversed(harvests)),
        value_history=history,
        last_rebalanced_on=last_rebalanced,
    )
