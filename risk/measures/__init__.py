"""The risk engine: pure numpy/scipy/torch, no Django.

Modules: :mod:`var` (VaR/ES four ways), :mod:`performance` (return-series metrics),
:mod:`pretrade` (pre-trade limit checks), :mod:`correlation` (correlation monitoring),
:mod:`attribution` (Euler component VaR/ES, asset-class and factor views),
:mod:`stress` (named and custom stress scenarios), :mod:`backtest` (Kupiec,
Christoffersen, Basel traffic light), :mod:`sizing` (Kelly, volatility target, ATR,
hedge ratio), :mod:`alerts` (the alert rules).
"""

from risk.measures.errors import RiskInputError
from risk.measures.performance import PerformanceMetrics, performance_metrics
from risk.measures.pretrade import CheckResult, PreTradeReport, RiskLimits, pre_trade_check
from risk.measures.var import (
    VAR_METHODS,
    VaRResult,
    value_at_risk,
    var_cornish_fisher,
    var_historical,
    var_monte_carlo,
    var_parametric,
)

__all__ = [
    "VAR_METHODS",
    "CheckResult",
    "PerformanceMetrics",
    "PreTradeReport",
    "RiskInputError",
    "RiskLimits",
    "VaRResult",
    "performance_metrics",
    "pre_trade_check",
    "value_at_risk",
    "var_cornish_fisher",
    "var_historical",
    "var_monte_carlo",
    "var_parametric",
]
