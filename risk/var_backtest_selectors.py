"""Read side of the VaR backtests (issue 16): run a rolling VaR model over weights or a
portfolio's holdings and score it; read the stored nightly backtests.

The engine (:mod:`risk.measures.var_models`, :mod:`risk.measures.backtest`) does the
numbers; these functions fetch the returns, replay the weights and translate engine
errors into the API's (422 naming the field).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from common.errors import Unprocessable
from marketdata.selectors import return_panel_get
from portfolios.models import Portfolio
from portfolios.selectors import portfolio_get
from risk.measures import RiskInputError
from risk.measures.backtest import BacktestSummary, backtest_summary
from risk.measures.var_models import (
    ADAPTIVE_CANDIDATES,
    DEFAULT_VAR_MODEL,
    RollingForecast,
    VaRModelConfig,
    rolling_var_many,
)
from risk.models import VaRBacktest
from risk.selectors import asset_classes_get, engine_error, portfolio_exposure_get, weights_check

PRE_HISTORY = dt.timedelta(days=4 * 366)
"""Returns fetched before the test window: the models' estimation history (their window,
the GARCH fit window of 1,000 days, the selection window of 500)."""
DEFAULT_TEST_SPAN = dt.timedelta(days=4 * 366)
"""Test window when no start is given: the four years up to the end (four Basel blocks)."""
MIN_TEST_DAYS = 100
NIGHTLY_TEST_DAYS = 1000
"""The nightly backtest scores the last four 250-day blocks ..."""
NIGHTLY_HISTORY_DAYS = 1500
"""... of the last 1,500 return days of the current weights (the first 500 are history)."""
NIGHTLY_METHODS: tuple[str, ...] = (DEFAULT_VAR_MODEL, *ADAPTIVE_CANDIDATES, "historical")
"""The default model, its candidates at the nominal level, and historical VaR (what the
risk page reported before) for comparison."""


@dataclass(frozen=True)
class ScoredModel:
    """One model's forecasts on a test window and their backtest."""

    method: str
    summary: BacktestSummary
    next_day_var: float
    current_model: str | None = None
    invalid_days: int = 0


@dataclass(frozen=True)
class VarBacktestRun:
    """Backtests of one return series: the requested (or default) model first."""

    models: list[ScoredModel]
    confidence_level: float
    window_days: int
    weights: dict[str, float]
    start: dt.date
    end: dt.date
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def main(self) -> ScoredModel:
        return self.models[0]


def portfolio_series(panel: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """Daily returns of constant weights (rebalanced daily; what they leave is cash at 0 %)."""
    w = np.array([float(weights.get(c, 0.0)) for c in panel.columns])
    return pd.Series(panel.to_numpy() @ w, index=panel.index, name="portfolio")


def _score(forecast: RollingForecast, returns: pd.Series, keep: np.ndarray) -> ScoredModel:
    index = returns.index[forecast.first :]
    losses = -returns.to_numpy()[forecast.first :]
    summary = backtest_summary(index[keep], losses[keep], forecast.backtested[keep], forecast.confidence_level)
    return ScoredModel(forecast.method, summary, forecast.next_day, forecast.current_model, forecast.invalid_days)


def var_backtest_run(
    *,
    returns: pd.Series,
    methods: tuple[str, ...],
    confidence_level: float,
    window_days: int,
    test_start: pd.Timestamp | None = None,
    weights: Mapping[str, float] | None = None,
    error_field: str = "start",
) -> VarBacktestRun:
    """Run ``methods`` on the portfolio returns and score the days from ``test_start`` on
    (the earlier days are the models' history). Engine errors become 422s."""
    started = time.perf_counter()
    try:
        config = VaRModelConfig(window_days=window_days)
        if returns.shape[0] <= window_days + 1:
            raise RiskInputError(
                f"only {returns.shape[0]} days where every symbol has a price; a {window_days}-day "
                f"window needs more than {window_days + 1}. Move start later or use a shorter window_days.",
                field=error_field)
        forecasts = rolling_var_many(returns.to_numpy(), methods=methods, confidence_level=confidence_level,
                                     config=config)
    except RiskInputError as exc:
        raise engine_error(exc, default_field=error_field) from exc
    first = next(iter(forecasts.values())).first
    index = returns.index[first:]
    keep = np.ones(len(index), dtype=bool) if test_start is None else np.asarray(index >= test_start)
    if keep.sum() < MIN_TEST_DAYS:
        raise Unprocessable(
            f"{int(keep.sum())} days to test after the {window_days}-day estimation window (the first "
            f"forecast is for {index[0].date() if len(index) else 'no day'}); need at least {MIN_TEST_DAYS}. "
            "Widen the window between start and end.", code="insufficient_history", field=error_field)
    scored = [_score(forecasts[m], returns, keep) for m in methods]
    tested = index[keep]
    return VarBacktestRun(scored, float(confidence_level), int(window_days), dict(weights or {}),
                          tested[0].date(), tested[-1].date(), time.perf_counter() - started)


def var_backtest_compute(
    *,
    weights: Mapping[str, float],
    start: dt.date | None = None,
    end: dt.date | None = None,
    method: str = DEFAULT_VAR_MODEL,
    confidence_level: float = 0.99,
    window_days: int = 250,
) -> VarBacktestRun:
    """The stateless backtest of ``POST risk/var/backtest``: constant ``weights`` over the
    days in ``[start, end]`` where every symbol has a price, each day's forecast made
    from the returns before it (fetched from up to four years before ``start``).

    Cornish-Fisher is refused (422 naming ``method``) when its expansion is not monotone
    on some day of the window: its "VaR" is then not a quantile.
    """
    weights = weights_check(weights)
    asset_classes_get(symbols=list(weights))
    if end is not None and start is not None and end < start:
        raise Unprocessable("end is before start.", code="inverted_range", field="end")
    fetch_start = None if start is None else start - PRE_HISTORY
    panel = return_panel_get(symbols=list(weights), start=fetch_start, end=end, how="inner", error_field="weights")
    if panel.empty:
        raise Unprocessable("The symbols have no common prices in the window.", code="insufficient_history",
                            field="start")
    last = panel.index[-1]
    test_start = pd.Timestamp(start) if start is not None else last - pd.Timedelta(DEFAULT_TEST_SPAN)
    run = var_backtest_run(returns=portfolio_series(panel, weights), methods=(method,),
                           confidence_level=confidence_level, window_days=window_days, test_start=test_start,
                           weights=weights)
    if method == "cornish_fisher" and run.main.invalid_days:
        raise Unprocessable(
            f"The Cornish-Fisher expansion is not monotone on {run.main.invalid_days} of the forecast days "
            "(the window's excess kurtosis or skewness is too large), so its VaR is not a quantile there. "
            f"Use method {DEFAULT_VAR_MODEL!r} (the default) or 'historical'.",
            code="cornish_fisher_not_monotone", field="method")
    return run


def portfolio_var_backtest_compute(*, portfolio: Portfolio, as_of: dt.date | None = None) -> VarBacktestRun:
    """The nightly backtest of a portfolio: its current weights replayed over the last
    :data:`NIGHTLY_HISTORY_DAYS` days where every holding has a price, the last
    :data:`NIGHTLY_TEST_DAYS` of them scored, at 99 % (the Basel level)."""
    exposure = portfolio_exposure_get(portfolio=portfolio, as_of=as_of)
    if not exposure.weights:
        raise Unprocessable("The portfolio holds no priced positions.", code="empty_portfolio", field="portfolio")
    panel = return_panel_get(symbols=list(exposure.weights), end=exposure.as_of, how="inner", error_field="weights")
    panel = panel.iloc[-NIGHTLY_HISTORY_DAYS:]
    returns = portfolio_series(panel, exposure.weights)
    window = VaRModelConfig().window_days
    scored_days = min(NIGHTLY_TEST_DAYS, max(returns.shape[0] - window, 0))
    test_start = returns.index[-scored_days] if scored_days else None
    return var_backtest_run(returns=returns, methods=NIGHTLY_METHODS, confidence_level=0.99,
                            window_days=window, test_start=test_start, weights=exposure.weights,
                            error_field="portfolio")


def var_backtest_latest_get(*, portfolio: Portfolio) -> VaRBacktest | None:
    return VaRBacktest.objects.filter(portfolio=portfolio).order_by("-date").first()


@dataclass(frozen=True)
class PortfolioVarBacktest:
    """What ``GET portfolios/{id}/risk/backtest`` shows: the stored nightly record, or one
    computed now (not stored) when the nightly job has not run yet."""

    portfolio: Portfolio
    record: VaRBacktest
    stored: bool


def portfolio_var_backtest_get(*, owner, portfolio_id: int) -> PortfolioVarBacktest:
    """The owner's portfolio's latest VaR backtest (another owner's portfolio: 404)."""
    portfolio = portfolio_get(owner=owner, portfolio_id=portfolio_id)
    record = var_backtest_latest_get(portfolio=portfolio)
    if record is not None:
        return PortfolioVarBacktest(portfolio, record, True)
    run = portfolio_var_backtest_compute(portfolio=portfolio)
    return PortfolioVarBacktest(portfolio, var_backtest_record_build(portfolio=portfolio, run=run), False)


def _blocks_json(summary: BacktestSummary) -> list[dict]:
    return [{"start": b.start.date().isoformat(), "end": b.end.date().isoformat(),
             "exceptions": b.exceptions, "zone": b.zone} for b in summary.blocks]


def _model_json(model: ScoredModel) -> dict:
    s = model.summary
    return {"method": model.method, "observations": s.observations, "exceptions": s.exceptions,
            "kupiec_p": s.kupiec.p_value, "christoffersen_p": s.christoffersen.p_value,
            "blocks": _blocks_json(s), "var_forecast": model.next_day_var}


def var_backtest_record_build(*, portfolio: Portfolio, run: VarBacktestRun) -> VaRBacktest:
    """The (unsaved) record of a nightly run: the default model's figures in columns, every
    model's summary in ``candidates``. One builder for the stored and the on-the-fly view."""
    main = run.main
    s = main.summary
    blocks = _blocks_json(s)
    return VaRBacktest(
        portfolio=portfolio, date=run.end, method=main.method, confidence_level=run.confidence_level,
        window_days=run.window_days, observations=s.observations, exceptions=s.exceptions,
        expected_exceptions=s.expected_exceptions, kupiec_p=s.kupiec.p_value,
        christoffersen_p=s.christoffersen.p_value, conditional_coverage_p=s.conditional_coverage.p_value,
        blocks=blocks, zone=blocks[-1]["zone"] if blocks else "", current_model=main.current_model or "",
        var_forecast=main.next_day_var, candidates=[_model_json(m) for m in run.models[1:]],
        weights=run.weights, seconds=round(run.seconds, 4),
    )
