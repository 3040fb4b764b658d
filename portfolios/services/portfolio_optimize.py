"""Optimizing one portfolio: defaults from its holdings, settings and owner, stored as a record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from common.errors import ApplicationError, Unprocessable
from portfolios.models import AutonomySettings, Portfolio, PortfolioOptimization, TargetAllocation
from portfolios.selectors import portfolio_state_get

if TYPE_CHECKING:
    from portfolios.services.optimization import OptimizationRequest


def _universe(portfolio: Portfolio) -> list[str]:
    held = portfolio.positions.filter(quantity__gt=0).values_list("asset__symbol", flat=True)
    targeted = TargetAllocation.objects.filter(portfolio=portfolio, asset__isnull=False).values_list(
        "asset__symbol", flat=True
    )
    return sorted(set(held) | set(targeted))


def _constraints(
    settings: AutonomySettings | None, given: Mapping[str, Any] | None, n_assets: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if settings is not None:
        from portfolios.selectors import policy_limits_get

        limits = policy_limits_get(portfolio=settings.portfolio, assets=[])  # the autopilot's limits
        # The optimizer invests everything but the buffer: a cap a small universe cannot
        # meet is loosened to an equal share (the autopilot's projection keeps the rest in cash).
        invested = 1.0 - float(settings.cash_buffer)
        out["max_position"] = max(limits.max_position, invested / max(n_assets, 1))
        if limits.max_holdings is not None:
            out["max_holdings"] = limits.max_holdings
        esg = settings.esg_constraints or {}
        if esg.get("excluded_flags"):
            out["exclude_esg_flags"] = list(esg["excluded_flags"])
        if esg.get("min_score") is not None:
            out["min_esg_score"] = esg["min_score"]
        out["cash_buffer"] = float(settings.cash_buffer)
    out.update(dict(given or {}))
    return out


def _frontier_constraints(
    settings: AutonomySettings | None, constraints: Mapping[str, Any], given: Mapping[str, Any]
) -> dict[str, Any]:
    """The frontier from the holdings: the portfolio's trading costs and turnover cap added.

    A request's own ``transaction_cost`` / ``max_turnover`` win; without autonomy settings
    there is nothing to add.
    """
    out = dict(constraints)
    if settings is None:
        return out
    from portfolios.selectors import policy_limits_get
    from portfolios.trading.costs import CostModel

    if "transaction_cost" not in given:
        costs = CostModel(commission_rate=settings.commission_rate, slippage_bps=settings.slippage_bps)
        out["transaction_cost"] = costs.proportional_rate
    limits = policy_limits_get(portfolio=settings.portfolio, assets=[])
    if "max_turnover" not in given and limits.max_turnover is not None:
        out["max_turnover"] = limits.max_turnover
    return out


def portfolio_optimize(
    *, portfolio: Portfolio, user: Any, params: Mapping[str, Any]
) -> tuple[PortfolioOptimization, dict[str, Any]]:
    """Run ``portfolios.services.optimization.optimization_run`` for ``portfolio`` and store it.

    ``params`` are the validated fields of the stateless optimize request; missing ones
    default from the portfolio (universe: holdings + targets; constraints: autonomy
    settings; risk tier: risk tolerance; current weights: holdings). The frontier
    (``frontier_points``) starts from the holdings and also counts the portfolio's trading
    costs (commission + slippage) and its turnover cap -- the cap only where some allowed
    portfolio lies within it. A failure is stored with status ``failed`` and re-raised.
    """
    from portfolios.apis.optimize import outcome_data  # the reply shape of POST optimize
    from portfolios.services.optimization import optimization_run

    settings = AutonomySettings.objects.filter(portfolio=portfolio).first()
    universe = _universe_given_or_held(portfolio, params)
    state = portfolio_state_get(portfolio=portfolio, as_of=params.get("end") or timezone.localdate())
    constraints = _constraints(settings, params.get("constraints"), len(universe))
    v = dict(params)
    record = PortfolioOptimization(
        portfolio=portfolio, user=user, objective=v.get("objective", "max_sharpe"), constraints=constraints
    )
    try:
        outcome = optimization_run(
            request=_request(v, settings, universe, constraints, record.objective, state.weights)
        )
    except ApplicationError as exc:
        record.status = PortfolioOptimization.Status.FAILED
        record.error = exc.message
        record.save()
        raise
    body = outcome_data(outcome, risk_free_rate=v.get("risk_free_rate", 0.0))
    record.weights = body["weights"]
    record.expected_return = body["expected_return"]
    record.volatility = body["volatility"]
    record.sharpe = body["sharpe_ratio"]
    record.status = PortfolioOptimization.Status.OPTIMAL
    record.save()
    return record, body


def _universe_given_or_held(portfolio: Portfolio, params: Mapping[str, Any]) -> list[str]:
    """The request's universe, else the portfolio's holdings and target symbols (422 when none)."""
    universe = list(params.get("universe") or _universe(portfolio))
    if not universe:
        raise Unprocessable(
            "the portfolio holds nothing and has no target symbols; give a universe",
            code="empty_universe",
            field="universe",
        )
    return universe


def _engine_options(v: Mapping[str, Any]) -> dict[str, Any]:
    """The objective's options of the request, at the stateless endpoint's defaults."""
    return {
        "kelly_fraction": v.get("kelly_fraction", 0.5),
        "cvar_beta": v.get("cvar_beta", 0.95),
        **({"risk_budgets": v["risk_budgets"]} if v.get("risk_budgets") else {}),
        **({"market_weights": v["market_weights"]} if v.get("market_weights") else {}),
        **dict(v.get("objective_weights") or {}),
    }


def _request(
    v: Mapping[str, Any],
    settings: AutonomySettings | None,
    universe: list[str],
    constraints: dict[str, Any],
    objective: str,
    held: Mapping[str, float],
) -> OptimizationRequest:
    """The optimization of ``universe``: the request's fields, else the portfolio's defaults
    (current weights: the holdings in the universe; risk tier: the risk tolerance)."""
    from portfolios.services.optimization import OptimizationRequest

    return OptimizationRequest(
        symbols=universe,
        start=v.get("start"),
        end=v.get("end"),
        expected_returns=v.get("expected_returns", "mean_historical"),
        risk_model=v.get("risk_model", "sample_cov"),
        objective=objective,
        constraints=constraints,
        risk_free_rate=v.get("risk_free_rate", 0.0),
        target_return=v.get("target_return"),
        target_volatility=v.get("target_volatility"),
        views=v.get("views"),
        frontier_points=v.get("frontier_points"),
        current_weights=v.get("current_weights") or {s: w for s, w in held.items() if s in universe},
        risk_tier=v.get("risk_tier") or (settings.risk_tolerance if settings else None),
        risk_aversion=v.get("risk_aversion"),
        frontier_plot=v.get("frontier_plot", False),
        options=_engine_options(v),
        frontier_constraints=_frontier_constraints(settings, constraints, v.get("constraints") or {})
        if v.get("frontier_points")
        else None,
        frontier_turnover_optional="max_turnover" not in (v.get("constraints") or {}),
    )
