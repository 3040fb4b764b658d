"""VaR backtests on the team's real data, and what the nightly backtest of every portfolio costs.

Run: ``.venv/bin/python bench/bench_var_backtest.py [--skip-accuracy] [--skip-speed] [--grid]
[--portfolios 20]``

1. **Accuracy** (the figures of docs/VAR_BACKTEST.md): every method at 99 %, 1 day, a
   250-day window, on (a) the equal-weight, daily-rebalanced portfolio of the 20 stocks of
   ``stock_prices.csv`` (1990-2018; a stock joins when it starts trading) and (b) SPY
   (1993-2019). Exceptions per calendar year, Kupiec and Christoffersen p-values, and the
   Basel zones of the consecutive 250-day blocks, split into the years the default's
   settings were chosen on (to 2005) and the years that confirm them (2006 on).
   ``--grid`` also prints the choice of the calibration step on the early years only.
2. **Speed**: the nightly job's engine work per portfolio (1,500 days of returns, the last
   1,000 scored; the default model, its three candidates and historical VaR sharing one
   GARCH path) against two straightforward baselines: the existing loop
   (``backtest_var``: one ``value_at_risk`` call per day, historical VaR only), and a
   GARCH-t refitted every day (timed on 30 days, scaled to 1,000). Medians over repeats, in
   one process; the machine is shared, so compare the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from risk.measures.backtest import backtest_summary, backtest_var
from risk.measures.var_models import (
    BACKTEST_METHODS,
    VaRModelConfig,
    green_zone_target_rate,
    rolling_var,
    rolling_var_many,
)
from risk.measures.volatility import garch_t_fit, garch_variance, standardized_t_ppf

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.exists():
    DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SPLIT_YEAR = 2005
NIGHTLY = ("adaptive", "fhs_ewma", "garch_t", "fhs_garch", "historical")


def equal_weight_returns() -> pd.Series:
    prices = pd.read_csv(DATA / "stock_prices.csv", parse_dates=["date"], index_col="date")
    return prices.pct_change(fill_method=None).iloc[1:].mean(axis=1, skipna=True).rename("EW20")


def spy_returns() -> pd.Series:
    return pd.read_csv(DATA / "spy_prices.csv", parse_dates=["date"], index_col="date")["SPY"].pct_change().dropna()


def _scores(index: pd.Index, losses: np.ndarray, forecasts: np.ndarray, level: float) -> dict:
    s = backtest_summary(index, losses, forecasts, level)
    years = pd.Series(losses > forecasts, index=index).groupby(index.year).sum()
    return {"days": s.observations, "exc": s.exceptions, "rate": s.exceptions / s.observations,
            "kupiec_p": s.kupiec.p_value, "christ_p": s.christoffersen.p_value,
            "max/yr": int(years.max()), "yrs>4": int((years > 4).sum()), "years": len(years),
            "non-green blocks": sum(b.zone != "green" for b in s.blocks), "blocks": len(s.blocks),
            "_years": years}


def accuracy(name: str, returns: pd.Series, level: float = 0.99) -> None:
    print(f"\n=== {name}: {returns.index[0].date()} .. {returns.index[-1].date()}, {len(returns)} returns, "
          f"VaR {level:.0%} 1-day, window 250 ===", flush=True)
    config = VaRModelConfig(n_simulations=2000)
    r = returns.to_numpy()
    rows, per_year = [], {}
    for method in BACKTEST_METHODS:
        started = time.perf_counter()
        forecast = rolling_var(r, method=method, confidence_level=level, config=config)
        seconds = time.perf_counter() - started
        index = returns.index[forecast.first :]
        losses = -r[forecast.first :]
        for part, mask in (("all", np.ones(len(index), bool)), (f"<= {SPLIT_YEAR}", index.year <= SPLIT_YEAR),
                           (f">= {SPLIT_YEAR + 1}", index.year > SPLIT_YEAR)):
            row = _scores(index[mask], losses[mask], forecast.backtested[mask], level)
            years = row.pop("_years")
            if part == "all":
                per_year[method] = years
            rows.append({"method": method, "period": part, **row, "seconds": seconds if part == "all" else np.nan})
        if method == "adaptive":
            used = np.bincount(forecast.chosen, minlength=3)
            print(f"adaptive: target rate {forecast.target_rate:.4%}; candidate days fhs_ewma/garch_t/fhs_garch "
                  f"{used.tolist()}; scale range {forecast.scale.min():.2f}..{forecast.scale.max():.2f}")
        if method == "cornish_fisher":
            print(f"cornish_fisher: {forecast.invalid_days} of {len(forecast.forecasts)} days outside the "
                  "monotone domain (historical VaR used on those days)")
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        print("\nexceptions per calendar year (first and last years partial):")
        print(pd.DataFrame(per_year).T.astype(int).to_string())


def calibration_grid(series: dict[str, pd.Series], level: float = 0.99) -> None:
    """The calibration step chosen on the early years only: the largest min(Kupiec, Christoffersen)
    p-value among the steps that keep every early year green on both series."""
    print(f"\n=== calibration step, chosen on the years to {SPLIT_YEAR} only ===")
    for step in (0.02, 0.05, 0.1, 0.2):
        cells = []
        for name, returns in series.items():
            early = returns[returns.index.year <= SPLIT_YEAR]
            f = rolling_var(early.to_numpy(), method="adaptive", confidence_level=level,
                            config=VaRModelConfig(calibration_step=step))
            s = _scores(early.index[f.first :], -early.to_numpy()[f.first :], f.backtested, level)
            cells.append(f"{name}: max/yr {s['max/yr']} kupiec {s['kupiec_p']:.3f} christ {s['christ_p']:.3f}")
        print(f"step {step:<5} " + " | ".join(cells), flush=True)


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _daily_refit_garch(r: np.ndarray, days: int, level: float) -> np.ndarray:
    """The straightforward GARCH backtest: refit on the last 1,000 returns every day."""
    out = np.empty(days)
    start = r.shape[0] - days
    for i in range(days):
        t = start + i
        params = garch_t_fit(r[max(0, t - 1000) : t])  # arch, as a straightforward implementation would
        sigma = np.sqrt(garch_variance(np.append(r[max(0, t - 1000) : t], 0.0), params))[-1]
        out[i] = -standardized_t_ppf(1 - level, params.nu) * sigma
    return out


def speed(n_portfolios: int, repeats: int) -> None:
    prices = pd.read_csv(DATA / "stock_prices.csv", parse_dates=["date"], index_col="date")
    returns = prices.loc["2000":].pct_change(fill_method=None).iloc[1:].dropna(axis=1)  # stocks listed by 2000
    rng = np.random.default_rng(0)
    portfolios = []
    for _ in range(n_portfolios):
        w = rng.dirichlet(np.ones(returns.shape[1]))
        portfolios.append(pd.Series(returns.to_numpy() @ w, index=returns.index).iloc[-1500:])
    print(f"\n=== speed: {n_portfolios} portfolios of {returns.shape[1]} stocks, 1,500 returns each, "
          f"last 1,000 scored ({repeats} repeats, medians) ===", flush=True)
    config = VaRModelConfig()
    first = 500

    def ours():
        for series in portfolios:
            rolling_var_many(series.to_numpy(), methods=NIGHTLY, confidence_level=0.99, config=config, first=first)

    def ours_historical():
        for series in portfolios:
            rolling_var(series.to_numpy(), method="historical", confidence_level=0.99, first=first)

    def loop_historical():
        for series in portfolios:
            backtest_var(series.iloc[first - 250 :], method="historical", confidence_level=0.99)

    def ours_with_arch_fits():
        import risk.measures.var_models as models
        from risk.measures.volatility import garch_t_fit, garch_t_mle

        models.garch_t_mle = garch_t_fit  # the same path with arch's optimizer
        try:
            ours()
        finally:
            models.garch_t_mle = garch_t_mle

    sample = portfolios[: max(1, n_portfolios // 10)]

    def daily_garch():
        for series in sample:
            _daily_refit_garch(series.to_numpy(), 30, 0.99)

    t_ours = _median_seconds(ours, repeats) / n_portfolios
    t_arch = _median_seconds(ours_with_arch_fits, repeats) / n_portfolios
    t_hist = _median_seconds(ours_historical, repeats) / n_portfolios
    t_loop = _median_seconds(loop_historical, repeats) / n_portfolios
    t_garch = _median_seconds(daily_garch, 1) / len(sample) * 1000 / 30
    fits = len(range(first, 1501, config.garch_refit_every))
    print(f"ours, nightly set (default + 3 candidates + historical, {fits} GARCH fits): {t_ours * 1e3:8.1f} ms/portfolio")
    print(f"  the same with arch's optimizer for the fits:            {t_arch * 1e3:8.1f} ms/portfolio "
          f"({t_arch / t_ours:.1f}x)")
    print(f"ours, historical only (vectorized):                      {t_hist * 1e3:8.1f} ms/portfolio")
    print(f"baseline: backtest_var loop, historical only:            {t_loop * 1e3:8.1f} ms/portfolio "
          f"({t_loop / t_hist:.0f}x ours historical)")
    print(f"baseline: GARCH-t refitted every day (1 of 5 models):    {t_garch * 1e3:8.1f} ms/portfolio "
          f"({t_garch / t_ours:.0f}x our whole nightly set)")
    for n in (1_000, 5_000, 20_000):
        print(f"  {n:>6} portfolios: ours {n * t_ours / 60:6.1f} min on one core; daily-refit GARCH "
              f"{n * t_garch / 3600:6.1f} h")
    print(f"target rate used by the default at 99 %: {green_zone_target_rate(0.99):.5f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--grid", action="store_true")
    parser.add_argument("--portfolios", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    series = {"EW20": equal_weight_returns(), "SPY": spy_returns()}
    if args.grid:
        calibration_grid(series)
    if not args.skip_accuracy:
        for name, returns in series.items():
            accuracy(name, returns)
    if not args.skip_speed:
        speed(args.portfolios, args.repeats)


if __name__ == "__main__":
    main()
