"""``optimization_run``: market data + estimators + the optimization engine, for the APIs.

Reads the return panel of the universe (``marketdata.selectors.return_panel_get``: simple
daily returns of adjusted close on the dates where every symbol has a price), estimates
or accepts expected returns and the covariance, resolves ESG exclusions and asset-class /
sector maps from ``marketdata.models.Asset``, calls :func:`portfolios.optimization.optimize`
(and :func:`~portfolios.optimization.efficient_frontier` when asked) and translates the
engine's exceptions into application errors: infeasible constraints -> 422 naming the
conflicts, a solver that fails even with its fallback -> 422 ``solver_failed``, bad inputs
-> 400 naming the field. It writes nothing; ``POST portfolios/{id}/optimize`` stores the
outcome (portfolios' own service) after calling this with the portfolio's holdings.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from common.errors import Unprocessable, ValidationFailed
from portfolios.optimization import (
    EXPECTED_RETURN_ESTIMATORS,
    MAX_FRONTIER_POINTS,
    RISK_MODELS,
    Constraints,
    Frontier,
    InfeasibleConstraints,
    OptimizationError,
    OptimizationResult,
    UnsupportedOptions,
    efficient_frontier,
    expected_returns_estimate,
    fix_nonpositive_semidefinite,
    frontier_png,
    optimize,
    risk_model_estimate,
)

MAX_UNIVERSE = 1000
MAX_MIXED_INTEGER_UNIVERSE = 200
MIN_OBSERVATIONS = 20
MAX_SCENARIOS = 2520  # CVaR scenarios: the last ten years of trading days at most

_CONSTRAINT_FIELDS = {f.name for f in fields(Constraints)}


@dataclass(frozen=True)
class OptimizationOutcome:
    """What one optimization produced, with the inputs it used (for records and replies)."""

    symbols: tuple[str, ...]
    start: dt.date | None
    end: dt.date | None
    observations: int
    expected_returns: pd.Series
    cov: pd.DataFrame
    constraints: Constraints
    result: OptimizationResult
    frontier: Frontier | None = None
    frontier_png: bytes | None = None
    frontier_constraints: Constraints | None = None
    """What the frontier was built under (a portfolio's frontier adds its costs and cap)."""


def constraints_from_spec(
    *, spec: Mapping[str, Any] | Constraints | None, symbols: Sequence[str]
) -> Constraints:
    """Build :class:`Constraints` from an API-style mapping, resolving asset attributes.

    Besides the dataclass fields, ``exclude_esg_flags`` (exclude assets carrying any of these
    flags) and ``min_esg_score`` (exclude rated assets scoring below it) are resolved from
    ``Asset.esg_flags`` / ``esg_score``; ``asset_classes`` and ``sectors`` default to the
    assets' own attributes; ``bounds`` accept ``{"lower": x, "upper": y}`` or ``[x, y]``.
    """
    if isinstance(spec, Constraints):
        return spec
    spec = dict(spec or {})
    esg_flags = set(spec.pop("exclude_esg_flags", None) or [])
    min_esg = spec.pop("min_esg_score", None)
    unknown = set(spec) - _CONSTRAINT_FIELDS
    if unknown:
        raise ValidationFailed(
            f"unknown constraint {sorted(unknown)[0]!r}", field=f"constraints.{sorted(unknown)[0]}"
        )
    from marketdata.models import Asset

    assets = {a.symbol: a for a in Asset.objects.filter(symbol__in=list(symbols))}
    excluded = list(spec.get("excluded") or [])
    for symbol, asset in assets.items():
        flagged = esg_flags & set(asset.esg_flags or [])
        low = min_esg is not None and asset.esg_score is not None and asset.esg_score < min_esg
        if (flagged or low) and symbol not in excluded:
            excluded.append(symbol)
    spec["excluded"] = tuple(excluded)
    if not spec.get("asset_classes"):
        spec["asset_classes"] = {s: a.asset_class for s, a in assets.items()}
    if not spec.get("sectors"):
        spec["sectors"] = {s: a.sector for s, a in assets.items() if a.sector}
    bounds = {}
    for symbol, value in (spec.get("bounds") or {}).items():
        lower, upper = (value["lower"], value["upper"]) if isinstance(value, Mapping) else value
        bounds[symbol] = (float(lower), float(upper))
    spec["bounds"] = bounds
    return Constraints(**spec)


def _returns_get(
    symbols: Sequence[str], start: dt.date | None, end: dt.date | None
) -> pd.DataFrame:
    from marketdata.selectors import return_panel_get

    returns = return_panel_get(
        symbols=list(symbols),
        start=start,
        end=end,
        kind="simple",
        how="inner",
        error_field="universe",
    )
    returns = returns.replace([np.inf, -np.inf], np.nan).dropna(how="any")
    if len(returns) < MIN_OBSERVATIONS:
        raise ValidationFailed(
            f"the window holds {len(returns)} days of returns on which every symbol has a price; "
            f"at least {MIN_OBSERVATIONS} are needed (widen start/end or drop recently listed symbols)",
            code="window_too_short",
            field="start",
        )
    return returns


def _benchmark_returns(
    benchmark: str, returns: pd.DataFrame, start: dt.date | None, end: dt.date | None
) -> pd.Series:
    """The benchmark's simple returns on the universe's dates (CAPM's market)."""
    from marketdata.selectors import return_panel_get

    panel = return_panel_get(
        symbols=[benchmark],
        start=start,
        end=end,
        kind="simple",
        how="inner",
        error_field="benchmark",
    )
    market = panel[benchmark].reindex(returns.index)
    if market.count() < MIN_OBSERVATIONS:
        raise ValidationFailed(
            f"benchmark {benchmark} has {market.count()} returns on the universe's dates; "
            f"at least {MIN_OBSERVATIONS} are needed",
            field="benchmark",
        )
    return market


def _expected_returns(
    spec: str | Mapping[str, float],
    returns: pd.DataFrame,
    rf: float,
    benchmark: str | None = None,
    window: tuple[dt.date | None, dt.date | None] = (None, None),
) -> pd.Series:
    if isinstance(spec, str):
        if spec not in EXPECTED_RETURN_ESTIMATORS:
            raise ValidationFailed(
                f"unknown estimator {spec!r}; use one of {', '.join(EXPECTED_RETURN_ESTIMATORS)} or a symbol -> value map",
                field="expected_returns",
            )
        market = (
            _benchmark_returns(benchmark, returns, *window)
            if spec == "capm" and benchmark
            else None
        )
        return expected_returns_estimate(returns, spec, risk_free_rate=rf, market_returns=market)
    missing = [s for s in returns.columns if s not in spec]
    if missing:
        raise ValidationFailed(
            f"expected_returns has no value for {', '.join(missing[:5])}", field="expected_returns"
        )
    values = pd.Series({s: float(spec[s]) for s in returns.columns})
    if not np.isfinite(values).all():
        raise ValidationFailed("expected_returns must be finite numbers", field="expected_returns")
    return values


def _covariance(
    spec: str | Mapping[str, Mapping[str, float]], returns: pd.DataFrame
) -> pd.DataFrame:
    symbols = list(returns.columns)
    if isinstance(spec, str):
        if spec not in RISK_MODELS:
            raise ValidationFailed(
                f"unknown risk model {spec!r}; use one of {', '.join(RISK_MODELS)} or a symbol -> symbol -> value map",
                field="risk_model",
            )
        return risk_model_estimate(returns, spec)
    try:
        matrix = np.array([[float(spec[a][b]) for b in symbols] for a in symbols])
    except (KeyError, TypeError):
        raise ValidationFailed(
            "risk_model must give a value for every pair of symbols in the universe",
            field="risk_model",
        ) from None
    if not np.isfinite(matrix).all():
        raise ValidationFailed("risk_model values must be finite", field="risk_model")
    if np.abs(matrix - matrix.T).max() > 1e-9 * max(1.0, np.abs(matrix).max()):
        raise ValidationFailed("risk_model must be symmetric", field="risk_model")
    if (np.diag(matrix) <= 0).any():
        raise ValidationFailed(
            "risk_model variances (the diagonal) must be positive", field="risk_model"
        )
    return fix_nonpositive_semidefinite(pd.DataFrame(matrix, index=symbols, columns=symbols))


def _engine_error(exc: OptimizationError) -> Exception:
    if isinstance(exc, InfeasibleConstraints):
        return Unprocessable(
            exc.message,
            code="infeasible_constraints",
            field=exc.field or "constraints",
            extra={"conflicts": exc.conflicts},
        )
    if isinstance(exc, UnsupportedOptions) or exc.field is not None:
        return ValidationFailed(
            exc.message,
            code="unsupported" if isinstance(exc, UnsupportedOptions) else "invalid",
            field=exc.field,
        )
    return Unprocessable(exc.message, code="solver_failed")


@dataclass(frozen=True)
class OptimizationRequest:
    """What :func:`optimization_run` is asked: the universe and window, the estimators, the
    objective with its inputs and options, the frontier.

    ``options`` go to the engine (``kelly_fraction``, ``cvar_beta``, ``risk_budgets``,
    ``market_weights``, ``tau``, the multi-objective weights), which checks their names
    against the objective's typed options. ``benchmark`` is the market of the ``capm``
    estimator (a stored symbol; default: the equal-weighted universe). The frontier is built
    under ``frontier_constraints`` when given (default: ``constraints``), from
    ``current_weights``; with ``frontier_turnover_optional`` a cap that no allowed portfolio
    meets from the current weights is dropped for the frontier instead of failing.
    """

    symbols: Sequence[str]
    start: dt.date | None = None
    end: dt.date | None = None
    expected_returns: str | Mapping[str, float] = "mean_historical"
    risk_model: str | Mapping[str, Mapping[str, float]] = "sample_cov"
    objective: str = "max_sharpe"
    constraints: Mapping[str, Any] | Constraints | None = None
    risk_free_rate: float = 0.0
    target_return: float | None = None
    target_volatility: float | None = None
    views: Sequence[Mapping[str, Any]] | None = None
    frontier_points: int | None = None
    current_weights: Mapping[str, float] | None = None
    risk_tier: str | None = None
    risk_aversion: float | None = None
    frontier_plot: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    benchmark: str | None = None
    frontier_constraints: Mapping[str, Any] | Constraints | None = None
    frontier_turnover_optional: bool = False


def optimization_run(*, request: OptimizationRequest) -> OptimizationOutcome:
    """Optimize ``request.symbols`` on the stored prices of ``[start, end]``.

    See :class:`OptimizationRequest` and the module docstring. Raises ``NotFound`` (unknown
    symbols, field ``universe``), ``ValidationFailed`` (400, naming the field) or
    ``Unprocessable`` (422: infeasible constraints with ``extra["conflicts"]``, solver failure).
    With ``max_turnover`` or transaction costs the frontier is the exact rebalancing path from
    the current weights; with ``max_holdings``, the support search.
    """
    r = request
    symbols = list(r.symbols)
    _request_check(r, symbols)
    resolved = constraints_from_spec(spec=r.constraints, symbols=symbols)
    _universe_size_check(resolved, symbols)
    returns = _returns_get(symbols, r.start, r.end)
    try:
        mu = _expected_returns(r.expected_returns, returns, r.risk_free_rate, r.benchmark, (r.start, r.end))
        cov = _covariance(r.risk_model, returns)
        result = _optimize(r, mu, cov, returns, resolved)
        frontier, frontier_resolved = _request_frontier(r, mu, cov, resolved, symbols)
    except OptimizationError as exc:
        raise _engine_error(exc) from exc
    return OptimizationOutcome(
        symbols=tuple(symbols),
        start=returns.index[0].date(),
        end=returns.index[-1].date(),
        observations=len(returns),
        expected_returns=mu,
        cov=cov,
        constraints=resolved,
        result=result,
        frontier=frontier,
        frontier_png=frontier_png(frontier) if frontier is not None and r.frontier_plot else None,
        frontier_constraints=frontier_resolved,
    )


def _request_check(r: OptimizationRequest, symbols: Sequence[str]) -> None:
    """The request's own numbers: a universe of 1..MAX_UNIVERSE, a finite rate, a frontier size."""
    if not symbols:
        raise ValidationFailed("give at least one symbol", code="empty", field="universe")
    if len(symbols) > MAX_UNIVERSE:
        raise ValidationFailed(f"at most {MAX_UNIVERSE} symbols", field="universe")
    if not math.isfinite(r.risk_free_rate):
        raise ValidationFailed("risk_free_rate must be finite", field="risk_free_rate")
    if r.frontier_points is not None and not 2 <= r.frontier_points <= MAX_FRONTIER_POINTS:
        raise ValidationFailed(
            f"frontier_points must be between 2 and {MAX_FRONTIER_POINTS}", field="frontier_points"
        )


def _universe_size_check(resolved: Constraints, symbols: Sequence[str]) -> None:
    """A mixed-integer solve (cardinality, minimum position) only on a universe it can finish."""
    if resolved.needs_mixed_integer and len(symbols) > MAX_MIXED_INTEGER_UNIVERSE:
        raise ValidationFailed(
            f"max_holdings and min_position need a mixed-integer solve; at most {MAX_MIXED_INTEGER_UNIVERSE} symbols",
            field="constraints.max_holdings"
            if resolved.max_holdings is not None
            else "constraints.min_position",
        )


def _optimize(
    r: OptimizationRequest, mu: pd.Series, cov: pd.DataFrame, returns: pd.DataFrame, resolved: Constraints
) -> OptimizationResult:
    """The engine's optimum for the request (CVaR scenarios: the last MAX_SCENARIOS days)."""
    engine_options = dict(r.options or {})
    if r.risk_tier is not None:
        engine_options["risk_tier"] = r.risk_tier
    return optimize(
        objective=r.objective,
        expected_returns=mu,
        cov=cov,
        returns=returns.iloc[-MAX_SCENARIOS:],
        constraints=resolved,
        risk_free_rate=r.risk_free_rate,
        target_return=r.target_return,
        target_volatility=r.target_volatility,
        risk_aversion=r.risk_aversion,
        views=list(r.views or []),
        current_weights=r.current_weights,
        **engine_options,
    )


def _request_frontier(
    r: OptimizationRequest, mu: pd.Series, cov: pd.DataFrame, resolved: Constraints, symbols: Sequence[str]
) -> tuple[Frontier | None, Constraints | None]:
    """The frontier the request asks for (none without ``frontier_points``) and its constraints."""
    if not r.frontier_points:
        return None, None
    frontier_resolved = (
        resolved
        if r.frontier_constraints is None
        else constraints_from_spec(spec=r.frontier_constraints, symbols=symbols)
    )
    return _frontier(
        mu,
        cov,
        frontier_resolved,
        r.frontier_points,
        r.risk_free_rate,
        r.current_weights,
        turnover_optional=r.frontier_turnover_optional,
    )


def _frontier(
    mu: pd.Series,
    cov: pd.DataFrame,
    constraints: Constraints,
    points: int,
    risk_free_rate: float,
    current_weights: Mapping[str, float] | None,
    *,
    turnover_optional: bool,
) -> tuple[Frontier, Constraints]:
    def build(c: Constraints) -> Frontier:
        return efficient_frontier(
            expected_returns=mu,
            cov=cov,
            constraints=c,
            points=points,
            risk_free_rate=risk_free_rate,
            current_weights=current_weights,
        )

    try:
        return build(constraints), constraints
    except InfeasibleConstraints:
        if not turnover_optional or constraints.max_turnover is None:
            raise
    # The cap is the autopilot's per-rebalance step (it trades toward a target in steps);
    # a frontier of portfolios one step can reach may not exist, the whole frontier does.
    relaxed = replace(constraints, max_turnover=None)
    return build(relaxed), relaxed
