"""Typed results of the engine: one optimized portfolio, a frontier point, a frontier."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class OptimizationResult:
    """An optimized portfolio and its annualised performance.

    ``expected_return`` counts the uninvested remainder (cash buffer, Kelly's cash) at the
    risk-free rate; ``sharpe_ratio = (expected_return - risk_free_rate) / volatility``.
    Both are ``None`` when no expected returns were given (e.g. HRP on a covariance only).
    """

    weights: pd.Series
    expected_return: float | None
    volatility: float
    sharpe_ratio: float | None
    objective: str
    solver: str
    status: str = "optimal"
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FrontierPoint:
    expected_return: float
    volatility: float
    sharpe_ratio: float
    weights: pd.Series
    turnover: float | None = None
    """``||w - current||_1``: the share of the portfolio traded to get there."""
    transaction_cost: float | None = None
    """What trading there costs, as a fraction of value (already out of ``expected_return``)."""


@dataclass(frozen=True)
class Frontier:
    """Efficient frontier from the min-volatility to the max-return portfolio.

    ``weights`` is points x symbols; ``max_sharpe`` is the exact tangency portfolio on
    the frontier (not just the best of the sampled points); ``method`` says how it was
    computed (``parametric_qp``, ``support_search`` or ``cvxpy_parametric``); ``corners``
    counts the corner portfolios of the piecewise-linear path.

    ``expected_returns`` are net of the one-off transaction cost of trading from the current
    weights (``transaction_costs``, ``k`` times ``turnovers = ||w - current||_1``; the current
    weights default to all cash). ``unreachable_targets`` counts asked-for target returns beyond
    the highest reachable one (the frontier ends there). Under cardinality,
    ``supports_evaluated`` counts the supports searched and ``gap_bounds`` bounds each point's
    volatility above the exact optimum (its distance to the relaxed frontier).
    """

    expected_returns: np.ndarray
    volatilities: np.ndarray
    sharpe_ratios: np.ndarray
    weights: pd.DataFrame
    risk_free_rate: float
    max_sharpe: FrontierPoint
    method: str
    corners: int = 0
    turnovers: np.ndarray | None = None
    transaction_costs: np.ndarray | None = None
    unreachable_targets: int = 0
    supports_evaluated: int = 0
    gap_bounds: np.ndarray | None = None

    @property
    def points(self) -> list[FrontierPoint]:
        return [
            FrontierPoint(
                float(self.expected_returns[i]),
                float(self.volatilities[i]),
                float(self.sharpe_ratios[i]),
                self.weights.iloc[i],
                None if self.turnovers is None else float(self.turnovers[i]),
                None if self.transaction_costs is None else float(self.transaction_costs[i]),
            )
            for i in range(len(self.expected_returns))
        ]
