"""A PNG of the efficient frontier (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import io

from .results import Frontier


def frontier_png(frontier: Frontier, *, title: str = "Efficient frontier", dpi: int = 100) -> bytes:
    """The frontier as volatility (x) vs expected return (y), the max-Sharpe point marked."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4.5), dpi=dpi)
    axes = figure.subplots()
    axes.plot(
        frontier.volatilities,
        frontier.expected_returns,
        color="#1f77b4",
        label="efficient frontier",
    )
    tangency = frontier.max_sharpe
    axes.scatter(
        [tangency.volatility],
        [tangency.expected_return],
        marker="*",
        s=180,
        color="#d62728",
        zorder=3,
        label=f"max Sharpe ({tangency.sharpe_ratio:.2f})",
    )
    axes.set_xlabel("volatility (annualised)")
    axes.set_ylabel("expected return (annualised)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
