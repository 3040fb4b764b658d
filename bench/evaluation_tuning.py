"""Tuning the investment policy's settings on the evaluation's *tuning* windows only.

Runs the walk-forward evaluation (``rebalancer.backtests.evaluation``) on the windows
that end before the tuning cut-off (2013) for a grid of overlay and band settings and
prints, per setting, the median Sharpe after tax minus monthly equal weight, the median
max-drawdown difference and the rebalances per month. The confirmation windows are
never looked at here; ``python manage.py evaluate`` reports them with the chosen
defaults. docs/EVIDENCE.md records the grid and what was chosen.

    .venv/bin/python bench/evaluation_tuning.py [--strategies a,b] [--tiers balanced] [--step 6]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rebalancer.settings.test")

import django  # noqa: E402

django.setup()

import pandas as pd  # noqa: E402

from rebalancer.autopilot.types import BandSettings, OverlaySettings  # noqa: E402
from rebalancer.backtests.evaluation import (  # noqa: E402
    EvaluationSpec,
    evaluation_run,
    regimes_walk_forward,
    strategies_register_pure,
    summary_table,
    windows_make,
)

DATA = ROOT.parent / "shared" / "data"

GRID = {
    "default": {},
    "no_overlay": {"overlay": OverlaySettings(volatility_targeting=False, drawdown_rule=False)},
    "no_drawdown_rule": {"overlay": OverlaySettings(drawdown_rule=False)},
    "no_vol_target": {"overlay": OverlaySettings(volatility_targeting=False)},
    "halflife_20": {"overlay": OverlaySettings(halflife_days=20)},
    "halflife_80": {"overlay": OverlaySettings(halflife_days=80)},
    "exposure_band_20": {"overlay": OverlaySettings(exposure_band=0.20)},
    "band_rel_10": {"band": BandSettings(relative=0.10)},
    "band_rel_50": {"band": BandSettings(relative=0.50)},
    "no_cost_gate": {"band": BandSettings(cost_gate=False)},
    "trade_to_target": {"band": BandSettings(inner=0.0)},
    "quarterly": {"calendar": "quarterly"},
    "band_rel_100": {"band": BandSettings(relative=1.0)},
    "band50_hl20": {"band": BandSettings(relative=0.5), "overlay": OverlaySettings(halflife_days=20)},
    "band50_hl20_nodd": {"band": BandSettings(relative=0.5),
                         "overlay": OverlaySettings(halflife_days=20, drawdown_rule=False)},
    "band50_hl40_nodd": {"band": BandSettings(relative=0.5), "overlay": OverlaySettings(drawdown_rule=False)},
    "band50_novol": {"band": BandSettings(relative=0.5), "overlay": OverlaySettings(volatility_targeting=False)},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--strategies", default="equal_weight,optimizer:min_volatility,optimizer:risk_parity,optimizer:hrp")
    parser.add_argument("--tiers", default="balanced")
    parser.add_argument("--step", type=int, default=6, help="Months between window starts")
    parser.add_argument("--grid", default=",".join(GRID))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    strategies_register_pure()
    prices = pd.read_csv(DATA / "stock_prices.csv", parse_dates=["date"], index_col="date").sort_index()
    regimes = None
    strategies = tuple(args.strategies.split(","))
    if "regime_adaptive" in strategies:
        spy = pd.read_csv(DATA / "spy_prices.csv", parse_dates=["date"], index_col="date").sort_index()
        regimes = regimes_walk_forward(spy.iloc[:, 0])
    base = EvaluationSpec(strategies=strategies, tiers=tuple(args.tiers.split(",")), step_months=args.step,
                          random_portfolios=0)
    windows = [w for w in windows_make(prices, base) if w.set == "tuning"]
    print(f"{len(windows)} tuning windows; strategies {strategies}; tiers {base.tiers}")
    rows = []
    for name in args.grid.split(","):
        spec = replace(base, **GRID[name])
        started = time.perf_counter()
        runs = evaluation_run(prices, spec, regimes=regimes, workers=args.workers, windows=windows)
        summary = summary_table(runs)
        for _, r in summary.iterrows():
            rows.append({"setting": name, "strategy": r.strategy, "tier": r.tier,
                         "dSharpe": r.delta_sharpe_median, "p10": r.delta_sharpe_p10, "share>=EW": r.beats_baseline,
                         "dMaxDD": r.delta_max_drawdown, "vol": r.volatility, "rebal/m": r.rebalances_per_month,
                         "worst rebal/m": r.max_rebalances_per_month, "cash": r.mean_cash, "taxes": r.taxes,
                         "EW taxes": r.taxes_baseline})
        print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_rows", 500)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
