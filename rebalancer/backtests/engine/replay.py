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
    PolicyState,
)
from rebalancer.backtests.engine.ledger import Fill, PaperLedger
from rebalancer.backtests.engine.quiet import QuietScreen
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


class _Panel:
    """The price panel prepared once per replay: returns, gaps, the stored closes."""

    def __init__(self, prices: pd.DataFrame, start: date | None) -> None:
        self.symbols = tuple(str(s) for s in prices.columns)
        self.col = {s: i for i, s in enumerate(self.symbols)}
        self.index = pd.DatetimeIndex(prices.index)
        self.first = 0 if start is None else int(self.index.searchsorted(pd.Timestamp(start)))
        self.n_days = len(self.index) - self.first
        self.days = [ts.date() for ts in self.index]
        self.returns = prices.pct_change(fill_method=None).iloc[1:] if len(prices) > 1 else prices.iloc[:0]
        self.returns_np = self.returns.to_numpy(dtype=float)
        self.return_dates = self.returns.index.to_numpy()
        nan_rows = np.isnan(self.returns_np).any(axis=1)
        self.gaps = np.concatenate(([0], np.cumsum(nan_rows))) if len(self.returns_np) else np.zeros(1)
        self.marks = _stored_closes(prices.to_numpy(dtype=float))
        self._decimal_rows: dict[int, dict[str, Decimal]] = {}

    def decimal_prices(self, t: int) -> dict[str, Decimal]:
        """Row ``t``'s closes as the database stores them (6 places), by symbol."""
        row = self._decimal_rows.get(t)
        if row is None:
            row = dict(zip(self.symbols, (_decimal_price(v) for v in self.marks[t]), strict=True))
            self._decimal_rows = {t: row}  # the replay asks for each row once or twice in a row
        return row

    def window(self, t: int, lookback: int) -> tuple[int, bool]:
        """First row of the returns window known at row ``t``'s close, and whether it has no gap."""
        lo = max(0, t - lookback - 5)
        return lo, bool(t > lo and self.gaps[t] == self.gaps[lo])

    def market(self, t: int, lookback: int, asset_classes: Mapping[str, str]) -> MarketView:
        """What the core sees at row ``t``'s close: returns up to and including it (returns
        are shifted by one row against prices), the closes, the trading days around it."""
        lo, complete = self.window(t, lookback)
        return MarketView(
            as_of=self.days[t],
            returns=self.returns.iloc[lo:t],
            prices={s: float(p) for s, p in self.decimal_prices(t).items()},
            asset_classes=asset_classes,
            trading_days=self.trading_days(t),
            returns_array=self.returns_np[lo:t] if complete else None,
            returns_dates=self.return_dates[lo:t] if complete else None,
            returns_columns=self.col if complete else None,
        )

    def trading_days(self, t: int) -> tuple[date, ...]:
        return tuple(self.days[max(0, t - TRADING_DAYS_WINDOW) : t + 1])


def _stored_closes(values: np.ndarray) -> np.ndarray:
    """The closes as floats of their 6-place ``Decimal`` (what :func:`_decimal_price` gives).

    Stored prices already have 6 places, and then they are their own floats; otherwise each
    one goes through ``Decimal`` (exact, slower)."""
    with np.errstate(invalid="ignore"):
        if np.array_equal(np.round(values, 6), values, equal_nan=True):
            return values.copy()
    out = np.array([[float(_decimal_price(v)) if np.isfinite(v) else v for v in row] for row in values])
    return out.reshape(values.shape)


class _Replay:
    """One replay's running state: the ledger, the carried policy, the daily series."""

    def __init__(self, panel: _Panel, spec: ReplaySpec, shared: dict, progress: ProgressFn | None) -> None:
        self.panel, self.spec, self.shared, self.progress = panel, spec, shared, progress
        self.autonomy = spec.autonomy
        self.ledger = PaperLedger(initial_cash=Decimal(spec.initial_cash), costs=_cost_model(spec.autonomy))
        n, m = panel.n_days, len(panel.symbols)
        self.held = np.zeros((n, m))  # float shares after each day's trades
        self.cash = np.zeros(n)
        self.notional = np.zeros(n)
        self.exposure = np.ones(n)
        self.quantities = np.zeros(m)
        self.decisions: list[DecisionRecord] = []
        self.policy: PolicyState | None = None
        self.last_rebalanced: date | None = None
        self.lots = _LotCache()
        self.retrain_days = period_starts(panel.index[panel.first:], spec.retrain_every) if spec.retrain else None
        self.report_every = max(1, n // 100)
        self.screen = QuietScreen.of(
            config=spec.autonomy, symbols=panel.symbols, marks=panel.marks, returns=panel.returns_np,
            asset_classes=spec.asset_classes, kill_switch=spec.kill_switch, regimes=spec.regimes,
            retrain=spec.retrain,
        )

    def day(self, k: int, *, screen: bool) -> None:
        """Row ``first + k``: retrain if due, then hold (a quiet day) or decide and trade."""
        t = self.panel.first + k
        as_of = self.panel.days[t]
        self._retrain(k, t, as_of)
        if not (screen and self._quiet(t, as_of)):
            self._decide_and_trade(k, t, as_of)
        self._close(k, as_of)

    def _retrain(self, k: int, t: int, as_of: date) -> None:
        if self.spec.retrain is not None and self.retrain_days is not None and self.retrain_days[k]:
            name = self.spec.retrain(as_of, self.panel.returns.iloc[:t])
            if name:
                self.autonomy = replace(self.autonomy, strategy=name)

    def _quiet(self, t: int, as_of: date) -> bool:
        if self.screen is None:
            return False
        lo, complete = self.panel.window(t, self.autonomy.lookback_days)
        return self.screen.quiet(
            t=t, lo=lo, as_of=as_of, trading_days=self.panel.trading_days(t), policy=self.policy,
            quantities=self.quantities, cash=float(self.ledger.cash), complete=complete,
        )

    def _decide_and_trade(self, k: int, t: int, as_of: date) -> None:
        spec, autonomy = self.spec, self.autonomy
        state = _holdings_state(self.ledger, as_of, self.last_rebalanced, self.policy, self.lots.of(self.ledger))
        if autonomy.tax.enabled:  # what a harvested loss can offset this year (rebalancer.autopilot.harvest)
            realized, carryover = self.ledger.tax_position(
                as_of, loss_deduction_limit=autonomy.tax.loss_deduction_limit)
            state = replace(state, realized_this_year=realized, loss_carryover=carryover)
        decision = cycle_decide(
            state=state,
            market=self.panel.market(t, autonomy.lookback_days, spec.asset_classes),
            config=autonomy,
            kill_switch=spec.kill_switch,
            regime=spec.regimes.get(as_of) if spec.regimes else None,
            targets_cache=_DayCache(self.shared),
        )
        self.policy = decision.policy_state or self.policy
        if decision.overlay is not None:
            self.exposure[k] = decision.overlay.multiplier
        self.ledger.wash_sale_blocks.extend((as_of, s, "wash-sale rule") for s in decision.wash_sale_blocks)
        executed = self._book(k, t, as_of, decision)
        if decision.action != "hold" or executed or decision.triggers:
            self.decisions.append(_record_of(decision, as_of, executed))

    def _book(self, k: int, t: int, as_of: date, decision) -> int:
        """Fill the decided trades at row ``t``'s closes; the number filled."""
        if decision.action != "rebalance" or self.autonomy.mode != "autopilot" or not decision.trades:
            return 0
        price_map = self.panel.decimal_prices(t)
        for intent in decision.trades:
            fill = self.ledger.execute(
                as_of=as_of,
                symbol=intent.symbol,
                side=intent.side,
                quantity=Decimal(repr(float(intent.quantity))).quantize(Decimal("0.00000001")),
                price=price_map[intent.symbol],
                lot_ids=tuple(intent.lot_ids),
                harvest=bool(intent.harvest),
                reason=intent.reason,
            )
            self.notional[k] += float(fill.quantity * fill.price)
        self.last_rebalanced = as_of
        self.quantities = np.zeros(len(self.panel.symbols))
        for s, q in self.ledger.quantities.items():
            self.quantities[self.panel.col[s]] = float(q)
        return len(decision.trades)

    def _close(self, k: int, as_of: date) -> None:
        if self.spec.check_invariants:
            self.ledger.check_invariants(as_of)
        self.held[k] = self.quantities
        self.cash[k] = float(self.ledger.cash)
        if self.progress is not None and (k % self.report_every == 0 or k == self.panel.n_days - 1):
            self.progress((k + 1) / self.panel.n_days)

    def result(self) -> ReplayResult:
        panel, ledger = self.panel, self.ledger
        dates = panel.index[panel.first:]
        marks = np.where(self.held != 0.0, panel.marks[panel.first:], 0.0)
        value = self.held * marks
        equity = self.cash + value.sum(axis=1)
        weights = np.divide(value, equity[:, None], out=np.zeros_like(value), where=equity[:, None] > 0)
        last = panel.decimal_prices(len(panel.index) - 1) if panel.n_days else None
        return ReplayResult(
            dates=dates, equity=equity, cash=self.cash,
            weights=pd.DataFrame(weights, index=dates, columns=list(panel.symbols)),
            fills=list(ledger.fills), decisions=self.decisions,
            final_value=ledger.value(last) if last is not None else ledger.cash,
            commission=ledger.commission_total, slippage=ledger.slippage_total,
            traded_notional=self.notional, ledger=ledger, exposure=self.exposure,
        )


def replay(
    prices: pd.DataFrame,
    spec: ReplaySpec,
    *,
    start: date | None = None,
    progress: ProgressFn | None = None,
    strategy_cache: dict | None = None,
    screen_quiet_days: bool = True,
) -> ReplayResult:
    """Replay ``spec`` over ``prices`` (dates x symbols, adjusted close, no NaN from ``start``).

    Rows before ``start`` are history only (the strategy's look-back window); trading
    starts at the first row on or after ``start`` (the first row when ``None``).
    ``strategy_cache``: a dict shared by replays of the same prices (strategy targets).
    ``screen_quiet_days``: skip the core on days :class:`QuietScreen` proves quiet (the
    outputs are the same; ``False`` runs the core every day, for the equivalence test).
    """
    panel = _Panel(prices, start)
    run = _Replay(panel, spec, strategy_cache if strategy_cache is not None else {}, progress)
    for k in range(panel.n_days):
        run.day(k, screen=screen_quiet_days)
    return run.result()


def _record_of(decision, as_of: date, executed: int) -> DecisionRecord:
    return DecisionRecord(
        as_of=as_of,
        action=decision.action,
        strategy=decision.strategy,
        triggers=tuple(tr.kind for tr in decision.triggers),
        trades=executed,
        summary=decision.summary,
        override=decision.override.reason if decision.override else None,
        overlay_events=decision.overlay.events if decision.overlay else (),
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


class _LotCache:
    """The ledger's open lots as engine :class:`Lot` values, rebuilt only after a trade; an
    unchanged lot (same id, quantity and basis) keeps its ``Lot`` (most lots of a long
    replay never change, and converting each one's ``Decimal`` fields is what cost)."""

    def __init__(self) -> None:
        self._fills = -1
        self._lots: tuple[Lot, ...] = ()
        self._by_key: dict = {}

    def of(self, ledger: PaperLedger) -> tuple[Lot, ...]:
        if self._fills != len(ledger.fills):
            by_key = {}
            for lot in ledger.lots:
                key = (lot.lot_id, lot.symbol, lot.quantity, lot.basis, lot.acquired_on)
                by_key[key] = self._by_key.get(key) or Lot(
                    symbol=lot.symbol, quantity=float(lot.quantity), cost_per_share=float(lot.cost_per_share),
                    acquired_on=lot.acquired_on, lot_id=lot.lot_id,
                )
            self._fills, self._by_key, self._lots = len(ledger.fills), by_key, tuple(by_key.values())
        return self._lots


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
