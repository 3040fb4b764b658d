"""``python manage.py evaluate`` — walk-forward evaluation of strategies x risk tiers on real prices.

    python manage.py evaluate --prices ../shared/data/stock_prices.csv \
        --market ../shared/data/spy_prices.csv --out docs/EVIDENCE.md

Replays every strategy through the production pipeline for each tier over rolling
windows (5 years, one starting every quarter from 1995 by default) against equal weight
monthly, buy and hold and 60/40 with the same costs and taxes, and writes the report
(docs/EVIDENCE.md with its pictures) — see :mod:`rebalancer.backtests.evaluation`.
Without ``--prices`` it evaluates the stored prices of every active asset (their asset
classes from the database). ``--market`` is the index the regime detector reads (the
regime-adaptive strategy needs it; without it that strategy is left out).
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from rebalancer.backtests.evaluation import (
    BASELINE,
    EvaluationSpec,
    baseline_table,
    evaluation_run,
    monotone_by_tier,
    regimes_walk_forward,
    summary_table,
    windows_make,
)
from rebalancer.backtests.evidence import evidence_write

NOTES = (
    "**How the defaults were chosen.** On the tuning windows only, with `bench/evaluation_tuning.py` "
    "(the grid and its results: [evidence/tuning.md](evidence/tuning.md)): the band's relative width "
    "(25 % / 50 % / 100 % of the target), the volatility forecast's halflife (20 / 40 / 80 days), the "
    "exposure band, the drawdown rule and volatility targeting on or off, the cost gate, trading to "
    "target or into the band, monthly or quarterly reviews, the regime policy, and the default "
    "strategy. The confirmation windows were run once, with the defaults so chosen.",
    "",
    "**What the confirmation windows are.** Windows ending in 2013 or later; those starting before "
    "2013 share years with tuning windows (5-year windows overlap), so they are not a clean hold-out. "
    "The strict hold-out — windows lying wholly after the cut-off — is reported in "
    "[evidence/holdout.md](evidence/holdout.md) (2-year windows, the only length that fits in "
    "2013-2018).",
)


def goal_lines(summary: pd.DataFrame, tiers) -> list[str]:
    """The issue's goal, checked on the confirmation windows (one line each, pass or not)."""
    from portfolios.models import AutonomySettings

    part = summary[summary.set == "confirmation"]
    if part.empty:
        return []
    lines = []
    default = part[(part.strategy == AutonomySettings.DEFAULT_STRATEGY) & (part.tier == "balanced")]
    if not default.empty:
        r = default.iloc[0]
        ok = r.delta_sharpe_median >= 0 and r.delta_max_drawdown <= -0.05
        lines.append(
            f"- Balanced tier, default strategy ({r.strategy}): Sharpe after tax minus monthly equal weight "
            f"{r.delta_sharpe_median:+.2f} (90 % CI {r.delta_sharpe_ci_lo:+.2f} to {r.delta_sharpe_ci_hi:+.2f}; "
            f"at least equal weight's in {r.beats_baseline:.0%} of windows), max drawdown "
            f"{r.delta_max_drawdown * 100:+.1f} points: {'met' if ok else 'NOT met'} (goal: Δ Sharpe ≥ 0 "
            "and at least 5 points less drawdown)."
        )
    mono = monotone_by_tier(part, "volatility", tiers)
    bad = sorted(s for (_, s), v in mono.items() if not v)
    lines.append("- Realised volatility monotone across tiers for every strategy: "
                 + ("met." if not bad else f"NOT met for {', '.join(bad)}."))
    worst = part.sort_values("max_rebalances_per_month").iloc[-1]
    lines.append(
        f"- Rebalances: the busiest strategy averages {part.rebalances_per_month.max():.2f} a month over "
        f"its windows and at most {worst.max_rebalances_per_month:.2f} in one window ({worst.strategy}, "
        f"{worst.tier}): {'met' if part.max_rebalances_per_month.max() <= 2 else 'NOT met'} (goal ≤ 2)."
    )
    sat = int(part.windows_sat_out.sum())
    lines.append(f"- Windows sat out in cash: {sat}: {'met' if sat == 0 else 'NOT met'}.")
    return lines


def _csv_wide(path: str) -> pd.DataFrame:
    frame = pd.read_csv(path, parse_dates=["date"], index_col="date").sort_index()
    return frame.astype(float)


class Command(BaseCommand):
    help = "Walk-forward evaluation of strategies x risk tiers on real prices; writes docs/EVIDENCE.md."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--prices", default=None, help="A wide CSV (date + one column per symbol); "
                            "default: the stored prices of every active asset")
        parser.add_argument("--market", default=None, help="A wide CSV of one market index (regimes)")
        parser.add_argument("--strategies", default=",".join(EvaluationSpec.strategies))
        parser.add_argument("--tiers", default=",".join(EvaluationSpec.tiers))
        parser.add_argument("--window-years", type=int, default=5)
        parser.add_argument("--step-months", type=int, default=3)
        parser.add_argument("--first-start", default="1995-01-01")
        parser.add_argument("--tuning-end", default="2013-01-01",
                            help="Windows ending before this date are the tuning set")
        parser.add_argument("--random", type=int, default=200, help="Random portfolios per window")
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--only", choices=["all", "tuning", "confirmation"], default="all")
        parser.add_argument("--out", default="docs/EVIDENCE.md")
        parser.add_argument("--runs-csv", default=None, help="Also write every run as a CSV (and PATH.json)")
        parser.add_argument("--from-runs", default=None,
                            help="Re-render the report from a --runs-csv file instead of evaluating again")

    def handle(self, *args, **opts) -> None:
        from rebalancer.backtests.evaluation import strategies_register_pure

        strategies_register_pure()
        prices, classes = self._prices(opts["prices"])
        regimes = regimes_walk_forward(_csv_wide(opts["market"]).iloc[:, 0]) if opts["market"] else None
        strategies = tuple(s.strip() for s in opts["strategies"].split(",") if s.strip())
        if regimes is None:
            strategies = tuple(s for s in strategies if s != "regime_adaptive")
        spec = replace(
            EvaluationSpec(),
            strategies=strategies,
            tiers=tuple(t.strip() for t in opts["tiers"].split(",") if t.strip()),
            window_years=opts["window_years"], step_months=opts["step_months"],
            first_start=date.fromisoformat(opts["first_start"]), tuning_end=date.fromisoformat(opts["tuning_end"]),
            random_portfolios=opts["random"],
        )
        windows = windows_make(prices, spec)
        if opts["only"] != "all":
            windows = [w for w in windows if w.set == opts["only"]]
        if not windows:
            raise CommandError("no window fits the data; lower --window-years or move --first-start")
        command = "python manage.py evaluate " + " ".join(
            shlex.quote(a) for a in sys.argv[2:] if not a.startswith("--from-runs")
        )
        if opts["from_runs"]:
            runs = pd.read_csv(opts["from_runs"], parse_dates=["window_start", "window_end"])
            for column in ("window_start", "window_end"):
                runs[column] = runs[column].dt.date
            meta = json.loads(Path(opts["from_runs"] + ".json").read_text())
            command, elapsed = meta["command"], meta["elapsed_s"]
        else:
            self.stdout.write(f"{len(windows)} windows x {len(spec.strategies)} strategies x {len(spec.tiers)} tiers")
            started = time.monotonic()
            bar = tqdm(total=len(windows), unit="window", file=sys.stderr)

            def progress(done: int, total: int) -> None:
                bar.update(done - bar.n)

            runs = evaluation_run(prices, spec, asset_classes=classes, regimes=regimes, workers=opts["workers"],
                                  progress=progress, windows=windows)
            bar.close()
            elapsed = time.monotonic() - started
            if opts["runs_csv"]:
                runs.to_csv(opts["runs_csv"], index=False)
                Path(opts["runs_csv"] + ".json").write_text(json.dumps({"command": command, "elapsed_s": elapsed}))
        summary = summary_table(runs)
        out = Path(opts["out"])
        evidence_write(runs=runs, summary=summary, baselines=baseline_table(runs), path=out, command=command,
                       tiers=spec.tiers, elapsed_s=elapsed, goal=goal_lines(summary, spec.tiers),
                       notes=NOTES if out.name == "EVIDENCE.md" else (
                           "A companion report of docs/EVIDENCE.md (how the defaults were chosen is there).",),
                       example=self._example(prices, spec, classes, regimes, windows))
        self.stdout.write(self.style.SUCCESS(f"wrote {out} ({elapsed / 60:.1f} min)"))

    @staticmethod
    def _prices(path: str | None) -> tuple[pd.DataFrame, dict[str, str]]:
        if path:
            return _csv_wide(path), {}
        from marketdata.models import Asset
        from marketdata.selectors import price_panel_get

        assets = dict(Asset.objects.filter(is_active=True).values_list("symbol", "asset_class"))
        if not assets:
            raise CommandError("no stored prices: give --prices PATH or import prices first")
        return price_panel_get(symbols=sorted(assets), how="outer"), assets

    @staticmethod
    def _example(prices, spec, classes, regimes, windows) -> dict | None:
        """The balanced default strategy through the window with the worst equal-weight drawdown."""

        from portfolios.models import AutonomySettings
        from rebalancer.backtests.engine.replay import ReplaySpec, replay
        from rebalancer.backtests.engine.schedule import period_starts
        from rebalancer.backtests.engine.taxes import taxes_estimate
        from rebalancer.backtests.evaluation import (
            _autonomy,
            _ledger_fixed_weights,
            after_tax_equity,
        )

        if "balanced" not in spec.tiers or not windows:
            return None
        window = min(windows, key=lambda w: w.start if w.start.year >= 2007 else date.max)
        index = pd.DatetimeIndex(prices.index)
        lo = index.searchsorted(pd.Timestamp(window.start)) - spec.lookback_days - 2
        hi = index.searchsorted(pd.Timestamp(window.end), side="right")
        panel = prices.iloc[max(0, lo):hi][list(window.symbols)]
        trading = panel.loc[pd.Timestamp(window.start):]
        dates = pd.DatetimeIndex(trading.index)
        strategy = AutonomySettings.DEFAULT_STRATEGY
        result = replay(panel, ReplaySpec(initial_cash=spec.initial_cash,
                                          autonomy=_autonomy(spec, strategy, "balanced", window.symbols),
                                          asset_classes={s: classes.get(s, "equity") for s in window.symbols},
                                          regimes=regimes), start=window.start)
        taxes = taxes_estimate(result.fills, spec.tax_rates)
        n = len(window.symbols)
        equity, _, _, ledger, _ = _ledger_fixed_weights(trading, np.full(n, 1.0 / n), period_starts(dates, "monthly"),
                                                        spec)
        return {
            "dates": dates, "strategy": after_tax_equity(result.equity, dates, taxes.by_year),
            "baseline": after_tax_equity(equity, dates, taxes_estimate(ledger.fills, spec.tax_rates).by_year),
            "exposure": result.exposure, "label": f"{strategy} (balanced)",
            "title": f"{window.start} to {window.end}: value and the overlay's exposure ({BASELINE} for comparison)",
        }
