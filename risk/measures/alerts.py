"""The alert rules of brief 001, as a pure function of a portfolio's risk numbers.

| rule | fires when (strictly greater) | severity | action |
| --- | --- | --- | --- |
| ``var_breach`` | 1-day VaR forecast > the VaR limit | critical | reduce_risk |
| ``drawdown`` | current drawdown > the drawdown limit | critical | risk_override |
| ``concentration`` | a single position's weight > the position limit | warning | rebalance |
| ``correlation_spike`` | average pairwise correlation of holdings > its limit (0.8) | warning | diversify |

One ``concentration`` signal per offending symbol. A limit of None disables its rule.
The limits are the portfolio's own (its risk tier and overrides, ``portfolios.policy``),
the same the autopilot trades to; the risk overlay acts on the drawdown and VaR ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

RULES = ("var_breach", "drawdown", "concentration", "correlation_spike")


@dataclass(frozen=True)
class AlertSignal:
    rule: str
    severity: str  # critical | warning
    action: str  # reduce_risk | risk_override | rebalance | diversify
    value: float
    limit: float
    message: str
    symbol: str = ""


def evaluate_alert_rules(
    *,
    var_1d: float | None,
    var_limit: float | None,
    current_drawdown: float | None,
    drawdown_limit: float | None,
    weights: Mapping[str, float],
    position_limit: float | None = 0.10,
    average_correlation: float | None = None,
    correlation_limit: float | None = 0.8,
) -> list[AlertSignal]:
    signals: list[AlertSignal] = []
    if var_1d is not None and var_limit is not None and var_1d > var_limit:
        signals.append(AlertSignal(
            "var_breach", "critical", "reduce_risk", var_1d, var_limit,
            f"1-day VaR forecast {var_1d:.2%} exceeds the limit {var_limit:.2%}: the risk overlay reduces exposure",
        ))
    if current_drawdown is not None and drawdown_limit is not None and current_drawdown > drawdown_limit:
        signals.append(AlertSignal(
            "drawdown", "critical", "risk_override", current_drawdown, drawdown_limit,
            f"drawdown {current_drawdown:.2%} is beyond the limit {drawdown_limit:.2%}: the risk overlay de-risks once",
        ))
    if position_limit is not None:
        for symbol, w in sorted(weights.items()):
            if abs(w) > position_limit:
                signals.append(AlertSignal(
                    "concentration", "warning", "rebalance", abs(w), position_limit,
                    f"{symbol} is {abs(w):.2%} of the portfolio, above {position_limit:.0%}: rebalance",
                    symbol,
                ))
    if (average_correlation is not None and correlation_limit is not None
            and average_correlation > correlation_limit):
        signals.append(AlertSignal(
            "correlation_spike", "warning", "diversify", average_correlation, correlation_limit,
            f"average correlation {average_correlation:.2f} is above {correlation_limit:.2f}: diversify",
        ))
    return signals
