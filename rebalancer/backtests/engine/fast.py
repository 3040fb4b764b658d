"""The vectorized fast path: fixed-weight strategies on a complete price panel.

Between rebalance days nothing trades, so holdings are constant and the equity of a
whole segment is one matrix-vector product; only the rebalance days are visited in
Python. The arithmetic is the paper broker's: on a rebalance day the target quantity
of each asset is ``w_i * V / p_i`` where ``V`` is the portfolio's value at that day's
close, buys fill at ``p * (1 + slippage)``, sells at ``p * (1 - slippage)``, and a
commission of ``commission_rate`` times the filled notional comes out of cash.
Quantities are fractional. The replay engine (``replay.py``) produces the same numbers
for a fixed-weight strategy on calendar triggers; a test pins the two together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FastResult:
    """Daily series of a fixed-weight backtest (T days, N assets)."""

    equity: np.ndarray  # (T,) portfolio value at each close, after that day's trades
    cash: np.ndarray  # (T,) cash after that day's trades
    quantities: np.ndarray  # (T, N) holdings after that day's trades
    commission: np.ndarray  # (T,) commission charged that day
    slippage: np.ndarray  # (T,) slippage charged that day (|q| * p * s)
    traded_notional: np.ndarray  # (T,) sum of |quantity| * close price traded that day
    trade_count: np.ndarray  # (T,) number of assets traded that day


def _weights_per_rebalance(weights: np.ndarray, days: np.ndarray, n_assets: int) -> np.ndarray:
    """(K, N) target weights, one row per rebalance day."""
    w = np.asarray(weights, dtype=float)
    if w.ndim == 1:
        w = np.broadcast_to(w, (len(days), n_assets))
    if w.shape != (len(days), n_assets):
        raise ValueError(f"weights must be (N,) or (K, N) = ({len(days)}, {n_assets})")
    return w


@dataclass(frozen=True)
class _Segments:
    """Holdings and cash after each rebalance day (K rows), and the daily costs (T)."""

    quantities: np.ndarray  # (K, N)
    cash: np.ndarray  # (K,)
    commission: np.ndarray  # (T,)
    slippage: np.ndarray  # (T,)
    traded_notional: np.ndarray  # (T,)
    trade_count: np.ndarray  # (T,)


def _rebalance(
    prices: np.ndarray, w: np.ndarray, days: np.ndarray, initial_cash: float,
    commission_rate: float, slippage_rate: float, min_trade_value: float,
) -> _Segments:
    """Visit the rebalance days only: trade to target at the close, pay slippage and commission."""
    t_days, n_assets = prices.shape
    seg_q = np.zeros((len(days), n_assets))
    seg_cash = np.zeros(len(days))
    commission = np.zeros(t_days)
    slippage = np.zeros(t_days)
    notional = np.zeros(t_days)
    count = np.zeros(t_days, dtype=np.int64)
    q = np.zeros(n_assets)
    cash = float(initial_cash)
    for k, t in enumerate(days):
        p = prices[t]
        value = cash + q @ p
        dq = w[k] * value / p - q
        traded = np.abs(dq) * p
        if min_trade_value > 0.0:
            dq = np.where(traded < min_trade_value, 0.0, dq)
            traded = np.abs(dq) * p
        slip = traded * slippage_rate
        fill_notional = dq * p + slip  # buys pay p(1+s), sells receive p(1-s)
        fee = (traded + np.sign(dq) * slip) * commission_rate  # on the filled notional
        cash = cash - fill_notional.sum() - fee.sum()
        q = q + dq
        seg_q[k] = q
        seg_cash[k] = cash
        commission[t] = fee.sum()
        slippage[t] = slip.sum()
        notional[t] = traded.sum()
        count[t] = int(np.count_nonzero(dq))
    return _Segments(seg_q, seg_cash, commission, slippage, notional, count)


def fixed_weight_backtest(
    prices: np.ndarray,
    weights: np.ndarray,
    rebalance: np.ndarray,
    *,
    initial_cash: float,
    commission_rate: float = 0.0,
    slippage_rate: float = 0.0,
    min_trade_value: float = 0.0,
) -> FastResult:
    """Replay a fixed-weight strategy over ``prices`` (T x N, no NaN, all > 0).

    ``weights`` is (N,) for the same targets on every rebalance day or (K, N) with one
    row per rebalance day (K = ``rebalance.sum()``); whatever a row leaves of 1.0 stays
    in cash. ``rebalance`` is a (T,) boolean mask; its first element must be True (the
    day the initial cash is invested). Trades whose value at the close is below
    ``min_trade_value`` are skipped (on the initial day too).
    """
    prices = np.asarray(prices, dtype=float)
    t_days, n_assets = prices.shape
    rebalance = np.asarray(rebalance, dtype=bool)
    if rebalance.shape != (t_days,) or (t_days and not rebalance[0]):
        raise ValueError("rebalance must be a (T,) mask whose first day is True")
    days = np.flatnonzero(rebalance)
    w = _weights_per_rebalance(weights, days, n_assets)
    seg = _rebalance(prices, w, days, initial_cash, commission_rate, slippage_rate, min_trade_value)
    # Between rebalance days the holdings of the last one stand: one gather per series.
    segment = np.cumsum(rebalance) - 1
    quantities = seg.quantities[segment]
    cash_t = seg.cash[segment]
    equity = cash_t + np.einsum("tn,tn->t", quantities, prices)
    return FastResult(
        equity=equity,
        cash=cash_t,
        quantities=quantities,
        commission=seg.commission,
        slippage=seg.slippage,
        traded_notional=seg.traded_notional,
        trade_count=seg.trade_count,
    )
