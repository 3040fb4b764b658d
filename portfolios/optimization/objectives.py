"""The objectives behind :func:`.optimizer.optimize`, one function each.

``min_volatility``; ``max_sharpe`` (Cornuejols-Tutuncu homogenisation, or Dinkelbach's
iteration on a mixed-integer SOCP under cardinality / minimum positions);
``efficient_return``; ``efficient_risk``; ``max_utility``; ``kelly`` (fractional);
``min_cvar`` (Rockafellar-Uryasev); ``multi_objective`` (documented weights in
``MULTI_OBJECTIVE_DEFAULTS``); ``black_litterman``; ``risk_parity`` and ``hrp``.

Transaction costs (``Constraints.transaction_cost``): the risk-minimising objectives
(``min_volatility``, ``efficient_return``, ``min_cvar``) minimise risk plus the cost, as
PyPortfolioOpt's ``objective_functions.transaction_cost``; the others charge it against
expected return; ``risk_parity`` and ``hrp`` refuse it (:class:`UnsupportedOptions`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import cvxpy as cp
import numpy as np
import pandas as pd

from .constraints import Constraints
from .diagnosis import diagnose
from .exceptions import InfeasibleConstraints, OptimizationError, UnsupportedOptions
from .problem import (
    Inputs,
    clean_weights,
    cvar_expression,
    linear_constraints,
    net_return,
    nonlinear_constraints,
    plus_transaction_cost,
    require_scenarios,
    result_from_weights,
    transaction_cost,
    variance,
    verifier,
    violations,
)
from .results import OptimizationResult
from .solvers import ProblemInfeasible, solve

# Defaults of the objectives' options (optimize() treats an option at its default as not set).
KELLY_FRACTION = 0.5  # kelly: half Kelly
CVAR_BETA = 0.95  # min_cvar, multi_objective: CVaR level of the daily losses
DRAWDOWN_HORIZON = 21  # multi_objective: days of the cumulative losses of the drawdown proxy
TAU = 0.05  # black_litterman: uncertainty of the prior, a fraction of the covariance
# black_litterman: what it optimizes the posterior for (the first is the default)
BL_OBJECTIVES = ("max_sharpe", "max_utility")

# Documented defaults of the multi-objective weights (options of the same names).
MULTI_OBJECTIVE_DEFAULTS: dict[str, float] = {
    "return_weight": 1.0,  # x annualised expected return
    "variance_weight": -1.0,  # x annualised variance; -1 means risk_aversion / 2 (tier)
    "cvar_weight": 0.0,  # x daily historical CVaR (loss, beta = cvar_beta)
    "drawdown_weight": 0.0,  # x CVaR of 21-day cumulative losses: a drawdown proxy
    "turnover_weight": 0.0,  # x sum |w - current_weights|, on top of transaction costs
}


def _solve_for(
    inp: Inputs,
    w: cp.Variable,
    problem: cp.Problem,
    objective: str,
    *,
    budget_equality: bool = True,
    scale_var=None,
    diagnose_with: dict | None = None,
) -> tuple[np.ndarray, str, str]:
    try:
        solver = solve(
            problem, verify=verifier(w, inp, budget_equality=budget_equality, scale_var=scale_var)
        )
    except ProblemInfeasible:
        raise InfeasibleConstraints(diagnose(inp, objective, **(diagnose_with or {}))) from None
    weights = np.asarray(w.value, dtype=float)
    if scale_var is not None:
        weights = weights / float(scale_var.value)
    return clean_weights(weights, inp), solver, str(problem.status)


def min_volatility(inp: Inputs) -> OptimizationResult:
    w = cp.Variable(inp.n)
    problem = cp.Problem(
        cp.Minimize(plus_transaction_cost(variance(w, inp), w, inp)),
        linear_constraints(w, inp.form) + nonlinear_constraints(w, inp),
    )
    weights, solver, status = _solve_for(inp, w, problem, "min_volatility")
    return result_from_weights(weights, inp, "min_volatility", solver, status)


def efficient_return(inp: Inputs, *, target_return: float | None) -> OptimizationResult:
    if target_return is None:
        raise OptimizationError("efficient_return needs target_return", field="target_return")
    w = cp.Variable(inp.n)
    cons = (
        linear_constraints(w, inp.form)
        + nonlinear_constraints(w, inp)
        + [net_return(w, inp, inp.expected) >= target_return]
    )
    # The target is net of costs, and the costs are also minimised with the variance: with a
    # target that does not bind this is min_volatility, which trades only when it pays.
    problem = cp.Problem(cp.Minimize(plus_transaction_cost(variance(w, inp), w, inp)), cons)
    weights, solver, status = _solve_for(
        inp, w, problem, "efficient_return", diagnose_with={"target_return": target_return}
    )
    return result_from_weights(weights, inp, "efficient_return", solver, status)


def efficient_risk(inp: Inputs, *, target_volatility: float | None) -> OptimizationResult:
    if target_volatility is None or target_volatility <= 0:
        raise OptimizationError(
            "efficient_risk needs a positive target_volatility", field="target_volatility"
        )
    w = cp.Variable(inp.n)
    cons = (
        linear_constraints(w, inp.form)
        + nonlinear_constraints(w, inp)
        + [variance(w, inp) <= target_volatility**2]
    )
    problem = cp.Problem(cp.Maximize(net_return(w, inp, inp.expected)), cons)
    weights, solver, status = _solve_for(
        inp, w, problem, "efficient_risk", diagnose_with={"target_volatility": target_volatility}
    )
    return result_from_weights(weights, inp, "efficient_risk", solver, status)


def max_utility(inp: Inputs, *, risk_aversion: float) -> OptimizationResult:
    w = cp.Variable(inp.n)
    objective = cp.Maximize(net_return(w, inp, inp.expected) - 0.5 * risk_aversion * variance(w, inp))
    problem = cp.Problem(objective, linear_constraints(w, inp.form) + nonlinear_constraints(w, inp))
    weights, solver, status = _solve_for(inp, w, problem, "max_utility")
    return result_from_weights(
        weights, inp, "max_utility", solver, status, risk_aversion=risk_aversion
    )


def kelly(inp: Inputs, *, kelly_fraction: float = KELLY_FRACTION) -> OptimizationResult:
    """Fractional Kelly: maximise ``(mu - rf)'w - w'Sigma w / (2 f)``, uninvested weight in cash.

    With ``f = 1`` this is the growth-optimal (full Kelly) allocation of the continuous-time
    approximation; ``f = 0.5`` (half Kelly) is the default. No leverage: ``sum(w) <= 1 - cash_buffer``.
    """
    w = cp.Variable(inp.n)
    excess = inp.expected - inp.risk_free_rate
    objective = cp.Maximize(net_return(w, inp, excess) - variance(w, inp) / (2 * kelly_fraction))
    cons = linear_constraints(w, inp.form, budget_equality=False) + nonlinear_constraints(w, inp)
    problem = cp.Problem(objective, cons)
    weights, solver, status = _solve_for(inp, w, problem, "kelly", budget_equality=False)
    return result_from_weights(
        weights,
        inp,
        "kelly",
        solver,
        status,
        kelly_fraction=kelly_fraction,
        cash_weight=float(1.0 - weights.sum()),
    )


def min_cvar(
    inp: Inputs, *, target_return: float | None = None, cvar_beta: float = CVAR_BETA
) -> OptimizationResult:
    scenarios = require_scenarios(inp, "min_cvar")
    w = cp.Variable(inp.n)
    cvar, cons = cvar_expression(w, scenarios, cvar_beta)
    cons += linear_constraints(w, inp.form) + nonlinear_constraints(w, inp)
    if target_return is not None:
        if inp.mu is None:
            raise OptimizationError(
                "a target_return needs expected returns", field="expected_returns"
            )
        cons.append(net_return(w, inp, inp.mu) >= target_return)
    problem = cp.Problem(cp.Minimize(plus_transaction_cost(cvar, w, inp)), cons)
    weights, solver, status = _solve_for(
        inp, w, problem, "min_cvar", diagnose_with={"target_return": target_return}
    )
    losses = -scenarios @ weights
    return result_from_weights(
        weights,
        inp,
        "min_cvar",
        solver,
        status,
        cvar=_historical_cvar(losses, cvar_beta),
        cvar_beta=cvar_beta,
    )


def _historical_cvar(losses: np.ndarray, beta: float) -> float:
    """Rockafellar-Uryasev CVaR of equally likely ``losses`` (the LP's optimal value)."""
    var = float(np.quantile(losses, beta, method="inverted_cdf"))
    return var + float(np.clip(losses - var, 0, None).sum()) / ((1 - beta) * len(losses))


def multi_objective(
    inp: Inputs,
    *,
    risk_aversion: float,
    cvar_beta: float = CVAR_BETA,
    drawdown_horizon: int = DRAWDOWN_HORIZON,
    return_weight: float = MULTI_OBJECTIVE_DEFAULTS["return_weight"],
    variance_weight: float = MULTI_OBJECTIVE_DEFAULTS["variance_weight"],
    cvar_weight: float = MULTI_OBJECTIVE_DEFAULTS["cvar_weight"],
    drawdown_weight: float = MULTI_OBJECTIVE_DEFAULTS["drawdown_weight"],
    turnover_weight: float = MULTI_OBJECTIVE_DEFAULTS["turnover_weight"],
) -> OptimizationResult:
    """Maximise a documented weighted sum (see ``MULTI_OBJECTIVE_DEFAULTS``) net of costs.

    The weights are checked (>= 0) by ``registry.MultiObjectiveOptions``; a negative
    ``variance_weight`` means ``risk_aversion / 2``.
    """
    weights_of = _objective_weights(
        risk_aversion,
        return_weight=return_weight,
        variance_weight=variance_weight,
        cvar_weight=cvar_weight,
        drawdown_weight=drawdown_weight,
        turnover_weight=turnover_weight,
    )
    _refuse_unused_tail_options(weights_of, cvar_beta, drawdown_horizon)
    w = cp.Variable(inp.n)
    cons = linear_constraints(w, inp.form) + nonlinear_constraints(w, inp)
    score = weights_of["return_weight"] * net_return(w, inp, inp.expected)
    score -= weights_of["variance_weight"] * variance(w, inp)
    if weights_of["turnover_weight"]:
        score -= weights_of["turnover_weight"] * cp.norm1(w - inp.current)
    if weights_of["cvar_weight"]:
        daily = require_scenarios(inp, "multi_objective (cvar_weight)")
        cvar, extra = cvar_expression(w, daily, cvar_beta)
        score -= weights_of["cvar_weight"] * cvar
        cons += extra
    if weights_of["drawdown_weight"]:
        daily = require_scenarios(inp, "multi_objective (drawdown_weight)")
        cvar, extra = cvar_expression(w, _drawdown_scenarios(daily, drawdown_horizon), cvar_beta)
        score -= weights_of["drawdown_weight"] * cvar
        cons += extra
    problem = cp.Problem(cp.Maximize(score), cons)
    weights, solver, status = _solve_for(inp, w, problem, "multi_objective")
    return result_from_weights(
        weights, inp, "multi_objective", solver, status, objective_weights=weights_of
    )


def _objective_weights(risk_aversion: float, **given: float) -> dict[str, float]:
    """The multi-objective weights as floats, in ``MULTI_OBJECTIVE_DEFAULTS``' order; a
    negative ``variance_weight`` becomes ``risk_aversion / 2``."""
    weights_of = {name: float(given[name]) for name in MULTI_OBJECTIVE_DEFAULTS}
    if weights_of["variance_weight"] < 0:
        weights_of["variance_weight"] = risk_aversion / 2
    return weights_of


def _refuse_unused_tail_options(
    weights_of: dict[str, float], cvar_beta: float, drawdown_horizon: int
) -> None:
    """A CVaR level or drawdown horizon set away from its default without a term that reads it."""
    uses_cvar = bool(weights_of["cvar_weight"] or weights_of["drawdown_weight"])
    if cvar_beta != CVAR_BETA and not uses_cvar:
        raise UnsupportedOptions(
            "cvar_beta is not used by multi_objective without a cvar_weight or drawdown_weight",
            field="cvar_beta",
        )
    if drawdown_horizon != DRAWDOWN_HORIZON and not weights_of["drawdown_weight"]:
        raise UnsupportedOptions(
            "drawdown_horizon is not used by multi_objective without a drawdown_weight",
            field="drawdown_horizon",
        )


def _drawdown_scenarios(daily: np.ndarray, horizon: int) -> np.ndarray:
    """Compounded returns of every ``horizon``-day window of ``daily``: the scenarios of the
    drawdown proxy (at least 20 windows)."""
    if not 1 <= horizon <= len(daily) - 19:
        raise OptimizationError(
            f"drawdown_horizon must be between 1 and {len(daily) - 19} days for "
            f"{len(daily)} days of returns (at least 20 windows)",
            field="drawdown_horizon",
        )
    windows = np.lib.stride_tricks.sliding_window_view(
        np.log1p(daily), horizon, axis=0
    ).sum(axis=2)
    return np.expm1(windows)


def max_sharpe(inp: Inputs, *, objective_name: str = "max_sharpe") -> OptimizationResult:
    excess = inp.expected - inp.risk_free_rate
    if inp.constraints.needs_mixed_integer:
        return _max_sharpe_dinkelbach(inp, excess, objective_name)
    if inp.constraints.is_linear:
        # Exact and fast: walk the frontier's parametric path up to the tangency portfolio.
        from .frontier import PathError, tangency_portfolio

        try:
            weights = tangency_portfolio(inp)
        except PathError:
            weights = None
        if weights is not None and not violations(weights, inp):
            return result_from_weights(
                clean_weights(weights, inp), inp, objective_name, "parametric_qp"
            )
    # Cornuejols & Tutuncu: with y = k w, k > 0, max Sharpe is min y'Sigma y s.t. excess'y = 1,
    # every linear constraint homogenised by k; the turnover cap stays convex in (y, k).
    y = cp.Variable(inp.n)
    k = cp.Variable(nonneg=True)
    cons = (
        linear_constraints(y, inp.form, k)
        + nonlinear_constraints(y, inp, k)
        + [net_return(y, inp, excess, k) >= 1]
    )
    problem = cp.Problem(cp.Minimize(variance(y, inp)), cons)
    weights, solver, status = _solve_for(inp, y, problem, objective_name, scale_var=k)
    return result_from_weights(weights, inp, objective_name, solver, status)


def _max_sharpe_dinkelbach(
    inp: Inputs, excess: np.ndarray, objective_name: str
) -> OptimizationResult:
    """Dinkelbach's parametric iteration: maximise ``excess'w - S sigma(w)``, S <- Sharpe(w)."""
    eigenvalues, vectors = np.linalg.eigh(inp.sigma)
    factor = (vectors * np.sqrt(np.clip(eigenvalues, 0, None))).T
    w = cp.Variable(inp.n)
    level = cp.Parameter(nonneg=True, value=0.0)
    cons = linear_constraints(w, inp.form) + nonlinear_constraints(w, inp)
    problem = cp.Problem(
        cp.Maximize(net_return(w, inp, excess) - level * cp.norm(factor @ w)), cons
    )
    sharpe, weights, solver, status = -np.inf, None, "", ""
    for _ in range(30):
        candidate, solver, status = _solve_for(inp, w, problem, objective_name)
        vol = float(np.sqrt(candidate @ inp.sigma @ candidate))
        net = float(excess @ candidate) - transaction_cost(candidate, inp)
        new_sharpe = net / vol if vol > 0 else -np.inf
        if weights is not None and new_sharpe <= sharpe + 1e-10:
            break
        sharpe, weights = new_sharpe, candidate
        level.value = max(sharpe, 0.0)
        if sharpe <= 0:
            break
    if sharpe <= 0 or weights is None:  # no candidate improved on -inf: no positive Sharpe ratio
        raise InfeasibleConstraints(diagnose(inp, "max_sharpe"))
    return result_from_weights(weights, inp, objective_name, solver, status, method="dinkelbach")


def black_litterman(
    inp: Inputs,
    *,
    views: Any,
    risk_aversion: float,
    market_weights: Any = None,
    tau: float = TAU,
    bl_objective: str = BL_OBJECTIVES[0],
) -> OptimizationResult:
    """Optimize the Black-Litterman posterior (``bl_objective`` checked by its options class)."""
    from .black_litterman import black_litterman_posterior

    posterior_mu, posterior_cov = black_litterman_posterior(
        cov=pd.DataFrame(inp.sigma, index=inp.symbols, columns=inp.symbols),
        views=views or [],
        market_weights=market_weights,
        risk_aversion=risk_aversion,
        risk_free_rate=inp.risk_free_rate,
        tau=float(tau),
    )
    posterior = replace(inp, mu=posterior_mu.to_numpy(), sigma=posterior_cov.to_numpy())
    if bl_objective == "max_utility":
        result = max_utility(posterior, risk_aversion=risk_aversion)
    else:
        result = max_sharpe(posterior, objective_name="black_litterman")
    result.details["posterior_returns"] = {s: float(v) for s, v in posterior_mu.items()}
    return OptimizationResult(
        result.weights,
        result.expected_return,
        result.volatility,
        result.sharpe_ratio,
        "black_litterman",
        result.solver,
        result.status,
        result.details,
    )


def risk_parity(inp: Inputs, *, risk_budgets: Any = None) -> OptimizationResult:
    """Risk budgeting, equal budgets by default (``risk_budgets``: symbol -> budget)."""
    return budgeted(inp, "risk_parity", risk_budgets=risk_budgets)


def hrp(inp: Inputs) -> OptimizationResult:
    """Hierarchical risk parity."""
    return budgeted(inp, "hrp")


def budgeted(inp: Inputs, objective: str, *, risk_budgets: Any = None) -> OptimizationResult:
    """Risk parity (``objective="risk_parity"``) or HRP on the eligible symbols (upper bound > 0)."""
    _refuse_what_budgeting_cannot_honour(inp.constraints, objective)
    eligible = inp.form.upper > 0
    sub = inp.sigma[np.ix_(eligible, eligible)]
    names = [s for s, e in zip(inp.symbols, eligible, strict=True) if e]
    details: dict[str, Any] = {}
    if objective == "risk_parity":
        sub_weights, solver = _risk_parity_weights(inp, sub, names, risk_budgets), "newton"
    else:
        sub_weights, details["cluster_order"] = _hrp_weights(inp, sub, names)
        solver = "hrp"
    weights = np.zeros(inp.n)
    weights[eligible] = sub_weights * inp.form.budget
    _refuse_broken_limits(weights, inp, objective)
    details["risk_contributions"] = _risk_contributions(weights, inp)
    return result_from_weights(weights, inp, objective, solver, **details)


def _refuse_what_budgeting_cannot_honour(c: Constraints, objective: str) -> None:
    if not c.long_only:
        raise UnsupportedOptions(
            f"{objective} builds long-only portfolios; set long_only", field="constraints.long_only"
        )
    if c.transaction_cost:
        # A heuristic with no objective has nothing to charge a cost to, and scaling its
        # answer toward the current weights would no longer be risk parity / HRP.
        raise UnsupportedOptions(
            f"transaction_cost is not supported by {objective}, which sets weights from risk "
            "alone; use min_volatility, min_cvar or max_utility, which charge it",
            field="constraints.transaction_cost",
        )
    if c.needs_mixed_integer or c.max_turnover is not None:
        raise UnsupportedOptions(
            f"{objective} cannot honour max_holdings, min_position or a turnover cap; use an optimizer objective",
            field="constraints",
        )


def _risk_parity_weights(
    inp: Inputs, sub: np.ndarray, names: list[str], budgets: Any
) -> np.ndarray:
    """Risk-budgeting weights of the eligible ``names`` (equal budgets when none are given)."""
    from .risk_parity import risk_budget_weights

    unknown = sorted(set(budgets.keys() if budgets is not None else ()) - set(inp.symbols))
    if unknown:
        raise OptimizationError(
            f"risk_budgets name symbols outside the universe: {', '.join(unknown[:5])}",
            field="risk_budgets",
        )
    b = (
        np.ones(len(names))
        if budgets is None
        else np.array([float(budgets.get(s, 0.0)) for s in names])
    )
    if (b <= 0).any():
        raise OptimizationError(
            "risk_budgets must give every eligible symbol a positive budget",
            field="risk_budgets",
        )
    return risk_budget_weights(sub, b / b.sum())


def _hrp_weights(inp: Inputs, sub: np.ndarray, names: list[str]) -> tuple[np.ndarray, Any]:
    """HRP weights of the eligible ``names`` and the cluster order."""
    from .risk_parity import hrp_allocation, pairwise_correlation

    # Cluster on the correlation of the returns given (pairwise-complete, like
    # PyPortfolioOpt's HRPOpt), else on the covariance's own.
    corr = None if inp.returns is None else pairwise_correlation(inp.returns[names])
    allocation, order = hrp_allocation(pd.DataFrame(sub, index=names, columns=names), corr)
    return allocation.to_numpy(), order


def _refuse_broken_limits(weights: np.ndarray, inp: Inputs, objective: str) -> None:
    broken = violations(weights, inp)
    if broken:
        raise InfeasibleConstraints(
            [
                f"{objective} weights break {b} ({objective} sets weights from risk alone and cannot "
                "honour these limits; use min_volatility or relax them)"
                for b in broken[:5]
            ]
        )


def _risk_contributions(weights: np.ndarray, inp: Inputs) -> dict[str, float]:
    """Each symbol's share of the portfolio variance (they sum to 1)."""
    portfolio_var = weights @ inp.sigma @ weights
    contributions = weights * (inp.sigma @ weights) / portfolio_var
    return {s: float(v) for s, v in zip(inp.symbols, contributions, strict=True)}
