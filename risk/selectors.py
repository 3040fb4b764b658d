"""Read side of the risk app: VaR for weights or a portfolio, stress tests, a portfolio's
risk view, limits and alerts. Nothing here writes; the engine does the arithmetic."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd
from django.db.models import Max
from django.utils import timezone

from common.errors import NotFound, Unprocessable, ValidationFailed
from marketdata.models import Asset, PriceBar
from marketdata.selectors import return_panel_get
from portfolios.models import Portfolio, PortfolioSnapshot
from portfolios.performance import twr_series
from portfolios.policy import PolicyLimits
from portfolios.selectors import policy_limits_get, portfolio_get, portfolio_states_get
from risk.figures import (
    BenchmarkFactorRisk,
    PortfolioRiskReport,
    StressFigures,
    money_of,
    stress_figures,
    stress_summary,
    var_metrics,
)
from risk.measures import RiskInputError, VaRResult, performance_metrics, value_at_risk
from risk.measures.alerts import AlertSignal, evaluate_alert_rules
from risk.measures.attribution import FactorRisk, RiskAttribution, factor_risk, risk_attribution
from risk.measures.correlation import average_pairwise_correlation
from risk.measures.performance import PerformanceMetrics, current_drawdown
from risk.measures.stress import (
    SCENARIOS,
    StressReport,
    StressScenario,
    custom_scenario,
    stress_recommendations,
    stress_test,
)
from risk.measures.volatility import ewma_volatility
from risk.models import RiskAlert, RiskSnapshot

LOOKBACK = dt.timedelta(days=730)
"""Default return window: two years of daily returns before the end date."""
MIN_OBSERVATIONS = 30
MAX_SYMBOLS = 500


def _body_portfolio_get(*, owner: Any, portfolio_id: int):
    """A portfolio named in a request body: not found (or not yours) names ``portfolio_id``."""
    try:
        return portfolio_get(owner=owner, portfolio_id=portfolio_id)
    except NotFound as exc:
        raise NotFound(exc.message, code=exc.code, field="portfolio_id") from None


def engine_error(exc: RiskInputError, *, default_field: str | None = None) -> Unprocessable:
    """The engine's input error as the API's 422, naming the field."""
    return Unprocessable(exc.message, code="risk_input", field=exc.field or default_field, extra=exc.extra)


def asset_classes_get(*, symbols: Sequence[str], error_field: str = "weights") -> dict[str, str]:
    """Asset class of every symbol; NotFound naming the unknown ones."""
    found = dict(Asset.objects.filter(symbol__in=list(symbols)).values_list("symbol", "asset_class"))
    unknown = sorted(set(symbols) - set(found))
    if unknown:
        raise NotFound(f"Unknown symbols: {', '.join(unknown)}.", code="unknown_symbol", field=error_field,
                       extra={"symbols": unknown})
    return found


def weights_check(weights: Mapping[str, float], *, error_field: str = "weights") -> dict[str, float]:
    if not weights:
        raise ValidationFailed("Give at least one symbol.", code="empty", field=error_field)
    if len(weights) > MAX_SYMBOLS:
        raise ValidationFailed(f"At most {MAX_SYMBOLS} symbols.", code="too_many", field=error_field)
    out = {str(s): float(w) for s, w in weights.items()}
    if not all(math.isfinite(w) for w in out.values()):
        raise ValidationFailed("Weights must be finite numbers.", code="invalid", field=error_field)
    return out


def returns_window_get(
    *, symbols: Sequence[str], start: dt.date | None, end: dt.date | None, error_field: str = "weights"
) -> pd.DataFrame:
    """Simple daily returns on the dates where every symbol has a price (default: the two
    years up to the last date on which every symbol has a price)."""
    if end is None:
        end = common_last_date_get(symbols=symbols)
        if start is not None and end is not None and end < start:
            raise Unprocessable(f"The symbols have no common prices after {start}; the last is {end}.",
                                code="insufficient_history", field="start")
    if start is None:
        start = (end or timezone.localdate()) - LOOKBACK
    panel = return_panel_get(symbols=list(symbols), start=start, end=end, how="inner", error_field=error_field)
    if panel.shape[0] < MIN_OBSERVATIONS:
        raise Unprocessable(
            f"Only {panel.shape[0]} days where every symbol has a price between {start} and "
            f"{end or 'today'}; need at least {MIN_OBSERVATIONS}. Widen the window.",
            code="insufficient_history",
            field="start",
        )
    return panel


def common_last_date_get(*, symbols: Sequence[str]) -> dt.date | None:
    """The last date on which every symbol has a bar (None when one has none)."""
    lasts = (
        PriceBar.objects.filter(asset__symbol__in=list(symbols))
        .values("asset_id")
        .annotate(last=Max("date"))
        .values_list("last", flat=True)
    )
    lasts = list(lasts)
    if len(lasts) < len(set(symbols)):
        return None
    return min(lasts)


@dataclass(frozen=True)
class PortfolioExposure:
    """Weights and value of a portfolio at its latest prices (cash is what weights leave)."""

    portfolio: Portfolio
    as_of: dt.date
    value: Decimal
    weights: dict[str, float]
    asset_classes: dict[str, str]


def portfolio_exposure_get(*, portfolio: Portfolio, as_of: dt.date | None = None) -> PortfolioExposure:
    day = as_of or timezone.localdate()
    state = portfolio_states_get(portfolio_ids=[portfolio.pk], as_of=day, with_lots=False)[portfolio.pk]
    last = max(state.price_dates.values(), default=day)
    weights = {s: w for s, w in state.weights.items() if w != 0.0}
    return PortfolioExposure(portfolio, last, state.total_value, weights, dict(state.asset_classes))


@dataclass(frozen=True)
class VarComputation:
    result: VaRResult
    start: dt.date
    end: dt.date
    weights: dict[str, float]
    portfolio_value: Decimal | None = None

    def amount(self, fraction: float) -> Decimal | None:
        """``fraction`` of the portfolio's value in money (None for bare weights)."""
        return money_of(self.portfolio_value, fraction)

    @property
    def var_amount(self) -> Decimal | None:
        return self.amount(self.result.var)

    @property
    def expected_shortfall_amount(self) -> Decimal | None:
        return self.amount(self.result.expected_shortfall)


def var_compute(
    *,
    owner,
    weights: Mapping[str, float] | None = None,
    portfolio_id: int | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    confidence_level: float = 0.95,
    horizon_days: int = 1,
    method: str = "historical",
    n_simulations: int = 100_000,
    distribution: str = "normal",
    dof: float = 5.0,
    seed: int = 0,
) -> VarComputation:
    """VaR/ES of explicit weights or of the owner's portfolio (another owner's: 404)."""
    value = None
    if portfolio_id is not None:
        exposure = portfolio_exposure_get(portfolio=_body_portfolio_get(owner=owner, portfolio_id=portfolio_id))
        if not exposure.weights:
            raise Unprocessable("The portfolio holds no priced positions.", code="empty_portfolio",
                                field="portfolio_id")
        weights, value = exposure.weights, exposure.value
        end = end or exposure.as_of
    weights = weights_check(weights or {})
    asset_classes_get(symbols=list(weights))
    panel = returns_window_get(symbols=list(weights), start=start, end=end)
    try:
        result = value_at_risk(
            panel, weights, method=method, confidence_level=confidence_level, horizon_days=horizon_days,
            n_simulations=n_simulations, distribution=distribution, dof=dof, seed=seed,
        )
    except RiskInputError as exc:
        raise engine_error(exc) from exc
    return VarComputation(result, panel.index[0].date(), panel.index[-1].date(), weights, value)


def scenarios_list() -> list[StressScenario]:
    return list(SCENARIOS.values())


def scenarios_resolve(
    *, names: Sequence[str] | None, custom: Sequence[Mapping] = ()
) -> list[StressScenario]:
    unknown = sorted(set(names or ()) - set(SCENARIOS))
    if unknown:
        raise NotFound(f"Unknown scenarios: {', '.join(unknown)}; GET risk/scenarios lists them.",
                       code="unknown_scenarios", field="scenarios", extra={"scenarios": unknown})
    chosen = [SCENARIOS[n] for n in dict.fromkeys(names)] if names else []
    for i, spec in enumerate(custom):
        try:
            chosen.append(custom_scenario(spec["name"], shocks=spec.get("shocks"),
                                          symbol_shocks=spec.get("symbol_shocks"),
                                          description=spec.get("description", "")))
        except RiskInputError as exc:
            raise ValidationFailed(exc.message, field=f"custom_scenarios.{i}.{exc.field}") from exc
    if names is None and not custom:
        chosen = list(SCENARIOS.values())
    return chosen


def _history_get(symbols: Sequence[str]) -> pd.DataFrame | None:
    """All the history of the symbols (outer join), for replaying episodes."""
    if not symbols:
        return None
    return return_panel_get(symbols=list(symbols), how="outer", error_field="weights")


def stress_test_run(
    *,
    owner,
    weights: Mapping[str, float] | None = None,
    portfolio_id: int | None = None,
    scenario_names: Sequence[str] | None = None,
    custom: Sequence[Mapping] = (),
    replay: bool = True,
) -> StressFigures:
    """The stress test of explicit weights or of the owner's portfolio (P&L in money then)."""
    value = None
    if portfolio_id is not None:
        exposure = portfolio_exposure_get(portfolio=_body_portfolio_get(owner=owner, portfolio_id=portfolio_id))
        weights, value, classes = exposure.weights, exposure.value, exposure.asset_classes
    else:
        weights = weights_check(weights or {})
        classes = asset_classes_get(symbols=list(weights))
    scenarios = scenarios_resolve(names=scenario_names, custom=custom)
    history = _history_get(list(weights)) if replay else None
    report = stress_test(weights, scenarios, asset_classes=classes, returns=history)
    return stress_figures(report, stress_recommendations(report), value)


def risk_limits_get(*, portfolio: Portfolio) -> PolicyLimits:
    """The portfolio's limits: the one selector the autopilot reads too (its tier and overrides)."""
    return policy_limits_get(portfolio=portfolio)


ALERT_VAR_HALFLIFE = 20.0
"""Halflife of the EWMA volatility behind the VaR the alerts compare with the limit: the
risk overlay's forecast (``rebalancer.autopilot.types.OverlaySettings.halflife_days``, a
higher layer this module may not import; a test pins the two together)."""
Z_95 = 1.6448536269514722


def var_forecast(panel: pd.DataFrame, weights: Mapping[str, float]) -> float:
    """One-day 95 % VaR forecast of the weights: normal, EWMA volatility (the overlay's)."""
    r = panel.to_numpy() @ [weights[c] for c in panel.columns]
    return Z_95 * ewma_volatility(r, halflife=ALERT_VAR_HALFLIFE)


@dataclass(frozen=True)
class RiskView:
    """Current risk of what a portfolio holds (the numbers of a snapshot, computed now)."""

    as_of: dt.date
    portfolio_value: Decimal
    weights: dict[str, float]
    asset_classes: dict[str, str]
    var_1d: VaRResult | None
    var_5d: VaRResult | None
    metrics: PerformanceMetrics | None
    current_drawdown: float | None
    avg_correlation: float | None
    attribution: RiskAttribution | None
    stress: StressReport | None
    signals: list[AlertSignal] = field(default_factory=list)
    n_observations: int = 0
    var_forecast: float | None = None
    """One-day 95 % VaR forecast (the autopilot's measure), compared with the limit."""
    factor: FactorRisk | None = None
    note: str = ""


def portfolio_risk_view_get(*, portfolio: Portfolio, as_of: dt.date | None = None) -> RiskView:
    """VaR (historical, 1 and 5 days), metrics vs the benchmark, correlation, parametric
    attribution, the stress test over every built-in scenario, and the alert signals.

    One (cached) outer-joined return panel of the holdings and the benchmark serves
    everything: the stress replay uses all of it; the risk figures use the last two years
    of it on the dates where every holding has a return.
    """
    exposure = portfolio_exposure_get(portfolio=portfolio, as_of=as_of)
    limit = risk_limits_get(portfolio=portfolio)
    weights, classes = exposure.weights, exposure.asset_classes
    drawdown = _actual_drawdown(portfolio)
    empty = RiskView(exposure.as_of, exposure.value, weights, classes, None, None, None, drawdown,
                     None, None, None)
    if not weights:
        return _with_signals(empty, limit, note="no priced positions")
    held = list(weights)
    bench = portfolio.benchmark_symbol
    with_bench = bool(bench) and bench not in weights and Asset.objects.filter(symbol=bench).exists()
    history = return_panel_get(symbols=held + ([bench] if with_bench else []), how="outer",
                               end=exposure.as_of, error_field="weights")
    start = pd.Timestamp(exposure.as_of - LOOKBACK)
    panel = history.loc[history.index > start, held].dropna()
    if panel.shape[0] < MIN_OBSERVATIONS:
        return _with_signals(empty, limit, note=(
            f"only {panel.shape[0]} days in the last two years where every holding has a price; "
            f"need {MIN_OBSERVATIONS}"))
    level = 0.95
    var_1d = value_at_risk(panel, weights, method="historical", confidence_level=level)
    var_5d = value_at_risk(panel, weights, method="historical", confidence_level=level, horizon_days=5)
    series = pd.Series(panel.to_numpy() @ [weights[c] for c in panel.columns], index=panel.index)
    benchmark = None
    if bench in history.columns:
        benchmark = history[bench].reindex(panel.index)
        benchmark = None if benchmark.isna().any() else benchmark
    metrics = performance_metrics(series, benchmark)
    if drawdown is None:
        drawdown = current_drawdown(series)
    corr = average_pairwise_correlation(panel, weights)
    try:
        attribution = risk_attribution(panel, weights, method="parametric", confidence_level=level,
                                       asset_classes=classes)
    except RiskInputError:
        attribution = None
    factor = None
    if benchmark is not None:
        try:
            factor = factor_risk(panel, weights, benchmark)
        except RiskInputError:
            factor = None
    stress = stress_test(weights, None, asset_classes=classes, returns=history[held])
    view = RiskView(exposure.as_of, exposure.value, weights, classes, var_1d, var_5d, metrics, drawdown,
                    corr, attribution, stress, n_observations=int(panel.shape[0]), factor=factor,
                    var_forecast=var_forecast(panel, weights))
    return _with_signals(view, limit)


def alert_signals(
    *,
    weights: Mapping[str, float],
    asset_classes: Mapping[str, str],
    limits: PolicyLimits,
    var_forecast: float | None,
    current_drawdown: float | None,
    average_correlation: float | None,
) -> list[AlertSignal]:
    """The alert rules against the portfolio's own limits, the ones the autopilot trades to:
    the position cap of its projection (risky assets; a bond or money-market fund is
    bounded by its sleeve), the VaR forecast of its overlay, the drawdown at which the
    overlay de-risks. A holding the autopilot bought is within them. The nightly risk
    view and the intraday monitor both call this one function."""
    from portfolios.policy.tiers import RISKY_SLEEVES, sleeve_of

    risky = {s: w for s, w in weights.items() if sleeve_of(asset_classes.get(s, "unknown")) in RISKY_SLEEVES}
    return evaluate_alert_rules(
        var_1d=var_forecast,
        var_limit=limits.max_var_95,
        current_drawdown=current_drawdown,
        drawdown_limit=limits.max_drawdown,
        weights=risky,
        position_limit=limits.max_position,
        average_correlation=average_correlation,
        correlation_limit=limits.max_avg_correlation,
    )


def _with_signals(view: RiskView, limit: PolicyLimits, note: str = "") -> RiskView:
    signals = alert_signals(weights=view.weights, asset_classes=view.asset_classes, limits=limit,
                            var_forecast=view.var_forecast, current_drawdown=view.current_drawdown,
                            average_correlation=view.avg_correlation)
    return RiskView(**{**view.__dict__, "signals": signals, "note": note or view.note})


def _actual_drawdown(portfolio: Portfolio) -> float | None:
    """Drawdown of the portfolio's own time-weighted value history (its daily value
    snapshots, net of deposits and withdrawals), if it has one; one query."""
    rows = list(
        PortfolioSnapshot.objects.filter(portfolio=portfolio).order_by("date").values_list("date", "value", "net_flows")
    )
    if len(rows) < 2:
        return None
    series = twr_series(dates=[r[0] for r in rows], values=[r[1] for r in rows], flows=[r[2] for r in rows])
    return max(-float(series[-1].drawdown), 0.0)


def risk_recommendations(view: RiskView) -> list[str]:
    """Advice from the alert signals and the stress test, most urgent first."""
    advice = [s.message for s in sorted(view.signals, key=lambda s: s.severity != "critical")]
    if view.stress is not None:
        advice += stress_recommendations(view.stress)
    if view.attribution is not None and view.attribution.by_asset:
        top = max(view.attribution.by_asset, key=lambda a: a.component_var)
        if top.var_share > 0.4 and len(view.attribution.by_asset) > 1:
            advice.append(f"{top.symbol} carries {top.var_share:.0%} of the portfolio's VaR: "
                          "trimming it reduces risk the most.")
    return advice


def latest_snapshot_get(*, portfolio: Portfolio) -> RiskSnapshot | None:
    return RiskSnapshot.objects.filter(portfolio=portfolio).order_by("-date").first()


def open_alerts_list(*, portfolio: Portfolio) -> list[RiskAlert]:
    return list(
        RiskAlert.objects.filter(portfolio=portfolio)
        .exclude(status=RiskAlert.Status.RESOLVED)
        .order_by("severity", "-created_at")
    )


RISK_VIEW_CACHE_SECONDS = 24 * 3600


def _risk_view_cache_key(portfolio: Portfolio) -> str:
    """What the risk view is a function of: the ledger (``ledger_version``, bumped by every
    trade and cash movement in the services that write), the portfolio's own columns
    (``updated_at``), the bars (the market-data revision, bumped by every price write),
    the portfolio's risk limits and today's date. A new version of any is a new key, so a
    trade or a new price is never answered from the old computation."""
    from marketdata.selectors import price_revision_get

    limits = hashlib.sha256(repr(risk_limits_get(portfolio=portfolio)).encode()).hexdigest()[:16]
    updated = portfolio.updated_at.timestamp() if portfolio.updated_at else 0
    return (f"risk:view:v1:p{portfolio.pk}:l{portfolio.ledger_version}:u{updated}:"
            f"r{price_revision_get()}:d{timezone.localdate()}:{limits}")


def portfolio_risk_view_cached(*, portfolio: Portfolio) -> RiskView:
    """``portfolio_risk_view_get`` computed once per (portfolio, ledger version, price revision,
    limits, day) and shared by every later request until one of them changes."""
    from django.core.cache import cache

    key = _risk_view_cache_key(portfolio)
    view = cache.get(key)
    if view is None:
        view = portfolio_risk_view_get(portfolio=portfolio)
        cache.set(key, view, RISK_VIEW_CACHE_SECONDS)
    return view


_SNAPSHOT_SHOWN = ("pk", "date", "var_1d", "var_5d", "expected_shortfall", "beta", "tracking_error",
                   "max_drawdown", "sharpe_ratio", "sortino_ratio", "portfolio_value")


def portfolio_risk_version(*, portfolio: Portfolio) -> tuple:
    """What ``portfolio_risk_get`` answers is a function of: the risk view's key (ledger,
    prices, limits, day), the latest snapshot as shown (a snapshot retaken the same day
    rewrites its row) and the open alerts' ids and refresh times (every alert write sets
    ``updated_at``). Two small queries; ``common.read_cache`` keys the risk reads on it."""
    snapshot = (RiskSnapshot.objects.filter(portfolio=portfolio).order_by("-date")
                .values_list(*_SNAPSHOT_SHOWN).first())
    alerts = list(RiskAlert.objects.filter(portfolio=portfolio).exclude(status=RiskAlert.Status.RESOLVED)
                  .order_by("pk").values_list("pk", "status", "updated_at"))
    return (_risk_view_cache_key(portfolio), snapshot, alerts)


def portfolio_risk_get(*, owner, portfolio_id: int) -> PortfolioRiskReport:
    """What the risk page of the owner's portfolio shows (another owner's: 404)."""
    # the owner-filtered lookup comes first: the cache key names the portfolio, never
    # another user's
    portfolio = portfolio_get(owner=owner, portfolio_id=portfolio_id)
    view = portfolio_risk_view_cached(portfolio=portfolio)
    value = view.portfolio_value
    factor = None
    if view.factor is not None:
        factor = BenchmarkFactorRisk(**view.factor.__dict__, benchmark=portfolio.benchmark_symbol)
    return PortfolioRiskReport(
        portfolio_id=portfolio.pk,
        as_of=view.as_of,
        portfolio_value=value,
        var_metrics=var_metrics(view.var_1d, view.var_5d, value, view.n_observations),
        risk_metrics=view.metrics,
        current_drawdown=view.current_drawdown,
        average_correlation=view.avg_correlation,
        risk_attribution=view.attribution,
        factor_risk=factor,
        stress_test_results=stress_summary(view.stress, value),
        latest_snapshot=latest_snapshot_get(portfolio=portfolio),
        alerts=open_alerts_list(portfolio=portfolio),
        recommendations=risk_recommendations(view),
        note=view.note,
    )
