"""The day-by-day replay of the autopilot's pure decision core over stored prices.

For every trading day of the window the replay builds the same inputs the live DB
shell builds from the database — a :class:`HoldingsState` from the (in-memory) ledger
and a :class:`MarketView` of the prices and returns known at that close — calls
:func:`rebalancer.autopilot.engine.cycle_decide`, and books the decided trades in a
:class:`~rebalancer.backtests.engine.ledger.PaperLedger` through the same cost model
the paper broker uses. Nothing is written to the database per day; the same day and
inputs give the live pipeline's decision (a test checks it). The decision's
:class:`~rebalancer.autopilot.types.PolicyState` (reviewed targets, the risk overlay's
memory) is carried to the next day, as the live shell stores it on the cycle run.

Speed: the engine gets the return window as a numpy array when the panel has no gap
(``MarketView.returns_array``), strategy targets are shared across days, tiers and
replays through ``strategy_cache`` (the evaluation replays the same dates many times),
and quiet days cost a few hundred microseconds.

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
from rebalancer.autopilot.engine import cycle_decide
from rebalancer.autopilot.types import (
    AutonomyConfig,
    HoldingsState,
    KillSwitchMode,
    Lot,
    MarketView,
)
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
    kill_switch: KillSwitchMode = "off"
    regimes: Mapping[date, RegimeState] | None = None
    """Causal regime per day (from the regime detector), or ``None``."""
    retrain: RetrainFn | None = None
    retrain_every: str = "never"
    """``monthly``, ``quarterly``, ``annually`` or ``never``: walk-forward cadence."""
    check_invariants: bool = False
    """Run the ledger invariants and cost accounting after every day (the harness)."""


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
    overlay_events: tuple[str, ...] = ()


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
    exposure: np.ndarray | None = None  # (T,) the risk overlay's multiplier on the risky sleeve

    @property
    def rebalances(self) -> int:
        return sum(1 for d in self.decisions if d.action == "rebalance" and d.trades)


def _decimal_price(value: float) -> Decimal:
    # Prices are stored with 6 decimal places (marketdata's DecimalField); the live
    # shell reads them from there, so the replay rounds the same way.
    return Decimal(repr(float(value))).quantize(Decimal("0.000001"))


class _DayCache:
    """The engine's cache for one replayed day: window statistics and checks live for the
    day; strategy targets go to the shared ``strategy_cache`` (their keys carry the date)."""

    def __init__(self, shared: dict) -> None:
        self.daily: dict = {}
        self.shared = shared

    def _store(self, key) -> dict:
        daily = isinstance(key, tuple) and bool(key) and key[0] in ("__window__", "__checks__")
        return self.daily if daily else self.shared

    def __contains__(self, key) -> bool:
        return key in self._store(key)

    def __getitem__(self, key):
        return self._store(key)[key]

    def __setitem__(self, key, value) -> None:
        self._store(key)[key] = value

    def get(self, key, default=None):
        return self._store(key).get(key, default)


def replay(  # noqa: C901 - issue 22 splits it (tests/test_code_health.py)
    prices: pd.DataFrame,
    spec: ReplaySpec,
    *,
    start: date | None = None,
    progress: ProgressFn | None = None,
    strategy_cache: dict | None = None,
) -> ReplayResult:
    """Replay ``spec`` over ``prices`` (dates x symbols, adjusted close, no NaN from ``start``).

    Rows before ``start`` are history only (the strategy's look-back window); trading
    starts at the first row on or after ``start`` (the first row when ``None``).
    ``strategy_cache``: a dict shared by replays of the same prices (strategy targets).
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
    return_dates = returns_all.index.to_numpy()
    gaps = np.concatenate(([0], np.cumsum(np.isnan(returns_np).any(axis=1)))) if len(returns_np) else np.zeros(1)
    dec_prices = [[_decimal_price(v) for v in row] for row in values[first:]]

    ledger = PaperLedger(initial_cash=Decimal(spec.initial_cash), costs=_cost_model(spec.autonomy))
    autonomy = spec.autonomy
    n_days = len(index) - first
    equity = np.zeros(n_days)
    cash = np.zeros(n_days)
    weights = np.zeros((n_days, len(symbols)))
    notional = np.zeros(n_days)
    exposure = np.ones(n_days)
    decisions: list[DecisionRecord] = []
    retrain_days = period_starts(index[first:], spec.retrain_every) if spec.retrain else None
    last_rebalanced: date | None = None
    col = {s: i for i, s in enumerate(symbols)}
    lookback = autonomy.lookback_days
    report_every = max(1, n_days // 100)
    shared = strategy_cache if strategy_cache is not None else {}
    policy = None
    lots_cache: list = [-1, ()]  # (number of fills when built, lots): rebuilt only after a trade

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
        price_map = dict(zip(symbols, dec_prices[k], strict=True))
        # Returns known at this close: rows up to and including as_of (returns_all is
        # shifted by one row against prices).
        lo = max(0, t - lookback - 5)
        if spec.retrain is not None and retrain_days is not None and retrain_days[k]:
            name = spec.retrain(as_of, returns_all.iloc[:t])
            if name:
                autonomy = replace(autonomy, strategy=name)
        complete = t > lo and gaps[t] == gaps[lo]
        market = MarketView(
            as_of=as_of,
            returns=returns_all.iloc[lo:t],
            prices={s: float(p) for s, p in price_map.items()},
            asset_classes=spec.asset_classes,
            trading_days=tuple(days[max(0, t - TRADING_DAYS_WINDOW) : t + 1]),
            returns_array=returns_np[lo:t] if complete else None,
            returns_dates=return_dates[lo:t] if complete else None,
            returns_columns=col if complete else None,
        )
        if lots_cache[0] != len(ledger.fills):
            lots_cache[:] = [len(ledger.fills), _lots_of(ledger)]
        state = _holdings_state(ledger, as_of, last_rebalanced, policy, lots_cache[1])
        if autonomy.tax.enabled:  # what a harvested loss can offset this year (rebalancer.autopilot.harvest)
            realized, carryover = ledger.tax_position(as_of, loss_deduction_limit=autonomy.tax.loss_deduction_limit)
            state = replace(state, realized_this_year=realized, loss_carryover=carryover)
        decision = cycle_decide(
            state=state,
            market=market,
            config=autonomy,
            kill_switch=spec.kill_switch,
            regime=spec.regimes.get(as_of) if spec.regimes else None,
            targets_cache=_DayCache(shared),
        )
        policy = decision.policy_state or policy
        if decision.overlay is not None:
            exposure[k] = decision.overlay.multiplier
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
        if decision.action != "hold" or executed or decision.triggers:
            decisions.append(
                DecisionRecord(
                    as_of=as_of,
                    action=decision.action,
                    strategy=decision.strategy,
                    triggers=tuple(tr.kind for tr in decision.triggers),
                    trades=executed,
                    summary=decision.summary,
                    override=decision.override.reason if decision.override else None,
                    overlay_events=decision.overlay.events if decision.overlay else (),
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
        exposure=exposure,
    )


def _cost_model(autonomy: AutonomyConfig) -> CostModel:
    trade = autonomy.trade
    return CostModel(
        commission_rate=Decimal(repr(float(trade.commission_rate))),
        commission_min=Decimal(repr(float(trade.commission_min))),
        slippage_bps=Decimal(repr(float(trade.slippage_bps))),
    )


def _lots_of(ledger: PaperLedger) -> tuple[Lot, ...]:
    return tuple(
        Lot(
            symbol=lot.symbol,
            quantity=float(lot.quantity),
            cost_per_share=float(lot.cost_per_share),
            acquired_on=lot.acquired_on,
            lot_id=lot.lot_id,
        )
        for lot in ledger.lots
    )


def _holdings_state(
    ledger: PaperLedger,
    as_of: date,
    last_rebalanced: date | None,
    policy=None,
    lots: tuple[Lot, ...] | None = None,
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
    return HoldingsState(
        as_of=as_of,
        cash=float(ledger.cash),
        quantities={s: float(q) for s, q in ledger.quantities.items()},
        lots=lots if lots is not None else _lots_of(ledger),
        recent_buys=tuple(reversed(recent)),
        recent_loss_sales=tuple(reversed(loss_sales)),
        recent_harvests=tuple(reversed(harvests)),
        last_rebalanced_on=last_rebalanced,
        policy=policy,
    )
