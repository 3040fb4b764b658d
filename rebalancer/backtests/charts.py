"""PNG charts of a finished backtest (matplotlib, Agg backend: no display needed).

* :func:`equity_chart_png` — equity curves of every strategy, baseline and the
  benchmark, with the first strategy's drawdown underneath;
* :func:`allocation_chart_png` — the first (or the named) strategy's weights over time
  as a stacked area, cash on top.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def _plain(text: str) -> str:
    """A label as text: matplotlib reads ``$...$`` as mathtext (and fails on ``$$``)."""
    return str(text).replace("$", r"\$")


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def equity_chart_png(curves: dict[str, pd.Series], *, title: str = "") -> bytes:
    """Equity of each named curve (same index) and the drawdown of the first one."""
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    for name, curve in curves.items():
        top.plot(curve.index, curve.to_numpy(), label=_plain(name), linewidth=1.2)
    top.set_ylabel("value")
    top.set_title(title or "Equity curve", parse_math=False)  # "$" is text, not mathtext
    top.grid(alpha=0.3)
    top.legend(loc="upper left", fontsize=8)
    if curves:
        first_name, first = next(iter(curves.items()))
        values = first.to_numpy(dtype=float)
        peak = np.maximum.accumulate(values)
        dd = np.where(peak > 0, values / peak - 1.0, 0.0)
        bottom.fill_between(first.index, dd * 100, 0, color="tab:red", alpha=0.4)
        bottom.set_ylabel(f"drawdown %\n({_plain(first_name)})", fontsize=8)
    bottom.grid(alpha=0.3)
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    return _png(fig)


def allocation_chart_png(weights: pd.DataFrame, *, title: str = "") -> bytes:
    """Stacked weights over time (dates x symbols, fractions); what they leave is cash."""
    fig, ax = plt.subplots(figsize=(10, 5))
    w = weights.clip(lower=0.0).fillna(0.0)
    cash = (1.0 - w.sum(axis=1)).clip(lower=0.0)
    stacks = [w[c].to_numpy() for c in w.columns] + [cash.to_numpy()]
    labels = [_plain(c) for c in w.columns] + ["cash"]
    ax.stackplot(w.index, *stacks, labels=labels)
    ax.set_ylim(0, 1)
    ax.set_ylabel("weight")
    ax.set_title(title or "Allocation over time", parse_math=False)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    return _png(fig)
