"""The risk figures the endpoints show: typed read models that the selectors build from the
engine's results, so that an API only validates, calls a selector and serializes.

Every loss is a positive fraction of portfolio value; with a portfolio each is also given in
money by the one rule :func:`money_of` (``value x fraction``, rounded half-even to the API's
money places). No ORM here: the selectors pass values, the snapshot and the alerts in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from common.api import money_quantize
from risk.measures.attribution import FactorRisk, RiskAttribution
from risk.measures.performance import PerformanceMetrics
from risk.measures.stress import AssetShock, ScenarioResult, StressReport
from risk.measures.var import VaRResult

WORST_SCENARIOS_SHOWN = 5
"""Scenarios listed in a portfolio's stress summary, worst first (POST risk/stress-test for all)."""
PORTFOLIO_VAR_METHOD = "historical"
"""The method of a portfolio's risk-page VaR (1 and 5 days)."""


def money_of(value: Decimal | None, fraction: float) -> Decimal | None:
    """``fraction`` of ``value`` in money at the API's places; ``None`` without a value."""
    if value is None:
        return None
    return money_quantize(value * Decimal(str(float(fraction))))


@dataclass(frozen=True)
class ScenarioFigures:
    """One scenario's outcome, with its P&L in money when a portfolio value is known."""

    name: str
    title: str
    kind: str
    pnl: float
    loss: float
    pnl_amount: Decimal | None
    contributions: list[AssetShock]
    replayed_symbols: list[str]


def scenario_figures(result: ScenarioResult, value: Decimal | None) -> ScenarioFigures:
    # built field by field: dataclasses.asdict deep-copies every contribution (slow on big reports)
    return ScenarioFigures(
        result.name, result.title, result.kind, result.pnl, result.loss, money_of(value, result.pnl),
        result.contributions, result.replayed_symbols,
    )


@dataclass(frozen=True)
class StressFigures:
    """A stress test's results, its worst case and advice (``portfolio_value`` for portfolios)."""

    scenario_results: list[ScenarioFigures]
    worst_case: ScenarioFigures | None
    recommendations: list[str]
    portfolio_value: Decimal | None


def stress_figures(report: StressReport, recommendations: list[str], value: Decimal | None) -> StressFigures:
    worst = report.worst_case
    return StressFigures(
        [scenario_figures(r, value) for r in report.results],
        scenario_figures(worst, value) if worst else None,
        recommendations,
        value,
    )


@dataclass(frozen=True)
class StressSummary:
    """A portfolio's stress test in short: the worst case and the worst few scenarios."""

    worst_case: ScenarioFigures
    worst_scenarios: list[ScenarioFigures]
    scenarios_tested: int


def stress_summary(report: StressReport | None, value: Decimal | None) -> StressSummary | None:
    if report is None or report.worst_case is None:
        return None
    worst = sorted(report.results, key=lambda r: r.pnl)[:WORST_SCENARIOS_SHOWN]
    return StressSummary(
        scenario_figures(report.worst_case, value),
        [scenario_figures(r, value) for r in worst],
        len(report.results),
    )


@dataclass(frozen=True)
class VarMetrics:
    """A portfolio's 1- and 5-day VaR and 1-day ES, as fractions and in money."""

    method: str
    confidence_level: float
    var_1d: float
    var_5d: float
    expected_shortfall_1d: float
    var_1d_amount: Decimal | None
    var_5d_amount: Decimal | None
    expected_shortfall_1d_amount: Decimal | None
    n_observations: int


def var_metrics(
    var_1d: VaRResult | None, var_5d: VaRResult | None, value: Decimal, n_observations: int
) -> VarMetrics | None:
    """The VaR figures, or ``None`` when the risk view could not compute both horizons."""
    if var_1d is None or var_5d is None:
        return None
    return VarMetrics(
        PORTFOLIO_VAR_METHOD, var_1d.confidence_level, var_1d.var, var_5d.var, var_1d.expected_shortfall,
        money_of(value, var_1d.var), money_of(value, var_5d.var), money_of(value, var_1d.expected_shortfall),
        n_observations,
    )


@dataclass(frozen=True)
class BenchmarkFactorRisk(FactorRisk):
    """The one-factor view, naming the benchmark it was measured against."""

    benchmark: str


@dataclass(frozen=True)
class PortfolioRiskReport:
    """Everything ``portfolios/{id}/risk`` shows (the fields of its response)."""

    portfolio_id: int
    as_of: dt.date
    portfolio_value: Decimal
    var_metrics: VarMetrics | None
    risk_metrics: PerformanceMetrics | None
    current_drawdown: float | None
    average_correlation: float | None
    risk_attribution: RiskAttribution | None
    factor_risk: BenchmarkFactorRisk | None
    stress_test_results: StressSummary | None
    latest_snapshot: Any
    """The latest ``RiskSnapshot`` row, or None."""
    alerts: list[Any]
    """Open and acknowledged ``RiskAlert`` rows."""
    recommendations: list[str]
    note: str
