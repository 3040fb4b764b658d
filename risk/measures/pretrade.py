"""Pre-trade risk checks: may the portfolio move from its current to the proposed weights?

:func:`pre_trade_check` evaluates every limit set in :class:`RiskLimits` against the
**proposed** weights (using the current weights where a check is about the move itself,
e.g. turnover and liquidity) and returns a :class:`PreTradeReport` with one
:class:`CheckResult` per applied check — pass/fail with the number and the limit, so
that a decision record can explain itself. A limit set to ``None`` is not checked.

Checks (names are stable, the autopilot and the UI key on them):

- ``position``: the largest single weight <= ``max_position``;
- ``asset_class:<class>``: the summed weight per asset class <= its limit;
- ``excluded``: no weight in an excluded symbol (ESG or operator exclusions);
- ``gross_exposure``: sum of |weights| <= ``max_gross_exposure`` (no leverage), and no
  negative weight unless ``allow_short``;
- ``var``: 1-day VaR of the proposed portfolio at ``var_confidence`` with ``var_method``
  <= ``max_var`` (positive loss fraction);
- ``expected_shortfall``: the matching ES <= ``max_expected_shortfall``;
- ``max_drawdown``: the drawdown the proposed weights would have suffered replayed
  over the return window <= ``max_drawdown``;
- ``correlation``: average pairwise correlation of the proposed holdings
  <= ``max_avg_correlation``;
- ``turnover``: one-way turnover ``sum |w_new - w_old| / 2`` <= ``max_turnover``;
- ``liquidity``: each traded symbol's average daily traded value >= ``min_liquidity``
  and the trade <= ``max_adv_fraction`` of it (needs ``liquidity`` and ``portfolio_value``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from risk.measures.correlation import average_pairwise_correlation
from risk.measures.errors import RiskInputError
from risk.measures.performance import max_drawdown as series_max_drawdown
from risk.measures.var import VaRResult, value_at_risk

_TOLERANCE = 1e-9


@dataclass(frozen=True)
class RiskLimits:
    """Limits of one portfolio; every fraction is of portfolio value. None = not checked."""

    max_var: float | None = 0.05
    """Largest allowed 1-day VaR at ``var_confidence`` (positive loss fraction)."""
    var_confidence: float = 0.95
    """Confidence level of the VaR and ES limits."""
    var_method: str = "historical"
    """VaR method for the check: historical, parametric, cornish_fisher or monte_carlo."""
    max_expected_shortfall: float | None = None
    """Largest allowed 1-day ES at ``var_confidence`` (positive loss fraction)."""
    max_drawdown: float | None = None
    """Largest drawdown the proposed weights may show replayed over the return window."""
    max_position: float | None = 0.10
    """Largest weight of a single symbol."""
    max_asset_class: Mapping[str, float] = field(default_factory=dict)
    """Largest summed weight per asset class, e.g. ``{"crypto": 0.05}``."""
    max_avg_correlation: float | None = None
    """Largest average pairwise correlation of the proposed holdings."""
    max_turnover: float | None = None
    """Largest one-way turnover ``sum |dw| / 2`` of the move."""
    max_gross_exposure: float | None = 1.0
    """Largest sum of |weights| (1.0 = fully invested, no leverage)."""
    allow_short: bool = False
    """Whether negative weights are acceptable."""
    min_liquidity: float | None = None
    """Smallest average daily traded value (money) of a symbol that is traded."""
    max_adv_fraction: float | None = None
    """Largest trade as a fraction of the symbol's average daily traded value."""
    excluded_symbols: frozenset[str] = frozenset()
    """Symbols that must not be held (ESG screens, operator exclusions)."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    value: float | None
    limit: float | None
    message: str


@dataclass(frozen=True)
class PreTradeReport:
    passed: bool
    checks: list[CheckResult]
    current_var: VaRResult | None = None
    """VaR of the current weights (same method and level as the check), for the record."""
    proposed_var: VaRResult | None = None

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]


def _check(name: str, value: float | None, limit: float, what: str, unit: str = "%") -> CheckResult:
    if value is None:
        return CheckResult(name, True, None, limit, f"{what}: not applicable")
    passed = value <= limit + _TOLERANCE
    if unit == "%":
        shown = f"{value:.2%} vs limit {limit:.2%}"
    else:
        shown = f"{value:.3f} vs limit {limit:.3f}"
    verdict = "within limit" if passed else "exceeds limit"
    return CheckResult(name, passed, float(value), float(limit), f"{what} {shown}: {verdict}")


def _finite_weights(weights: Mapping[str, float], field_name: str) -> dict[str, float]:
    out = {str(s): float(w) for s, w in weights.items()}
    if not all(math.isfinite(w) for w in out.values()):
        raise RiskInputError("weights must be finite numbers", field=field_name)
    return out


def pre_trade_check(
    *,
    current_weights: Mapping[str, float],
    proposed_weights: Mapping[str, float],
    returns: pd.DataFrame,
    limits: RiskLimits,
    asset_classes: Mapping[str, str] | None = None,
    liquidity: Mapping[str, float] | None = None,
    portfolio_value: float | None = None,
) -> PreTradeReport:
    """Evaluate every set limit on the move ``current_weights -> proposed_weights``.

    ``returns`` (dates x symbols, simple daily returns without gaps) must cover every
    symbol with a non-zero proposed weight when a VaR, ES, drawdown or correlation limit
    is set. ``asset_classes`` maps symbol -> class (symbols without a class count as
    ``"unknown"``). ``liquidity`` maps symbol -> average daily traded value in money.
    Raises :class:`RiskInputError` for unusable inputs (non-finite weights, missing history).
    """
    current = _finite_weights(current_weights, "current_weights")
    proposed = _finite_weights(proposed_weights, "proposed_weights")
    held = {s: w for s, w in proposed.items() if abs(w) > _TOLERANCE}
    checks = [
        *_position_check(held, limits),
        *_asset_class_checks(held, limits, asset_classes or {}),
        *_excluded_check(held, limits),
        *_gross_exposure_check(held, limits),
    ]
    current_var = proposed_var = None
    if limits.max_var is not None or limits.max_expected_shortfall is not None:
        proposed_var = _var_of(proposed, returns, limits)
        current_var = _var_if_known(current, returns, limits)
        checks += _var_checks(proposed_var, limits)
    checks += _history_checks(held, returns, limits)
    trades = {s: proposed.get(s, 0.0) - current.get(s, 0.0) for s in set(proposed) | set(current)}
    if limits.max_turnover is not None:
        turnover = sum(abs(d) for d in trades.values()) / 2.0
        checks.append(_check("turnover", turnover, limits.max_turnover, "one-way turnover"))
    if limits.min_liquidity is not None or limits.max_adv_fraction is not None:
        checks.append(_liquidity_check(trades, limits, liquidity, portfolio_value))
    return PreTradeReport(all(c.passed for c in checks), checks, current_var, proposed_var)


def _position_check(held: Mapping[str, float], limits: RiskLimits) -> list[CheckResult]:
    if limits.max_position is None:
        return []
    top = max(held, key=lambda s: abs(held[s]), default=None)
    value = abs(held[top]) if top else 0.0
    return [_check("position", value, limits.max_position, f"largest position {top or '-'}")]


def _asset_class_checks(
    held: Mapping[str, float], limits: RiskLimits, classes: Mapping[str, str]
) -> list[CheckResult]:
    """One check per limited class, in name order (a class without holdings weighs 0)."""
    totals: dict[str, float] = {}
    for symbol, w in held.items():
        cls = classes.get(symbol, "unknown")
        totals[cls] = totals.get(cls, 0.0) + w
    return [
        _check(f"asset_class:{cls}", totals.get(cls, 0.0), limit, f"{cls} weight")
        for cls, limit in sorted(limits.max_asset_class.items())
    ]


def _excluded_check(held: Mapping[str, float], limits: RiskLimits) -> list[CheckResult]:
    if not limits.excluded_symbols:
        return []
    bad = sorted(s for s in held if s in limits.excluded_symbols)
    excluded_weight = sum(abs(held[s]) for s in bad)
    message = f"excluded symbols held: {', '.join(bad)}" if bad else "no excluded symbol held"
    return [CheckResult("excluded", not bad, excluded_weight, 0.0, message)]


def _gross_exposure_check(held: Mapping[str, float], limits: RiskLimits) -> list[CheckResult]:
    """Sum of |weights| within the limit, and no short position unless allowed."""
    if limits.max_gross_exposure is None:
        return []
    gross = sum(abs(w) for w in held.values())
    shorts = sorted(s for s, w in held.items() if w < 0)
    if shorts and not limits.allow_short:
        return [CheckResult(
            "gross_exposure", False, gross, limits.max_gross_exposure,
            f"short positions not allowed: {', '.join(shorts)}",
        )]
    return [_check("gross_exposure", gross, limits.max_gross_exposure, "gross exposure")]


def _var_checks(proposed_var: VaRResult, limits: RiskLimits) -> list[CheckResult]:
    checks = []
    if limits.max_var is not None:
        checks.append(_check("var", proposed_var.var, limits.max_var,
                             f"1-day {limits.var_confidence:.0%} VaR"))
    if limits.max_expected_shortfall is not None:
        checks.append(_check("expected_shortfall", proposed_var.expected_shortfall,
                             limits.max_expected_shortfall,
                             f"1-day {limits.var_confidence:.0%} expected shortfall"))
    return checks


def _history_checks(held: Mapping[str, float], returns: pd.DataFrame, limits: RiskLimits) -> list[CheckResult]:
    """The proposed weights replayed over the return window: drawdown and correlation."""
    checks = []
    if limits.max_drawdown is not None:
        series = _portfolio_path(held, returns)
        checks.append(_check("max_drawdown", series_max_drawdown(series), limits.max_drawdown,
                             "replayed max drawdown"))
    if limits.max_avg_correlation is not None:
        corr = average_pairwise_correlation(returns, held) if len(held) > 1 else None
        checks.append(_check("correlation", corr, limits.max_avg_correlation,
                             "average pairwise correlation", unit="x"))
    return checks


def _portfolio_path(weights: Mapping[str, float], returns: pd.DataFrame) -> np.ndarray:
    from risk.measures._inputs import aligned_weights, clean_returns

    return clean_returns(returns, min_rows=1) @ aligned_weights(weights, returns)


def _var_of(weights: Mapping[str, float], returns: pd.DataFrame, limits: RiskLimits) -> VaRResult:
    held = {s: w for s, w in weights.items() if abs(w) > _TOLERANCE}
    return value_at_risk(returns, held, method=limits.var_method, confidence_level=limits.var_confidence)


def _var_if_known(weights: Mapping[str, float], returns: pd.DataFrame, limits: RiskLimits) -> VaRResult | None:
    """The VaR of ``weights``, or None: the current portfolio may hold symbols without
    history (not fatal; only the proposed portfolio must be measurable)."""
    try:
        return _var_of(weights, returns, limits)
    except RiskInputError:
        return None


def _liquidity_check(
    trades: Mapping[str, float],
    limits: RiskLimits,
    liquidity: Mapping[str, float] | None,
    portfolio_value: float | None,
) -> CheckResult:
    traded = sorted(s for s, d in trades.items() if abs(d) > _TOLERANCE)
    if liquidity is None or (limits.max_adv_fraction is not None and portfolio_value is None):
        return CheckResult("liquidity", False, None, limits.max_adv_fraction or limits.min_liquidity,
                           "liquidity limits set but no traded-value data or portfolio value given")
    unknown = [s for s in traded if s not in liquidity]
    if unknown:
        return CheckResult("liquidity", False, None, limits.max_adv_fraction or limits.min_liquidity,
                           f"no traded-value data for {', '.join(unknown)}")
    if limits.min_liquidity is not None:
        thin = [s for s in traded if liquidity[s] < limits.min_liquidity]
        if thin:
            worst = min(thin, key=lambda s: liquidity[s])
            return CheckResult("liquidity", False, float(liquidity[worst]), limits.min_liquidity,
                               f"{worst} trades {liquidity[worst]:,.0f} a day, below the minimum")
    # (portfolio_value is given whenever max_adv_fraction is set: refused above otherwise)
    if limits.max_adv_fraction is not None and traded and portfolio_value is not None:
        fractions = {
            s: abs(trades[s]) * float(portfolio_value) / liquidity[s] if liquidity[s] > 0 else math.inf
            for s in traded
        }
        worst = max(fractions, key=fractions.__getitem__)
        value = fractions[worst]
        return _check("liquidity", value if math.isfinite(value) else 1e12, limits.max_adv_fraction,
                      f"largest trade vs average daily value ({worst})")
    return CheckResult("liquidity", True, None, limits.min_liquidity, "traded symbols are liquid enough")
