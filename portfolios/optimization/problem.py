"""Building blocks shared by the objectives: aligned inputs, cvxpy constraints and terms,
solution checks and the typed result.

:class:`Inputs` holds every array aligned to one symbol order; the ``*_constraints`` and
term helpers build cvxpy pieces from it (``scale`` homogenises them for max Sharpe);
:func:`violations` re-checks a solution in numpy so wrong weights are never returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np
import pandas as pd

from .constraints import Constraints, LinearForm, compile_constraints, weights_vector
from .estimators import fix_nonpositive_semidefinite
from .exceptions import OptimizationError, UnsupportedOptions
from .results import OptimizationResult

HOLDING_THRESHOLD = 1e-7


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
    returns: pd.DataFrame | None = None
    """The caller's periodic returns over ``symbols``, missing cells kept (HRP's correlation)."""

    @property
    def n(self) -> int:
        return len(self.symbols)

    @property
    def expected(self) -> np.ndarray:
        """``mu`` for the objectives that need it (``optimize`` has checked it is given)."""
        if self.mu is None:
            raise OptimizationError("this objective needs expected returns", field="expected_returns")
        return self.mu


def align_inputs(
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
        returns = returns[list(symbols)]
        scenarios = returns.dropna(how="any").to_numpy(dtype=float)
    c = constraints or Constraints()
    current = weights_vector(current_weights, symbols)
    form = compile_constraints(c, symbols, current_weights=current)
    return Inputs(symbols, mu, sigma, scenarios, c, form, current, float(risk_free_rate), returns)


def linear_constraints(
    w: cp.Variable, form: LinearForm, scale: Any = 1.0, *, budget_equality: bool = True
) -> list:
    cons = [w >= form.lower * scale, w <= form.upper * scale]
    cons.append(
        cp.sum(w) == form.budget * scale if budget_equality else cp.sum(w) <= form.budget * scale
    )
    if len(form.h):
        cons.append(form.G @ w <= form.h * scale)
    return cons


def nonlinear_constraints(w: cp.Variable, inp: Inputs, scale: Any = 1.0) -> list:
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


def transaction_cost(w: cp.Variable | np.ndarray, inp: Inputs, scale: Any = 1.0) -> Any:
    """``k * ||w - current||_1``, PyPortfolioOpt's ``objective_functions.transaction_cost``.

    ``k`` is ``Constraints.transaction_cost``; a cvxpy expression for a variable, a float for
    an array (one definition both optimizes and evaluates). ``scale`` homogenises it (max Sharpe).
    """
    k = inp.constraints.transaction_cost
    if isinstance(w, np.ndarray):
        return float(k * np.abs(w - inp.current * scale).sum())
    return k * cp.norm1(w - inp.current * scale)


def net_return(w: cp.Variable, inp: Inputs, mu: np.ndarray, scale: Any = 1.0) -> cp.Expression:
    """Expected return net of the transaction cost of trading there from the current weights."""
    if not inp.constraints.transaction_cost:
        return mu @ w
    return mu @ w - transaction_cost(w, inp, scale)


def plus_transaction_cost(risk: cp.Expression, w: cp.Variable, inp: Inputs) -> cp.Expression:
    """``risk + k ||w - current||_1``: what a risk-minimising objective minimises under costs.

    The same objective PyPortfolioOpt builds with ``add_objective(transaction_cost, w_prev=...)``
    on ``min_volatility`` / ``min_cvar``: ``k`` weighs turnover against the risk measure in the
    measure's own units (annualised variance, or daily CVaR).
    """
    if not inp.constraints.transaction_cost:
        return risk
    return risk + transaction_cost(w, inp)


def variance(w: cp.Variable, inp: Inputs) -> cp.Expression:
    return cp.quad_form(w, cp.psd_wrap(inp.sigma))


def cvar_expression(
    w: cp.Variable, scenarios: np.ndarray, beta: float
) -> tuple[cp.Expression, list]:
    """Rockafellar-Uryasev CVaR of the scenario losses ``-scenarios @ w`` at level ``beta``."""
    var = cp.Variable()
    excess = cp.Variable(len(scenarios), nonneg=True)
    cons = [excess >= -scenarios @ w - var]
    return var + cp.sum(excess) / ((1 - beta) * len(scenarios)), cons


def require_scenarios(inp: Inputs, objective: str) -> np.ndarray:
    if inp.scenarios is None or len(inp.scenarios) < 20:
        raise OptimizationError(
            f"{objective} needs at least 20 days of returns as scenarios", field="returns"
        )
    return inp.scenarios


def verifier(w: cp.Variable, inp: Inputs, *, budget_equality: bool = True, scale_var=None):
    def verify() -> list[str]:
        if w.value is None:
            return ["no solution values"]
        weights = np.asarray(w.value, dtype=float)
        if scale_var is not None:
            k = float(scale_var.value or 0.0)
            if k <= 0:
                return ["degenerate scaling"]
            weights = weights / k
        return violations(weights, inp, budget_equality=budget_equality)

    return verify


def violations(
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


def clean_weights(weights: np.ndarray, inp: Inputs) -> np.ndarray:
    weights = np.clip(np.asarray(weights, dtype=float), inp.form.lower, inp.form.upper)
    weights[np.abs(weights) < 1e-10] = 0.0
    if inp.constraints.needs_mixed_integer:
        weights[np.abs(weights) < HOLDING_THRESHOLD] = 0.0
    return weights


def result_from_weights(
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
