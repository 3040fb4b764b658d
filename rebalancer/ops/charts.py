"""Server-rendered PNG charts of the dashboard (matplotlib's object API, Agg canvas).

No JavaScript and no CDN: the dashboard works offline. ``matplotlib.figure.Figure`` is
used directly (not pyplot), so concurrent requests never share pyplot's global state.

* :func:`aum_chart_png` — assets under management per snapshot date;
* :func:`cycles_chart_png` — outcomes of the last cycles, stacked per as-of date;
* :func:`alerts_chart_png` — unresolved alerts by rule and severity.
"""

from __future__ import annotations

import datetime as dt
import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

OUTCOME_COLORS = {
    "rebalance": "#2e7d32", "proposed": "#1565c0", "hold": "#9e9e9e", "skipped": "#f9a825",
    "failed": "#c62828", "pending": "#6a1b9a",
}
SEVERITY_COLORS = {"critical": "#c62828", "warning": "#f9a825"}


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#757575")
    ax.set_xticks([])
    ax.set_yticks([])


def aum_chart_png(history: list[tuple[dt.date, float]]) -> bytes:
    fig = Figure(figsize=(6.4, 2.6))
    ax = fig.add_subplot()
    if history:
        ax.plot([d for d, _ in history], [v / 1e6 for _, v in history], color="#1565c0", linewidth=1.4)
        ax.set_ylabel("AUM (million)")
        ax.grid(alpha=0.3)
        fig.autofmt_xdate()
    else:
        _empty(ax, "no portfolio snapshots yet")
    ax.set_title("Assets under management", fontsize=10)
    return _png(fig)


def cycles_chart_png(history: list[tuple[dt.date, dict[str, int]]]) -> bytes:
    fig = Figure(figsize=(6.4, 2.6))
    ax = fig.add_subplot()
    if history:
        labels = [d.strftime("%m-%d") for d, _ in history]
        bottom = [0] * len(history)
        for outcome, color in OUTCOME_COLORS.items():
            heights = [counts.get(outcome, 0) for _, counts in history]
            if any(heights):
                ax.bar(labels, heights, bottom=bottom, color=color, label=outcome)
                bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.legend(fontsize=7, ncol=3, loc="upper left")
        ax.set_ylabel("portfolios")
        ax.tick_params(axis="x", labelsize=7, rotation=45)
    else:
        _empty(ax, "no cycle has run yet")
    ax.set_title("Cycle outcomes", fontsize=10)
    return _png(fig)


def alerts_chart_png(open_alerts: dict[tuple[str, str], int]) -> bytes:
    fig = Figure(figsize=(6.4, 2.6))
    ax = fig.add_subplot()
    if open_alerts:
        rules = sorted({rule for _, rule in open_alerts})
        left = [0] * len(rules)
        for severity, color in SEVERITY_COLORS.items():
            widths = [open_alerts.get((severity, rule), 0) for rule in rules]
            if any(widths):
                ax.barh(rules, widths, left=left, color=color, label=severity)
                left = [a + b for a, b in zip(left, widths, strict=True)]
        ax.legend(fontsize=7)
        ax.set_xlabel("open alerts")
    else:
        _empty(ax, "no open alerts")
    ax.set_title("Open risk alerts", fontsize=10)
    return _png(fig)
