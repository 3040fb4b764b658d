"""``optimize``: every objective behind one call, on aligned numpy inputs.

Objectives (``OBJECTIVES``): ``min_volatility``; ``max_sharpe`` (Cornuejols-Tutuncu
homogenisation, or Dinkelbach's iteration on a mixed-integer SOCP when cardinality or
minimum positions are asked); ``efficient_return`` (min variance at a target return);
``efficient_risk`` (max return at a target volatility); ``max_utility`` (``mu'w -
delta/2 w'Sigma w``, delta from the risk tier); ``min_cvar`` (Rockafellar-Uryasev over
historical scenarios); ``risk_parity`` (risk budgeting); ``hrp``; ``black_litterman``;
``multi_objective``; ``kelly`` (fractional). Constraints are compiled by
:mod:`.constraints`; solvers are called through :mod:`.solvers` with a fallback chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np
import pandas as pd

from .constraints import Constraints, LinearForm, compile_constraints, weights_vector
from .estimators import TRADING_DAYS_PER_YEAR, fix_nonpositive_semidefinite
from .exceptions import InfeasibleConstraints, OptimizationError, UnsupportedOptions
from .results import OptimizationResult
from .solvers import ProblemInfeasible, solve
from .tiers import risk_aversion_for_tier

OBJECTIVES = (
    "min_volatility",
    "max_sharpe",
    "efficient_return",
    "efficient_risk",
    "max_utility",
    "min_cvar",
    "risk_parity",
    "hrp",
    "black_litterman",
    "multi_objective",
    "kelly",
)
NEEDS_EXPECTED_RETURNS = {
    "max_sharpe",
    "efficient_return",
    "efficient_risk",
    "max_utility",
    "multi_objective",
    "kelly",
}
NEEDS_SCENARIOS = {"min_cvar"}
HOLDING_THRESHOLD = 1e-7

# Documented defaults of the multi-objective weights (options of the same names).
MULTI_OBJECTIVE_DEFAULTS: dict[str, float] = {
    "return_weight": 1.0,  # x annualised expected return
    "variance_weight": -1.0,  # x annualised variance; -1 means risk_aversion / 2 (tier)
    "cvar_weight": 0.0,  # x daily historical CVaR (loss, beta = cvar_beta)
    "drawdown_weight": 0.0,  # x CVaR of 21-day cumulative losses: a drawdown proxy
    "turnover_weight": 0.0,  # x sum |w - current_weights|, on top of transaction costs
}


@dataclass
class Inputs:
    """Aligned inputs: every array follows ``symbols``."""

    symbols: tuple[str, ...]
    mu: np.ndarray | None
    sigma: np.ndarray
    scenarios: np.ndarray | None
    constraints: Constraints
    form: LinearForm
    current: np.ndarray
    risk_free_rate: float

    @property
    def n(self) -> int:
        return len(self.symbols)


def _align_inputs(
    expected_returns: pd.Series | None,
    cov: pd.DataFrame | None,
    returns: pd.DataFrame | None,
    constraints: Constraints | None,
    current_weights: Mapping[str, float] | pd.Series | None,
    risk_free_rate: float,
    frequency: int,
) -> Inputs:
    if cov is not None:
        symbols = tuple(str(s) for s in cov.index)
        if list(cov.columns) != list(cov.index):
            raise OptimizationError(
                "the covariance matrix must have the same symbols on both axes", field="risk_model"
            )
    elif returns is not None:
        symbols = tuple(str(s) for s in returns.columns)
        cov = returns.cov() * frequency
    elif expected_returns is not None:
        raise OptimizationError(
            "a covariance matrix (or returns to estimate one) is required", field="risk_model"
        )
    else:
        raise OptimizationError("no inputs: give expected returns, a covariance matrix or returns")
    if len(symbols) == 0:
        raise OptimizationError("the universe is empty", field="universe")
    if len(set(symbols)) != len(symbols):
        raise OptimizationError("the universe lists a symbol twice", field="universe")
    sigma = fix_nonpositive_semidefinite(cov.astype(float)).to_numpy()
    mu = None
    if expected_returns is not None:
        missing = [s for s in symbols if s not in expected_returns.index]
        if missing:
            raise OptimizationError(
                f"expected returns are missing for {', '.join(missing[:5])}",
                field="expected_returns",
            )
        mu = expected_returns.reindex(list(symbols)).to_numpy(dtype=float)
        if not np.isfinite(mu).all():
            raise OptimizationError(
                "expected returns must be finite numbers", field="expected_returns"
            )
    scenarios = None
    if returns is not None:
        missing = [s for s in symbols if s not in returns.columns]
        if missing:
            raise OptimizationError(
                f"returns are missing for {', '.join(missing[:5])}", field="returns"
            )
        scenarios = returns[list(symbols)].dropna(how="any").to_numpy(dtype=float)
    c = constraints or Constraints()
    current = weights_vector(current_weights, symbols)
    form = compile_constraints(c, symbols, current_weights=current)
    return Inputs(symbols, mu, sigma, scenarios, c, form, current, float(risk_free_rate))


# ---------------------------------------------------------------------------- building blocks


def _linear(
    w: cp.Variable, form: LinearForm, scale: Any = 1.0, *, budget_equality: bool = True
) -> list:
    cons = [w >= form.lower * scale, w <= form.upper * scale]
    cons.append(
        cp.sum(w) == form.budget * scale if budget_equality else cp.sum(w) <= form.budget * scale
    )
    if len(form.h):
        cons.append(form.G @ w <= form.h * scale)
    return cons


def _nonlinear(w: cp.Variable, inp: Inputs, scale: Any = 1.0) -> list:
    c = inp.constraints
    cons = []
    if c.max_turnover is not None:
        cons.append(cp.norm1(w - inp.current * scale) <= c.max_turnover * scale)
    if c.needs_mixed_integer:
        if not c.long_only:
            raise UnsupportedOptions(
                "max_holdings and min_position need long-only weights",
                field="constraints.long_only",
            )
        held = cp.Variable(inp.n, boolean=True)
        cons.append(w <= cp.multiply(np.maximum(inp.form.upper, 0), held))
        if c.min_position:
            cons.append(w >= c.min_position * held)
        if c.max_holdings is not None:
            cons.append(cp.sum(held) <= c.max_holdings)
    return cons


def _net_return(w: cp.Variable, inp: Inputs, mu: np.ndarray, scale: Any = 1.0) -> cp.Expression:
    expr = mu @ w
    if inp.constraints.transaction_cost:
        expr = expr - inp.constraints.transaction_cost * cp.norm1(w - inp.current * scale)
    return expr


def _variance(w: cp.Variable, inp: Inputs) -> cp.Expression:
    return cp.quad_form(w, cp.psd_wrap(inp.sigma))


def _cvar(w: cp.Variable, scenarios: np.ndarray, beta: float) -> tuple[cp.Expression, list]:
    """Rockafellar-Uryasev CVaR of the scenario losses ``-scenarios @ w`` at level ``beta``."""
    var = cp.Variable()
    excess = cp.Variable(len(scenarios), nonneg=True)
    cons = [excess >= -scenarios @ w - var]
    return var + cp.sum(excess) / ((1 - beta) * len(scenarios)), cons


def _require_scenarios(inp: Inputs, objective: str) -> np.ndarray:
    if inp.scenarios is None or len(inp.scenarios) < 20:
        raise OptimizationError(
            f"{objective} needs at least 20 days of returns as scenarios", field="returns"
        )
    return inp.scenarios


def _verifier(w: cp.Variable, inp: Inputs, *, budget_equality: bool = True, scale_var=None):
    def verify() -> list[str]:
        if w.value is None:
            return ["no solution values"]
        weights = np.asarray(w.value, dtype=float)
        if scale_var is not None:
            k = float(scale_var.value or 0.0)
            if k <= 0:
                return ["degenerate scaling"]
            weights = weights / k
        return _violations(weights, inp, budget_equality=budget_equality)

    return verify


def _violations(
    weights: np.ndarray, inp: Inputs, *, budget_equality: bool = True, tol: float = 1e-6
) -> list[str]:
    form = inp.form
    found = form.violations(weights, tol)
    if not budget_equality:
        found = [f for f in found if not f.startswith("weights sum to")]
        if weights.sum() > form.budget + tol:
            found.append(f"weights sum to {weights.sum():.6g}, above {form.budget:.6g}")
    c = inp.constraints
    if c.max_turnover is not None:
        turnover = float(np.abs(weights - inp.current).sum())
        if turnover > c.max_turnover + tol:
            found.append(f"turnover {turnover:.6g} above the cap {c.max_turnover:.6g}")
    held = np.abs(weights) > HOLDING_THRESHOLD
    if c.max_holdings is not None and held.sum() > c.max_holdings:
        found.append(f"{int(held.sum())} holdings, more than max_holdings {c.max_holdings}")
    if c.min_position:
        small = weights[held] < c.min_position - tol
        if small.any():
            found.append(f"{int(small.sum())} positions below min_position {c.min_position}")
    return found


def _clean(weights: np.ndarray, inp: Inputs) -> np.ndarray:
    weights = np.clip(np.asarray(weights, dtype=float), inp.form.lower, inp.form.upper)
    weights[np.abs(weights) < 1e-10] = 0.0
    if inp.constraints.needs_mixed_integer:
        weights[np.abs(weights) < HOLDING_THRESHOLD] = 0.0
    return weights


def _result(
    weights: np.ndarray,
    inp: Inputs,
    objective: str,
    solver: str,
    status: str = "optimal",
    **details: Any,
) -> OptimizationResult:
    volatility = float(np.sqrt(max(weights @ inp.sigma @ weights, 0.0)))
    expected = sharpe = None
    if inp.mu is not None:
        expected = float(inp.mu @ weights + inp.risk_free_rate * (1.0 - weights.sum()))
        sharpe = (expected - inp.risk_free_rate) / volatility if volatility > 0 else 0.0
    return OptimizationResult(
        weights=pd.Series(weights, index=list(inp.symbols), name="weight"),
        expected_return=expected,
        volatility=volatility,
        sharpe_ratio=sharpe,
        objective=objective,
        solver=solver,
        status=status,
        details=details,
    )


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
            problem, verify=_verifier(w, inp, budget_equality=budget_equality, scale_var=scale_var)
        )
    except ProblemInfeasible:
        raise InfeasibleConstraints(diagnose(inp, objective, **(diagnose_with or {}))) from None
    weights = np.asarray(w.value, dtype=float)
    if scale_var is not None:
        weights = weights / float(scale_var.value)
    return _clean(weights, inp), solver, str(problem.status)


# ---------------------------------------------------------------------------- diagnosis


def _extreme(inp: Inputs, sense: str) -> float | None:
    """Max expected return (``sense="max_return"``) or min volatility under the constraints."""
    w = cp.Variable(inp.n)
    cons = _linear(w, inp.form) + _nonlinear(w, inp)
    if sense == "max_return":
        problem = cp.Problem(cp.Maximize(_net_return(w, inp, inp.mu)), cons)
    else:
        problem = cp.Problem(cp.Minimize(_variance(w, inp)), cons)
    try:
        solve(problem)
    except (ProblemInfeasible, OptimizationError):
        return None
    if sense == "max_return":
        return float(problem.value)
    return float(np.sqrt(max(problem.value, 0.0)))


def diagnose(
    inp: Inputs,
    objective: str,
    *,
    target_return: float | None = None,
    target_volatility: float | None = None,
) -> list[str]:
    """Sentences naming what makes the problem infeasible, found by re-solving relaxations."""
    if not _feasible(inp, inp.constraints):
        return _constraint_conflicts(inp)
    if target_return is not None and inp.mu is not None:
        best = _extreme(inp, "max_return")
        if best is not None and target_return > best:
            return [
                f"target_return {target_return:.6g} is above {best:.6g}, the highest expected return "
                "the constraints allow; use a lower target"
            ]
    if target_volatility is not None:
        least = _extreme(inp, "min_volatility")
        if least is not None and target_volatility < least:
            return [
                f"target_volatility {target_volatility:.6g} is below {least:.6g}, the lowest volatility "
                "the constraints allow; use a higher target"
            ]
    if objective in ("max_sharpe", "black_litterman") and inp.mu is not None:
        best = _extreme(inp, "max_return")
        return [
            f"no portfolio within the constraints has an expected return above the risk-free rate "
            f"{inp.risk_free_rate:.6g} (the best is {best if best is None else round(best, 6)})"
        ]
    return ["the solver found no portfolio satisfying the constraints and the objective's targets"]


def _feasible(inp: Inputs, c: Constraints) -> bool:
    relaxed = Inputs(
        inp.symbols,
        inp.mu,
        inp.sigma,
        None,
        c,
        _form_or_none(c, inp) or inp.form,
        inp.current,
        inp.risk_free_rate,
    )
    w = cp.Variable(inp.n)
    problem = cp.Problem(cp.Minimize(0), _linear(w, relaxed.form) + _nonlinear(w, relaxed))
    try:
        solve(problem)
    except ProblemInfeasible:
        return False
    except OptimizationError:
        return True  # cannot tell; let the caller report the generic failure
    return True


def _form_or_none(c: Constraints, inp: Inputs) -> LinearForm | None:
    try:
        return compile_constraints(c, inp.symbols, current_weights=inp.current)
    except InfeasibleConstraints:
        return None


_RELAXATIONS: tuple[tuple[str, dict], ...] = (
    ("the turnover cap", {"max_turnover": None}),
    ("max_holdings", {"max_holdings": None}),
    ("min_position", {"min_position": None}),
    ("the asset-class limits", {"asset_class_min": {}, "asset_class_max": {}}),
    ("the sector limits", {"sector_min": {}, "sector_max": {}}),
    ("max_position", {"max_position": None}),
)


def _constraint_conflicts(inp: Inputs) -> list[str]:
    from dataclasses import replace

    c = inp.constraints
    present = [
        (name, change)
        for name, change in _RELAXATIONS
        if any(getattr(c, key) not in (None, {}, 0, 0.0) for key in change)
    ]
    culprits = [name for name, change in present if _feasible(inp, replace(c, **change))]
    if culprits:
        return [
            f"{name} cannot be met together with the other constraints (dropping it makes them feasible)"
            for name in culprits
        ]
    names = ", ".join(name for name, _ in present) or "the bounds and budget"
    return [f"no portfolio satisfies {names} together"]


# ---------------------------------------------------------------------------- objectives


def _min_volatility(inp: Inputs, **_: Any) -> OptimizationResult:
    w = cp.Variable(inp.n)
    problem = cp.Problem(cp.Minimize(_variance(w, inp)), _linear(w, inp.form) + _nonlinear(w, inp))
    weights, solver, status = _solve_for(inp, w, problem, "min_volatility")
    return _result(weights, inp, "min_volatility", solver, status)


def _efficient_return(inp: Inputs, *, target_return: float | None, **_: Any) -> OptimizationResult:
    if target_return is None:
        raise OptimizationError("efficient_return needs target_return", field="target_return")
    w = cp.Variable(inp.n)
    cons = (
        _linear(w, inp.form) + _nonlinear(w, inp) + [_net_return(w, inp, inp.mu) >= target_return]
    )
    problem = cp.Problem(cp.Minimize(_variance(w, inp)), cons)
    weights, solver, status = _solve_for(
        inp, w, problem, "efficient_return", diagnose_with={"target_return": target_return}
    )
    return _result(weights, inp, "efficient_return", solver, status)


def _efficient_risk(
    inp: Inputs, *, target_volatility: float | None, **_: Any
) -> OptimizationResult:
    if target_volatility is None or target_volatility <= 0:
        raise OptimizationError(
            "efficient_risk needs a positive target_volatility", field="target_volatility"
        )
    w = cp.Variable(inp.n)
    cons = _linear(w, inp.form) + _nonlinear(w, inp) + [_variance(w, inp) <= target_volatility**2]
    problem = cp.Problem(cp.Maximize(_net_return(w, inp, inp.mu)), cons)
    weights, solver, status = _solve_for(
        inp, w, problem, "efficient_risk", diagnose_with={"target_volatility": target_volatility}
    )
    return _result(weights, inp, "efficient_risk", solver, status)


def _max_utility(inp: Inputs, *, risk_aversion: float, **_: Any) -> OptimizationResult:
    w = cp.Variable(inp.n)
    objective = cp.Maximize(_net_return(w, inp, inp.mu) - 0.5 * risk_aversion * _variance(w, inp))
    problem = cp.Problem(objective, _linear(w, inp.form) + _nonlinear(w, inp))
    weights, solver, status = _solve_for(inp, w, problem, "max_utility")
    return _result(weights, inp, "max_utility", solver, status, risk_aversion=risk_aversion)


def _kelly(inp: Inputs, *, kelly_fraction: float = 0.5, **_: Any) -> OptimizationResult:
    """Fractional Kelly: maximise ``(mu - rf)'w - w'Sigma w / (2 f)``, uninvested weight in cash.

    With ``f = 1`` this is the growth-optimal (full Kelly) allocation of the continuous-time
    approximation; ``f = 0.5`` (half Kelly) is the default. No leverage: ``sum(w) <= 1 - cash_buffer``.
    """
    if not 0 < kelly_fraction <= 1:
        raise OptimizationError("kelly_fraction must be in (0, 1]", field="kelly_fraction")
    w = cp.Variable(inp.n)
    excess = inp.mu - inp.risk_free_rate
    objective = cp.Maximize(_net_return(w, inp, excess) - _variance(w, inp) / (2 * kelly_fraction))
    cons = _linear(w, inp.form, budget_equality=False) + _nonlinear(w, inp)
    problem = cp.Problem(objective, cons)
    weights, solver, status = _solve_for(inp, w, problem, "kelly", budget_equality=False)
    return _result(
        weights,
        inp,
        "kelly",
        solver,
        status,
        kelly_fraction=kelly_fraction,
        cash_weight=float(1.0 - weights.sum()),
    )


def _min_cvar(
    inp: Inputs, *, target_return: float | None = None, cvar_beta: float = 0.95, **_: Any
) -> OptimizationResult:
    scenarios = _require_scenarios(inp, "min_cvar")
    if not 0.5 <= cvar_beta < 1:
        raise OptimizationError("cvar_beta must be in [0.5, 1)", field="cvar_beta")
    w = cp.Variable(inp.n)
    cvar, cons = _cvar(w, scenarios, cvar_beta)
    cons += _linear(w, inp.form) + _nonlinear(w, inp)
    if target_return is not None:
        if inp.mu is None:
            raise OptimizationError(
                "a target_return needs expected returns", field="expected_returns"
            )
        cons.append(_net_return(w, inp, inp.mu) >= target_return)
    problem = cp.Problem(cp.Minimize(cvar), cons)
    weights, solver, status = _solve_for(
        inp, w, problem, "min_cvar", diagnose_with={"target_return": target_return}
    )
    losses = -scenarios @ weights
    return _result(
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


def _multi_objective(
    inp: Inputs,
    *,
    risk_aversion: float,
    cvar_beta: float = 0.95,
    drawdown_horizon: int = 21,
    **options: Any,
) -> OptimizationResult:
    """Maximise a documented weighted sum (see ``MULTI_OBJECTIVE_DEFAULTS``) net of costs."""
    weights_of = {k: float(options.get(k, v)) for k, v in MULTI_OBJECTIVE_DEFAULTS.items()}
    if weights_of["variance_weight"] < 0:
        weights_of["variance_weight"] = risk_aversion / 2
    if any(v < 0 for v in weights_of.values()):
        raise OptimizationError("multi-objective weights must be >= 0", field="options")
    w = cp.Variable(inp.n)
    cons = _linear(w, inp.form) + _nonlinear(w, inp)
    score = weights_of["return_weight"] * _net_return(w, inp, inp.mu)
    score -= weights_of["variance_weight"] * _variance(w, inp)
    if weights_of["turnover_weight"]:
        score -= weights_of["turnover_weight"] * cp.norm1(w - inp.current)
    if weights_of["cvar_weight"]:
        cvar, extra = _cvar(w, _require_scenarios(inp, "multi_objective (cvar_weight)"), cvar_beta)
        score -= weights_of["cvar_weight"] * cvar
        cons += extra
    if weights_of["drawdown_weight"]:
        daily = _require_scenarios(inp, "multi_objective (drawdown_weight)")
        windows = np.lib.stride_tricks.sliding_window_view(
            np.log1p(daily), drawdown_horizon, axis=0
        ).sum(axis=2)
        cvar, extra = _cvar(w, np.expm1(windows), cvar_beta)
        score -= weights_of["drawdown_weight"] * cvar
        cons += extra
    problem = cp.Problem(cp.Maximize(score), cons)
    weights, solver, status = _solve_for(inp, w, problem, "multi_objective")
    return _result(weights, inp, "multi_objective", solver, status, objective_weights=weights_of)


def _max_sharpe(inp: Inputs, *, objective_name: str = "max_sharpe", **_: Any) -> OptimizationResult:
    excess = inp.mu - inp.risk_free_rate
    if inp.constraints.needs_mixed_integer:
        return _max_sharpe_dinkelbach(inp, excess, objective_name)
    # Cornuejols & Tutuncu: with y = k w, k > 0, max Sharpe is min y'Sigma y s.t. excess'y = 1,
    # every linear constraint homogenised by k; the turnover cap stays convex in (y, k).
    y = cp.Variable(inp.n)
    k = cp.Variable(nonneg=True)
    cons = _linear(y, inp.form, k) + _nonlinear(y, inp, k) + [_net_return(y, inp, excess, k) >= 1]
    problem = cp.Problem(cp.Minimize(_variance(y, inp)), cons)
    weights, solver, status = _solve_for(inp, y, problem, objective_name, scale_var=k)
    return _result(weights, inp, objective_name, solver, status)


def _max_sharpe_dinkelbach(
    inp: Inputs, excess: np.ndarray, objective_name: str
) -> OptimizationResult:
    """Dinkelbach's parametric iteration: maximise ``excess'w - S sigma(w)``, S <- Sharpe(w)."""
    eigenvalues, vectors = np.linalg.eigh(inp.sigma)
    factor = (vectors * np.sqrt(np.clip(eigenvalues, 0, None))).T
    w = cp.Variable(inp.n)
    level = cp.Parameter(nonneg=True, value=0.0)
    cons = _linear(w, inp.form) + _nonlinear(w, inp)
    problem = cp.Problem(
        cp.Maximize(_net_return(w, inp, excess) - level * cp.norm(factor @ w)), cons
    )
    sharpe, weights, solver, status = -np.inf, None, "", ""
    for _ in range(30):
        candidate, solver, status = _solve_for(inp, w, problem, objective_name)
        vol = float(np.sqrt(candidate @ inp.sigma @ candidate))
        net = float(
            excess @ candidate
            - inp.constraints.transaction_cost * np.abs(candidate - inp.current).sum()
        )
        new_sharpe = net / vol if vol > 0 else -np.inf
        if weights is not None and new_sharpe <= sharpe + 1e-10:
            break
        sharpe, weights = new_sharpe, candidate
        level.value = max(sharpe, 0.0)
        if sharpe <= 0:
            break
    if sharpe <= 0:
        raise InfeasibleConstraints(diagnose(inp, "max_sharpe"))
    return _result(weights, inp, objective_name, solver, status, method="dinkelbach")


def _black_litterman(
    inp: Inputs, *, views: Any, risk_aversion: float, **options: Any
) -> OptimizationResult:
    from .black_litterman import black_litterman_posterior

    market_weights = options.get("market_weights")
    posterior_mu, posterior_cov = black_litterman_posterior(
        cov=pd.DataFrame(inp.sigma, index=inp.symbols, columns=inp.symbols),
        views=views or [],
        market_weights=market_weights,
        risk_aversion=risk_aversion,
        risk_free_rate=inp.risk_free_rate,
        tau=float(options.get("tau", 0.05)),
    )
    posterior = Inputs(
        inp.symbols,
        posterior_mu.to_numpy(),
        posterior_cov.to_numpy(),
        inp.scenarios,
        inp.constraints,
        inp.form,
        inp.current,
        inp.risk_free_rate,
    )
    if options.get("bl_objective", "max_sharpe") == "max_utility":
        result = _max_utility(posterior, risk_aversion=risk_aversion)
    else:
        result = _max_sharpe(posterior, objective_name="black_litterman")
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


def _budgeted(inp: Inputs, objective: str, **options: Any) -> OptimizationResult:
    from .risk_parity import hrp_weights, risk_budget_weights

    c = inp.constraints
    if not c.long_only:
        raise UnsupportedOptions(
            f"{objective} builds long-only portfolios; set long_only", field="constraints.long_only"
        )
    if c.needs_mixed_integer or c.max_turnover is not None:
        raise UnsupportedOptions(
            f"{objective} cannot honour max_holdings, min_position or a turnover cap; use an optimizer objective",
            field="constraints",
        )
    eligible = inp.form.upper > 0
    sub = inp.sigma[np.ix_(eligible, eligible)]
    names = [s for s, e in zip(inp.symbols, eligible, strict=True) if e]
    weights = np.zeros(inp.n)
    details: dict[str, Any] = {}
    if objective == "risk_parity":
        budgets = options.get("risk_budgets")
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
        sub_weights = risk_budget_weights(sub, b / b.sum())
        solver = "newton"
    else:
        sub_weights = hrp_weights(pd.DataFrame(sub, index=names, columns=names)).to_numpy()
        solver = "hrp"
    weights[eligible] = sub_weights * inp.form.budget
    broken = _violations(weights, inp)
    if broken:
        raise InfeasibleConstraints(
            [
                f"{objective} weights break {b} ({objective} sets weights from risk alone and cannot "
                "honour these limits; use min_volatility or relax them)"
                for b in broken[:5]
            ]
        )
    portfolio_var = weights @ inp.sigma @ weights
    contributions = weights * (inp.sigma @ weights) / portfolio_var
    details["risk_contributions"] = {
        s: float(v) for s, v in zip(inp.symbols, contributions, strict=True)
    }
    return _result(weights, inp, objective, solver, **details)


# ---------------------------------------------------------------------------- facade


def optimize(
    *,
    objective: str,
    expected_returns: pd.Series | None,
    cov: pd.DataFrame | None,
    returns: pd.DataFrame | None = None,
    constraints: Constraints | None = None,
    risk_free_rate: float = 0.0,
    target_return: float | None = None,
    target_volatility: float | None = None,
    risk_aversion: float | None = None,
    views: Any = None,
    current_weights: Mapping[str, float] | pd.Series | None = None,
    **options: Any,
) -> OptimizationResult:
    """Optimize a portfolio; every figure annualised with ``options["frequency"]`` (252).

    ``expected_returns`` (symbol -> annual return) and ``cov`` (annualised covariance) are
    estimates from :mod:`.estimators` or the caller's own; ``returns`` (daily simple returns)
    are the scenarios of ``min_cvar`` and the multi-objective's CVaR terms. ``risk_aversion``
    defaults to :func:`risk_aversion_for_tier` of ``options["risk_tier"]`` ("balanced").
    Options: ``kelly_fraction`` (0.5), ``cvar_beta`` (0.95), ``risk_budgets`` (symbol ->
    budget), ``market_weights`` and ``tau`` (Black-Litterman), ``bl_objective``, the
    multi-objective weights (``MULTI_OBJECTIVE_DEFAULTS``).

    Raises :class:`InfeasibleConstraints` (with the conflicts), :class:`UnsupportedOptions`
    or :class:`OptimizationError` (bad inputs, or every solver failed).
    """
    if objective not in OBJECTIVES:
        raise OptimizationError(
            f"unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}",
            field="objective",
        )
    if not np.isfinite(risk_free_rate):
        raise OptimizationError("risk_free_rate must be a finite number", field="risk_free_rate")
    frequency = int(options.pop("frequency", TRADING_DAYS_PER_YEAR))
    inp = _align_inputs(
        expected_returns, cov, returns, constraints, current_weights, risk_free_rate, frequency
    )
    if objective in NEEDS_EXPECTED_RETURNS and inp.mu is None:
        raise OptimizationError(f"{objective} needs expected returns", field="expected_returns")
    if risk_aversion is None:
        risk_aversion = risk_aversion_for_tier(options.pop("risk_tier", None) or "balanced")
    elif not risk_aversion > 0:
        raise OptimizationError("risk_aversion must be positive", field="risk_aversion")
    options.pop("risk_tier", None)
    if objective == "max_sharpe":
        if inp.mu is not None and (inp.mu[inp.form.upper > 0] <= risk_free_rate).all():
            raise InfeasibleConstraints(
                [
                    f"no eligible asset has an expected return above the risk-free rate {risk_free_rate:.6g}; "
                    "max_sharpe needs one (use min_volatility or a lower risk-free rate)"
                ]
            )
        return _max_sharpe(inp)
    if objective in ("risk_parity", "hrp"):
        return _budgeted(inp, objective, **options)
    if objective == "black_litterman":
        return _black_litterman(inp, views=views, risk_aversion=risk_aversion, **options)
    handler = {
        "min_volatility": _min_volatility,
        "efficient_return": _efficient_return,
        "efficient_risk": _efficient_risk,
        "max_utility": _max_utility,
        "min_cvar": _min_cvar,
        "multi_objective": _multi_objective,
        "kelly": _kelly,
    }[objective]
    return handler(
        inp,
        target_return=target_return,
        target_volatility=target_volatility,
        risk_aversion=risk_aversion,
        **options,
    )
