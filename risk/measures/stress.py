"""Stress testing: named historical and hypothetical scenarios, and custom shocks.

A scenario is a set of **shocks per asset class** (simple returns over the episode,
e.g. ``{"equity": -0.34}``), optionally per-symbol overrides, and for historical
episodes the date window. Applying it to a portfolio (weights per symbol):

- **replay from data**: for a historical episode, a symbol whose returns in
  ``returns`` cover the whole window (it traded before the start and has no gap in
  ``(start, end]``) is shocked by its own compounded return over the window;
- otherwise the symbol's **asset-class shock** applies (symbols without a known class
  are treated as ``equity``; ``cash`` is never shocked).

The P&L of the portfolio is ``sum_i w_i shock_i`` as a fraction of its value
(negative = loss); each asset's contribution is its term of that sum.

Episode shocks are rounded peak-to-trough moves of broad indices over the window
(equity: S&P 500; bond: US aggregate/Treasuries; commodity: broad commodity index;
real_estate: US REITs; crypto: bitcoin where it existed). For episodes before bitcoin
(2010) the crypto shock is a proxy of twice the equity move, floored at -90 % — stated
in the scenario description.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from risk.measures.errors import RiskInputError

ASSET_CLASSES = ("equity", "bond", "commodity", "real_estate", "crypto", "cash")
MAX_SHOCK_LOSS = -1.0


@dataclass(frozen=True)
class StressScenario:
    name: str
    title: str
    description: str
    kind: str  # historical | hypothetical | custom
    shocks: Mapping[str, float]
    """Return per asset class over the scenario (simple return, -0.3 = -30 %)."""
    start: date | None = None
    end: date | None = None
    symbol_shocks: Mapping[str, float] = field(default_factory=dict)
    """Per-symbol overrides (take precedence over replay and class shocks)."""


def _proxy(equity: float) -> float:
    return max(2 * equity, -0.9)


def _episode(name, title, start, end, equity, bond, commodity, real_estate, crypto=None, note=""):
    proxied = crypto is None
    crypto_shock = _proxy(equity) if proxied else crypto
    description = (
        f"{title} ({start} to {end}): equity {equity:+.0%}, bonds {bond:+.0%}, "
        f"commodities {commodity:+.0%}, real estate {real_estate:+.0%}, crypto {crypto_shock:+.0%}"
        + (" (proxy: 2x equity, crypto did not exist)" if proxied else "")
        + (f". {note}" if note else "")
    )
    return StressScenario(
        name, title, description, "historical",
        {"equity": equity, "bond": bond, "commodity": commodity, "real_estate": real_estate,
         "crypto": crypto_shock, "cash": 0.0},
        date.fromisoformat(start), date.fromisoformat(end),
    )


def _hypothetical(name, title, note, **shocks):
    full = {c: 0.0 for c in ASSET_CLASSES} | shocks
    moves = ", ".join(f"{c.replace('_', ' ')} {v:+.0%}" for c, v in full.items() if v)
    return StressScenario(name, title, f"{note} Shocks: {moves}.", "hypothetical", full)


SCENARIOS: dict[str, StressScenario] = {
    s.name: s
    for s in [
        _episode("black_monday_1987", "1987 Black Monday crash", "1987-10-13", "1987-10-19",
                 -0.30, 0.02, -0.05, -0.20, note="The S&P 500 fell 20.5 % on 19 October alone"),
        _episode("bond_massacre_1994", "1994 bond market sell-off", "1994-02-03", "1994-11-07",
                 -0.08, -0.10, 0.05, -0.05, note="Surprise Fed hikes: 10-year yield up about 2 points"),
        _episode("asian_crisis_1997", "1997 Asian financial crisis", "1997-10-07", "1997-10-27",
                 -0.11, 0.02, -0.05, -0.08),
        _episode("ltcm_1998", "1998 Russian default and LTCM", "1998-07-17", "1998-10-08",
                 -0.19, 0.05, -0.10, -0.15),
        _episode("dotcom_2000_2002", "2000-02 dot-com bust", "2000-03-24", "2002-10-09",
                 -0.49, 0.25, 0.05, 0.10),
        _episode("september_11_2001", "September 2001 attacks", "2001-09-10", "2001-09-21",
                 -0.12, 0.01, -0.08, -0.10),
        _episode("gfc_2007_2009", "2007-09 global financial crisis", "2007-10-09", "2009-03-09",
                 -0.56, 0.08, -0.45, -0.68),
        _episode("lehman_2008", "2008 Lehman collapse", "2008-09-12", "2008-11-20",
                 -0.40, 0.04, -0.35, -0.55),
        _episode("flash_crash_2010", "2010 flash crash", "2010-05-05", "2010-05-07",
                 -0.05, 0.01, -0.04, -0.06, crypto=0.0, note="Intraday the S&P 500 fell about 9 %"),
        _episode("euro_crisis_2011", "2011 euro debt crisis and US downgrade", "2011-07-22", "2011-10-03",
                 -0.19, 0.06, -0.15, -0.20, crypto=-0.80),
        _episode("taper_tantrum_2013", "2013 taper tantrum", "2013-05-21", "2013-06-24",
                 -0.06, -0.04, -0.08, -0.14, crypto=-0.15),
        _episode("china_devaluation_2015", "2015 China devaluation", "2015-08-10", "2015-08-25",
                 -0.11, 0.01, -0.05, -0.08, crypto=-0.25),
        _episode("brexit_2016", "2016 Brexit vote", "2016-06-23", "2016-06-27",
                 -0.05, 0.02, -0.03, -0.03, crypto=-0.10),
        _episode("volatility_spike_2018", "2018 volatility spike (Volmageddon)", "2018-01-26", "2018-02-08",
                 -0.10, -0.01, -0.05, -0.08, crypto=-0.45),
        _episode("q4_selloff_2018", "Q4 2018 sell-off", "2018-09-20", "2018-12-24",
                 -0.20, 0.02, -0.20, -0.12, crypto=-0.45),
        _episode("covid_crash_2020", "2020 COVID crash", "2020-02-19", "2020-03-23",
                 -0.34, 0.01, -0.30, -0.42, crypto=-0.45),
        _episode("rate_shock_2022", "2022 inflation and rate shock", "2022-01-03", "2022-10-12",
                 -0.25, -0.17, 0.15, -0.30, crypto=-0.70),
        _hypothetical("equity_crash_30", "Equity market -30 %",
                      "A broad equity crash with other asset classes unchanged.", equity=-0.30),
        _hypothetical("rates_up_200bp", "Rates +200 bp",
                      "A parallel 200 bp rise in yields: bonds with a 6.5-year duration lose 13 %, "
                      "real estate and equity reprice lower.",
                      bond=-0.13, real_estate=-0.10, equity=-0.05),
        _hypothetical("crypto_crash_60", "Crypto -60 %", "A crypto collapse.", crypto=-0.60),
        _hypothetical("correlation_breakdown", "Correlation breakdown",
                      "Diversification fails: every risky asset class falls together, bonds included.",
                      equity=-0.20, bond=-0.10, commodity=-0.20, real_estate=-0.25, crypto=-0.50),
        _hypothetical("stagflation", "Stagflation",
                      "Inflation with falling growth: stocks and bonds down, commodities up.",
                      equity=-0.20, bond=-0.10, commodity=0.25, real_estate=-0.10, crypto=-0.30),
        _hypothetical("deflationary_recession", "Deflationary recession",
                      "A demand collapse: risk assets fall, high-grade bonds rally.",
                      equity=-0.25, bond=0.08, commodity=-0.30, real_estate=-0.20, crypto=-0.50),
        _hypothetical("real_estate_crash", "Real estate crash",
                      "A property slump spilling into stocks.", real_estate=-0.35, equity=-0.10, bond=0.03),
        _hypothetical("commodity_collapse", "Commodity collapse",
                      "A commodity bust, as in 2014-15.", commodity=-0.40, equity=-0.05),
    ]
}


@dataclass(frozen=True)
class AssetShock:
    symbol: str
    weight: float
    asset_class: str
    shock: float
    contribution: float
    """weight * shock: this asset's part of the portfolio P&L (negative = loss)."""
    source: str  # replay | asset_class | symbol


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    title: str
    kind: str
    pnl: float
    """Portfolio P&L as a fraction of value (negative = loss)."""
    loss: float
    """max(-pnl, 0): the loss as a positive fraction."""
    contributions: list[AssetShock]
    replayed_symbols: list[str]


@dataclass(frozen=True)
class StressReport:
    results: list[ScenarioResult]
    worst_case: ScenarioResult | None


def custom_scenario(
    name: str,
    *,
    shocks: Mapping[str, float] | None = None,
    symbol_shocks: Mapping[str, float] | None = None,
    description: str = "",
) -> StressScenario:
    """A user-defined scenario; shocks must be finite and not below -100 %."""
    shocks = dict(shocks or {})
    symbol_shocks = dict(symbol_shocks or {})
    unknown = sorted(set(shocks) - set(ASSET_CLASSES))
    if unknown:
        raise RiskInputError(
            f"unknown asset classes {', '.join(unknown)}; use {', '.join(ASSET_CLASSES)}",
            field="shocks",
        )
    for label, values in (("shocks", shocks), ("symbol_shocks", symbol_shocks)):
        for v in values.values():
            if not math.isfinite(v) or v < MAX_SHOCK_LOSS:
                raise RiskInputError(f"{label} must be finite returns >= -1", field=label)
    if not shocks and not symbol_shocks:
        raise RiskInputError("a custom scenario needs shocks or symbol_shocks", field="shocks")
    return StressScenario(name, name, description or "user-defined shocks", "custom",
                          {c: 0.0 for c in ASSET_CLASSES} | shocks, symbol_shocks=symbol_shocks)


class ReplayHistory:
    """Prefix sums over a return panel so that any window replays in O(symbols).

    For a window ``(start, end]`` a symbol is replayable when it has a return on or
    before ``start`` (it traded before the episode), no gap inside the window, and the
    panel reaches to within 4 days of ``end``; its shock is the compounded return.
    """

    def __init__(self, returns: pd.DataFrame) -> None:
        values = returns.to_numpy(dtype=float)
        self.index = returns.index.values.astype("datetime64[ns]")
        self.columns = {c: j for j, c in enumerate(returns.columns)}
        missing = ~np.isfinite(values)
        zeros = np.zeros((1, values.shape[1]))
        with np.errstate(invalid="ignore", divide="ignore"):
            logs = np.where(missing, 0.0, np.log1p(np.where(missing, 0.0, values)))
        self.log_growth = np.vstack([zeros, np.cumsum(logs, axis=0)])
        self.gaps = np.vstack([zeros, np.cumsum(missing, axis=0)])
        has_value = ~missing
        self.first_valid = np.where(has_value.any(axis=0), has_value.argmax(axis=0), values.shape[0])

    def shocks(self, start: date, end: date) -> dict[str, float]:
        if self.index.shape[0] == 0:
            return {}
        lo = int(np.searchsorted(self.index, np.datetime64(start, "ns"), side="right"))
        hi = int(np.searchsorted(self.index, np.datetime64(end, "ns"), side="right"))
        if hi <= lo or self.index[-1] < np.datetime64(end, "ns") - np.timedelta64(4, "D"):
            return {}
        out = {}
        for symbol, j in self.columns.items():
            if self.first_valid[j] < lo and self.gaps[hi, j] == self.gaps[lo, j]:
                out[symbol] = float(np.expm1(self.log_growth[hi, j] - self.log_growth[lo, j]))
        return out


def apply_scenario(
    scenario: StressScenario,
    weights: Mapping[str, float],
    *,
    asset_classes: Mapping[str, str] | None = None,
    returns: pd.DataFrame | ReplayHistory | None = None,
) -> ScenarioResult:
    """One scenario on one portfolio; ``returns`` (or its prepared :class:`ReplayHistory`)
    enables replay of historical episodes."""
    classes = asset_classes or {}
    rows: list[AssetShock] = []
    replayed: list[str] = []
    replays: dict[str, float] = {}
    if (scenario.kind == "historical" and returns is not None
            and scenario.start is not None and scenario.end is not None):
        history = returns if isinstance(returns, ReplayHistory) else ReplayHistory(returns)
        replays = history.shocks(scenario.start, scenario.end)
    for symbol, w in sorted(weights.items()):
        w = float(w)
        if not math.isfinite(w):
            raise RiskInputError("weights must be finite numbers", field="weights")
        if w == 0.0:
            continue
        cls = classes.get(symbol, "equity")
        source, shock = "asset_class", float(scenario.shocks.get(cls, scenario.shocks.get("equity", 0.0)))
        if cls == "cash":
            shock = 0.0
        if symbol in scenario.symbol_shocks:
            source, shock = "symbol", float(scenario.symbol_shocks[symbol])
        elif symbol in replays:
            source, shock = "replay", replays[symbol]
            replayed.append(symbol)
        rows.append(AssetShock(symbol, w, cls, shock, w * shock, source))
    pnl = float(sum(r.contribution for r in rows))
    return ScenarioResult(scenario.name, scenario.title, scenario.kind, pnl, max(-pnl, 0.0), rows, replayed)


def stress_test(
    weights: Mapping[str, float],
    scenarios: list[StressScenario] | None = None,
    *,
    asset_classes: Mapping[str, str] | None = None,
    returns: pd.DataFrame | None = None,
) -> StressReport:
    """Apply each scenario (all built-ins when None); the worst case has the lowest P&L."""
    chosen = list(SCENARIOS.values()) if scenarios is None else scenarios
    history = ReplayHistory(returns) if returns is not None else None
    results = [apply_scenario(s, weights, asset_classes=asset_classes, returns=history) for s in chosen]
    worst = min(results, key=lambda r: r.pnl, default=None)
    return StressReport(results, worst)


def stress_recommendations(report: StressReport, *, loss_tolerance: float = 0.20) -> list[str]:
    """Plain-language advice from a stress report."""
    worst = report.worst_case
    if worst is None:
        return []
    advice: list[str] = []
    if worst.loss > loss_tolerance:
        driver = min(worst.contributions, key=lambda c: c.contribution, default=None)
        advice.append(
            f"In the worst scenario ({worst.title}) the portfolio loses {worst.loss:.1%}, more than "
            f"{loss_tolerance:.0%}"
            + (f"; the largest contributor is {driver.symbol} ({driver.asset_class}, "
               f"{driver.contribution:+.1%}): consider reducing it or adding defensive assets."
               if driver else ".")
        )
    breaking = [r for r in report.results if r.loss > loss_tolerance]
    if len(breaking) > 1:
        advice.append(f"{len(breaking)} of {len(report.results)} scenarios lose more than "
                      f"{loss_tolerance:.0%}; the portfolio is broadly exposed to market crashes.")
    classes = {c.asset_class for r in report.results for c in r.contributions}
    if classes and classes <= {"equity"}:
        advice.append("All holdings are equities: bonds or cash would cushion equity crashes.")
    if not advice:
        advice.append(f"The worst scenario ({worst.title}) loses {worst.loss:.1%}, within "
                      f"{loss_tolerance:.0%}.")
    return advice
