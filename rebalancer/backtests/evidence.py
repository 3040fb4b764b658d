"""docs/EVIDENCE.md from an evaluation: tables, plots and the command that made them (pure).

:func:`evidence_write` renders the summary of :func:`~.evaluation.summary_table` for the
tuning and the confirmation windows separately, the baselines, the monotonicity of
volatility across tiers, and three pictures (PNG, matplotlib's Agg backend): the
distribution of Sharpe minus equal weight per strategy and tier, the median max
drawdown per tier, and the equity and overlay exposure of the balanced default
strategy through the worst window of the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from rebalancer.backtests.evaluation import BASELINE, monotone_by_tier

PCT_COLUMNS = ("max_drawdown", "delta_max_drawdown", "volatility", "annual_return", "mean_cash")


def _fmt(value, column: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    if column in PCT_COLUMNS:
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    return str(value)


def _table(frame: pd.DataFrame, columns: Sequence[tuple[str, str]]) -> str:
    head = "| " + " | ".join(label for _, label in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    rows = ["| " + " | ".join(_fmt(row[c], c) for c, _ in columns) + " |" for _, row in frame.iterrows()]
    return "\n".join([head, rule, *rows])


SUMMARY_COLUMNS = (
    ("strategy", "strategy"), ("tier", "tier"), ("windows", "windows"), ("sharpe", "Sharpe (after tax)"),
    ("delta_sharpe_median", "Δ Sharpe vs EW, median"), ("delta_sharpe_p10", "p10"), ("delta_sharpe_p90", "p90"),
    ("delta_sharpe_ci_lo", "90 % CI lo"), ("delta_sharpe_ci_hi", "CI hi"), ("beats_baseline", "share ≥ EW"),
    ("max_drawdown", "max DD"), ("delta_max_drawdown", "Δ max DD"), ("volatility", "volatility"),
    ("annual_turnover", "turnover/yr"), ("rebalances_per_month", "rebal./month"),
    ("max_rebalances_per_month", "worst window rebal./month"), ("mean_cash", "mean cash"),
    ("costs", "costs"), ("taxes", "taxes"), ("taxes_baseline", "EW taxes"), ("random_p_median", "random p"),
    ("windows_sat_out", "windows in cash"),
)


def _plots(runs: pd.DataFrame, out: Path, tiers: Sequence[str],
           example: Mapping[str, np.ndarray] | None) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    files = []
    base = runs[runs.strategy == BASELINE].set_index("window_start").sharpe
    strat = runs[runs.kind == "strategy"].copy()
    strat["delta"] = strat.sharpe.to_numpy() - base.reindex(strat.window_start).to_numpy()
    for set_ in ("tuning", "confirmation"):
        part = strat[strat.set == set_]
        if part.empty:
            continue
        fig, axes = plt.subplots(1, len(tiers), figsize=(4.2 * len(tiers), 4.6), sharey=True)
        axes = np.atleast_1d(axes)
        for ax, tier in zip(axes, tiers, strict=False):
            sub = part[part.tier == tier]
            names = sorted(sub.strategy.unique())
            ax.boxplot([sub[sub.strategy == n].delta.to_numpy() for n in names], showfliers=False)
            ax.set_xticks(range(1, len(names) + 1), [n.replace("optimizer:", "") for n in names], rotation=60,
                          fontsize=8)
            ax.axhline(0.0, color="grey", lw=0.8)
            ax.set_title(tier)
        axes[0].set_ylabel("Sharpe after tax minus monthly equal weight")
        fig.suptitle(f"{set_} windows")
        fig.tight_layout()
        name = f"delta_sharpe_{set_}.png"
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        files.append(name)
    if example:
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
        dates = example["dates"]
        for key, label in (("strategy", example.get("label", "strategy")), ("baseline", "equal weight monthly")):
            a1.plot(dates, example[key], label=label)
        a1.set_ylabel("value after costs and taxes")
        a1.legend()
        a2.plot(dates, example["exposure"], color="tab:red")
        a2.set_ylabel("risky sleeve held")
        a2.set_ylim(0, 1.05)
        fig.suptitle(example.get("title", ""))
        fig.tight_layout()
        fig.savefig(out / "example_window.png", dpi=110)
        plt.close(fig)
        files.append("example_window.png")
    return files


BASELINE_COLUMNS = (
    ("set", "set"), ("baseline", "baseline"), ("windows", "windows"), ("sharpe", "Sharpe (after tax)"),
    ("max_drawdown", "max DD"), ("volatility", "volatility"), ("annual_turnover", "turnover/yr"),
    ("taxes", "taxes"),
)

HOW_TO_READ = (
    "## How to read it",
    "",
    "- Sharpe ratios are of daily returns after costs and after each year's estimated tax (short-term gains "
    "35 %, long-term 15 %, losses carried forward), risk-free rate 0, for strategies and baselines alike.",
    "- Δ Sharpe is the strategy's minus equal weight rebalanced monthly in the same window; the 90 % interval "
    "is a circular-block bootstrap of the median over windows (blocks of 8 consecutive windows, wrapping around, so every window counts alike).",
    "- random p: the median over windows of the share of random long-only portfolios (monthly rebalanced, "
    "same costs, before tax) whose Sharpe beats the strategy's before-tax Sharpe.",
    "- rebal./month counts days with executed trades; windows in cash counts windows with fewer than 5 % of "
    "days invested.",
    "",
)


def _intro_lines(runs: pd.DataFrame, command: str, notes: Sequence[str], elapsed_s: float | None) -> list[str]:
    windows = runs.drop_duplicates("window_start")
    return [
        "# Evidence: the investment policy on real prices",
        "",
        "Made by the command below (every number on this page comes from it; rerun it to check).",
        "",
        "```sh",
        command,
        "```",
        "",
        f"{len(windows)} windows: {int((windows.set == 'tuning').sum())} tuning (ending before the cut-off; "
        f"the defaults were chosen on these only) and {int((windows.set == 'confirmation').sum())} confirmation "
        "(never tuned on)." + (f" Wall time {elapsed_s / 60:.1f} min." if elapsed_s else ""),
        "",
        *notes,
        "",
    ]


def _summary_lines(summary: pd.DataFrame, tiers: Sequence[str]) -> list[str]:
    """A table per set of windows, and whether volatility rises with the tier in it."""
    lines: list[str] = []
    for set_ in ("tuning", "confirmation"):
        part = summary[summary.set == set_]
        if part.empty:
            continue
        lines += [f"## {set_.capitalize()} windows", "", _table(part, SUMMARY_COLUMNS), ""]
        mono = monotone_by_tier(part, "volatility", tiers)
        ok = [s for (st, s), v in mono.items() if v and st == set_]
        bad = [s for (st, s), v in mono.items() if not v and st == set_]
        lines.append(f"Realised volatility monotone across tiers ({', '.join(tiers)}): "
                     f"{'yes' if not bad else 'no'} — monotone for {', '.join(ok) or 'none'}"
                     + (f"; not for {', '.join(bad)}" if bad else "") + ".")
        lines.append("")
    return lines


def _baseline_lines(baselines: pd.DataFrame) -> list[str]:
    lines = ["## Baselines (same costs and taxes)", "", _table(baselines, BASELINE_COLUMNS), ""]
    if "sixty_forty" not in set(baselines.baseline):
        lines += ["No 60/40 baseline: the universe has no bond asset.", ""]
    return lines


def evidence_write(
    *,
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    baselines: pd.DataFrame,
    path: Path,
    command: str,
    tiers: Sequence[str],
    notes: Sequence[str] = (),
    example: Mapping[str, np.ndarray] | None = None,
    elapsed_s: float | None = None,
    goal: Sequence[str] = (),
) -> None:
    """Write the markdown report and its pictures (next to it, in ``evidence/`` for
    EVIDENCE.md, in ``<name>_pictures/`` for any other report)."""
    folder = "evidence" if path.name == "EVIDENCE.md" else f"{path.stem}_pictures"
    plots = _plots(runs, path.parent / folder, tiers, example)
    lines = _intro_lines(runs, command, notes, elapsed_s)
    if goal:
        lines += ["## The goal, on the confirmation windows", "", *goal, ""]
    lines += _summary_lines(summary, tiers)
    lines += _baseline_lines(baselines)
    if plots:
        lines += ["## Pictures", ""] + [f"![{p}]({folder}/{p})" for p in plots] + [""]
    lines += HOW_TO_READ
    path.write_text("\n".join(lines))
