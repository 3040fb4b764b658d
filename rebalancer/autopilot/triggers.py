"""The cycle's triggers: why a portfolio should trade today (pure functions).

Each function returns a :class:`Trigger` when it fires and ``None`` otherwise:

* :func:`drift_trigger` — the largest absolute deviation of a current weight from its
  target is beyond a threshold (``rebalance/predict``'s summary; the cycle itself uses
  the per-asset no-trade bands of :mod:`rebalancer.autopilot.bands`);
* :func:`calendar_trigger` — ``as_of`` is the first trading day of the month
  (``monthly``) or of a quarter (``quarterly``): the strategy's targets are reviewed;
* :func:`cash_trigger` — cash beyond what the targets keep exceeds the minimum trade value;
* :func:`regime_trigger` — the regime detector reports a change on ``as_of``.

Risk limits are not triggers any more: the risk overlay (:mod:`rebalancer.autopilot.overlay`)
watches the drawdown and the VaR forecast and moves exposure itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from portfolios.strategies import RegimeState
from rebalancer.autopilot.types import Calendar, Trigger

QUARTER_START_MONTHS = (1, 4, 7, 10)


def max_drift(current: Mapping[str, float], target: Mapping[str, float]) -> tuple[float, str | None]:
    """The largest |current - target| weight over both supports, and its symbol."""
    worst, worst_symbol = 0.0, None
    for symbol in set(current) | set(target):
        gap = abs(float(current.get(symbol, 0.0)) - float(target.get(symbol, 0.0)))
        if gap > worst or (gap == worst and worst_symbol is not None and symbol < worst_symbol):
            worst, worst_symbol = gap, symbol
    return worst, worst_symbol


def drift_trigger(
    current: Mapping[str, float], target: Mapping[str, float], threshold: float
) -> Trigger | None:
    drift, symbol = max_drift(current, target)
    if symbol is None or drift <= threshold:
        return None
    return Trigger(
        kind="drift",
        message=(
            f"{symbol} is {current.get(symbol, 0.0):.1%} of the portfolio against a target of "
            f"{target.get(symbol, 0.0):.1%}: a drift of {drift:.1%}, beyond the "
            f"{threshold:.1%} threshold"
        ),
        value=drift,
        threshold=threshold,
    )


def _previous_trading_day(as_of: date, trading_days: Sequence[date]) -> date:
    if trading_days:
        earlier = [d for d in trading_days if d < as_of]
        if earlier:
            return max(earlier)
    day = as_of - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def is_first_trading_day_of_month(as_of: date, trading_days: Sequence[date] = ()) -> bool:
    """True when no trading day of ``as_of``'s month precedes it.

    With ``trading_days`` empty, weekdays stand in for trading days (holidays are then
    missed; the market-data calendar is passed by the services when known).
    """
    if trading_days and as_of not in trading_days:
        return False
    if not trading_days and as_of.weekday() >= 5:
        return False
    previous = _previous_trading_day(as_of, trading_days)
    return (previous.year, previous.month) != (as_of.year, as_of.month)


def calendar_trigger(
    as_of: date, calendar: Calendar, trading_days: Sequence[date] = ()
) -> Trigger | None:
    if calendar == "none" or not is_first_trading_day_of_month(as_of, trading_days):
        return None
    if calendar == "quarterly" and as_of.month not in QUARTER_START_MONTHS:
        return None
    period = "quarter" if calendar == "quarterly" else "month"
    return Trigger(
        kind="calendar",
        message=f"{as_of.isoformat()} is the first trading day of the {period} (scheduled review)",
    )


CASH_TRIGGER_MIN_WEIGHT = 0.01
"""Cash beyond what the targets keep must exceed 1 % of the portfolio to trigger a trade."""


def cash_trigger(
    cash: float, total_value: float, target_cash_weight: float, min_trade_value: float
) -> Trigger | None:
    """Cash to invest: cash beyond the targets' own cash (at least the buffer) by more than
    1 % of the portfolio and more than the minimum trade value.

    Measuring against the targets' cash keeps a strategy that holds cash on purpose (a
    defensive allocation) from triggering every day, and the 1 % floor keeps a falling
    market, which shrinks the buffer's money value, from re-trading the same cash daily.
    """
    investable = cash - target_cash_weight * total_value
    if total_value <= 0 or investable <= max(min_trade_value, CASH_TRIGGER_MIN_WEIGHT * total_value):
        return None
    return Trigger(
        kind="cash",
        message=(
            f"{investable:,.2f} of cash is available to invest beyond the "
            f"{target_cash_weight:.0%} the allocation keeps in cash"
        ),
        value=investable,
        threshold=max(min_trade_value, CASH_TRIGGER_MIN_WEIGHT * total_value),
    )


def regime_trigger(regime: RegimeState | None) -> Trigger | None:
    if regime is None or not regime.changed:
        return None
    return regime_change_trigger(regime)


def regime_change_trigger(regime: RegimeState) -> Trigger:
    """The trigger of a regime change to ``regime`` (whether or not the detector flagged it)."""
    return Trigger(
        kind="regime_change",
        message=(
            f"the market regime changed to {regime.regime} "
            f"(probability {regime.confidence:.0%})"
        ),
        value=regime.confidence,
    )
