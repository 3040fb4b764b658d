"""Risk attribution: marginal and component VaR/ES by asset (Euler), by asset class, and a
one-factor (benchmark beta) view.

Euler allocation: VaR and ES are homogeneous of degree one in the weights, so
``VaR = sum_i w_i dVaR/dw_i``; the *component* of asset i is ``w_i * marginal_i`` and the
components sum to the total exactly.

- ``parametric``: ``marginal_i = -mu_i h + z sqrt(h) (S w)_i / sigma_p`` (ES: ``z`` replaced by
  ``phi(z) / (1 - a)``) — the closed-form gradient.
- ``historical`` / ``monte_carlo``: the loss of asset i in the scenario that sets the VaR
  (component VaR) and its ES-weighted average over the tail scenarios (component ES); the
  tail weights are those of :func:`risk.measures.var.empirical_tail_weights`. For
  ``horizon_days > 1`` the historical scenarios are overlapping h-day compounded returns
  of each asset (buy and hold), so the total may differ slightly from
  :func:`var_historical`, which compounds the daily-rebalanced portfolio.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from risk.measures._inputs import aligned_weights, check_confidence, check_horizon, clean_returns
from risk.measures.errors import RiskInputError
from risk.measures.var import (
    _check_mc_args,
    empirical_tail_weights,
    sample_moments_factor,
    simulate_asset_returns,
)

ATTRIBUTION_METHODS = ("parametric", "historical", "monte_carlo")


@dataclass(frozen=True)
class AssetRiskContribution:
    symbol: str
    weight: float
    asset_class: str
    marginal_var: float
    """dVaR/dw: VaR added per unit of weight (positive = adds risk)."""
    component_var: float
    """w * marginal_var; the components sum to the total VaR."""
    component_es: float
    """The same for ES; the components sum to the total ES."""
    var_share: float
    """component_var / total VaR (None-safe: 0 when the total is 0)."""


@dataclass(frozen=True)
class RiskAttribution:
    method: str
    confidence_level: float
    horizon_days: int
    var: float
    expected_shortfall: float
    by_asset: list[AssetRiskContribution]
    by_asset_class: dict[str, float]
    """Component VaR summed per asset class."""
    es_by_asset_class: dict[str, float]


def risk_attribution(
    returns: pd.DataFrame,
    weights: Mapping[str, float],
    *,
    method: str = "parametric",
    confidence_level: float = 0.95,
    horizon_days: int = 1,
    asset_classes: Mapping[str, str] | None = None,
    n_simulations: int = 50_000,
    distribution: str = "normal",
    dof: float = 5.0,
    seed: int = 0,
) -> RiskAttribution:
    """Euler decomposition of VaR and ES over the symbols held (module docstring)."""
    level = check_confidence(confidence_level)
    horizon = check_horizon(horizon_days)
    held = [c for c in returns.columns if float(weights.get(c, 0.0)) != 0.0]
    w_all = aligned_weights(weights, returns)
    if not held:
        raise RiskInputError("the portfolio holds nothing to attribute", field="weights")
    panel = clean_returns(returns[held])
    w = w_all[[returns.columns.get_loc(c) for c in held]]

    if method == "parametric":
        marginal_var, comp_var, comp_es = _parametric_components(panel, w, level, horizon)
    elif method in ("historical", "monte_carlo"):
        scenarios = _scenarios(
            panel, method, level, horizon,
            n_simulations=n_simulations, distribution=distribution, dof=dof, seed=seed,
        )
        marginal_var, comp_var, comp_es = _scenario_components(scenarios, w, level)
    else:
        raise RiskInputError(
            f"method must be one of {', '.join(ATTRIBUTION_METHODS)}; got {method!r}", field="method"
        )
    rows = _asset_rows(held, w, marginal_var, comp_var, comp_es, asset_classes or {})
    by_class: dict[str, float] = {}
    es_by_class: dict[str, float] = {}
    for row in rows:
        by_class[row.asset_class] = by_class.get(row.asset_class, 0.0) + row.component_var
        es_by_class[row.asset_class] = es_by_class.get(row.asset_class, 0.0) + row.component_es
    total_var, total_es = float(comp_var.sum()), float(comp_es.sum())
    return RiskAttribution(method, level, horizon, total_var, total_es, rows, by_class, es_by_class)


Components = tuple[np.ndarray, np.ndarray, np.ndarray]
"""``(marginal_var, component_var, component_es)`` per held symbol."""


def _parametric_components(panel: np.ndarray, w: np.ndarray, level: float, horizon: int) -> Components:
    """The closed-form Euler gradients of the normal VaR and ES (module docstring)."""
    mean = panel.mean(axis=0)
    cov = np.atleast_2d(np.cov(panel, rowvar=False))
    sigma_p = math.sqrt(max(float(w @ cov @ w), 0.0))
    if sigma_p == 0.0:
        raise RiskInputError("the portfolio has no variance to attribute", field="weights")
    z = stats.norm.ppf(level)
    beta = cov @ w / sigma_p
    marginal_var = -mean * horizon + z * math.sqrt(horizon) * beta
    marginal_es = -mean * horizon + stats.norm.pdf(z) / (1 - level) * math.sqrt(horizon) * beta
    return marginal_var, w * marginal_var, w * marginal_es


def _scenarios(
    panel: np.ndarray, method: str, level: float, horizon: int, *,
    n_simulations: int, distribution: str, dof: float, seed: int,
) -> np.ndarray:
    """Horizon returns per asset: compounded history, or simulated from the sample moments."""
    if method == "historical":
        scenarios = _compounded(panel, horizon)
        if scenarios.shape[0] * (1 - level) < 1:
            raise RiskInputError("too few observations for this confidence level", field="returns")
        return scenarios
    _check_mc_args(n_simulations, distribution, dof)
    mean, factor = sample_moments_factor(panel)
    return simulate_asset_returns(
        mean,
        factor,
        n_simulations=n_simulations,
        horizon_days=horizon,
        distribution=distribution,
        dof=dof,
        seed=seed,
    )


def _scenario_components(scenarios: np.ndarray, w: np.ndarray, level: float) -> Components:
    """Each asset's loss in the VaR scenario and its tail-weighted average (ES)."""
    asset_losses = -scenarios * w
    var_index, tail = empirical_tail_weights(asset_losses.sum(axis=1), level)
    comp_var = asset_losses[var_index]
    return comp_var / w, comp_var, tail @ asset_losses


def _asset_rows(
    held: list, w: np.ndarray, marginal_var: np.ndarray, comp_var: np.ndarray, comp_es: np.ndarray,
    classes: Mapping[str, str],
) -> list[AssetRiskContribution]:
    total_var = float(comp_var.sum())
    return [
        AssetRiskContribution(
            symbol=s,
            weight=float(w[i]),
            asset_class=classes.get(s, "unknown"),
            marginal_var=float(marginal_var[i]),
            component_var=float(comp_var[i]),
            component_es=float(comp_es[i]),
            var_share=float(comp_var[i] / total_var) if total_var else 0.0,
        )
        for i, s in enumerate(held)
    ]


def _compounded(panel: np.ndarray, horizon: int) -> np.ndarray:
    if horizon == 1:
        return panel
    logs = np.log1p(panel)
    csum = np.vstack([np.zeros((1, panel.shape[1])), np.cumsum(logs, axis=0)])
    return np.expm1(csum[horizon:] - csum[:-horizon])


@dataclass(frozen=True)
class FactorRisk:
    """One-factor view: the portfolio's risk explained by its benchmark beta (annualised)."""

    beta: float
    total_volatility: float
    systematic_volatility: float
    """|beta| * benchmark volatility."""
    idiosyncratic_volatility: float
    """Volatility of the residual r - alpha - beta b."""
    systematic_share: float
    """Share of variance explained by the benchmark (R^2)."""
    asset_betas: dict[str, float]


def factor_risk(
    returns: pd.DataFrame,
    weights: Mapping[str, float],
    benchmark: pd.Series,
    *,
    periods_per_year: int = 252,
) -> FactorRisk:
    """Split portfolio variance into beta * benchmark (systematic) and residual (idiosyncratic).

    ``returns`` and ``benchmark`` are aligned on their common dates. With OLS,
    ``var(r) = beta^2 var(b) + var(e)`` holds exactly in sample.
    """
    joined = returns.join(benchmark.rename("__benchmark__"), how="inner")
    if joined.shape[0] < 3:
        raise RiskInputError("the portfolio and the benchmark share fewer than 3 dates", field="benchmark")
    panel = joined.drop(columns="__benchmark__")
    w = aligned_weights(weights, panel)
    values = clean_returns(panel, min_rows=3)
    b = clean_returns(joined[["__benchmark__"]], min_rows=3)[:, 0]
    r = values @ w
    var_b = float(b.var(ddof=1))
    if var_b == 0.0:
        raise RiskInputError("the benchmark has no variance", field="benchmark")
    bc = b - b.mean()
    asset_betas = (values - values.mean(axis=0)).T @ bc / (bc @ bc)
    beta = float(w @ asset_betas)
    resid = r - r.mean() - beta * bc
    total_var = float(r.var(ddof=1))
    idio = float(resid.var(ddof=1))
    syst = beta**2 * var_b
    scale = math.sqrt(periods_per_year)
    return FactorRisk(
        beta=beta,
        total_volatility=math.sqrt(total_var) * scale,
        systematic_volatility=math.sqrt(syst) * scale,
        idiosyncratic_volatility=math.sqrt(max(idio, 0.0)) * scale,
        systematic_share=syst / total_var if total_var else 0.0,
        asset_betas={c: float(asset_betas[i]) for i, c in enumerate(panel.columns) if w[i] != 0},
    )
