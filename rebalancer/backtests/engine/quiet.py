"""Quiet days: a cheap screen of the days on which the pipeline would hold and say nothing.

Most days of a calendar-reviewed backtest are quiet: no review is due, nothing is out of
its band, no cash waits to be invested, the risk overlay keeps its multiplier. Running
the whole decision core on such a day (about 0.8 ms) only to learn that it holds is what
made the replay slower than the bt library. :class:`QuietScreen` proves a day quiet with
a few numpy operations on the float holdings and, when it cannot, the replay runs
:func:`rebalancer.autopilot.engine.cycle_decide` as before.

The screen applies only to configurations where a quiet-looking day cannot act through
a path the screen does not model (:meth:`QuietScreen.of` returns ``None`` otherwise):
no kill switch, regimes, walk-forward retraining, tax-loss harvesting (it may sell on
any day), forced review, daily (``none``) calendar, money-market sweep; and an **inert
overlay** — volatility targeting and the drawdown rule off, so the multiplier can only
move through the VaR cap, which the screen bounds. On a day it passes, it has checked
what the core would check, with a margin far above float rounding:

* **no review** (:func:`rebalancer.autopilot.engine.review_due`): the last review's
  targets exist, were made for this strategy, universe and limits (same policy key),
  no universe or held asset lacks a price, and the calendar trigger does not fire;
* **the overlay keeps M = 1**: the multiplier in force is 1 and not de-risked, and the
  VaR cap cannot bind: the EWMA second moment of ``1.25 r_risky + r_safe`` is at most
  ``(1.25 ||w||_1 max|r|)^2`` over the window, so ``1.25 ||w||_1 max|r| <=
  max_var_95 / z_95`` keeps the VaR room above ``1 / (1 - VAR_MARGIN)`` and the wanted
  multiplier at 1 (``rebalancer.autopilot.overlay._multiplier_step``);
* **no trigger** (``rebalancer.autopilot.engine._triggers``): every asset inside its band
  and cash inside the cash band, as :func:`rebalancer.autopilot.bands.out_of_band` and
  the cash check compute them.

A skipped day leaves the carried :class:`~rebalancer.autopilot.types.PolicyState` as it
was; the next full day's performance and shadow tracking then span several days at once
(the same product, so the same numbers to float rounding), which with an inert overlay
feeds no decision. ``tests/backtests/engine/test_quiet_screen.py`` replays real data
with and without the screen and compares every output exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np

from portfolios.policy.tiers import sleeve_of
from rebalancer.autopilot.bands import EPS as BAND_EPS
from rebalancer.autopilot.engine import DUST, policy_key
from rebalancer.autopilot.overlay import VAR_MARGIN, Z_95
from rebalancer.autopilot.triggers import calendar_trigger
from rebalancer.autopilot.types import AutonomyConfig, PolicyState

MARGIN = 1e-12
"""Weights are compared this far inside the core's thresholds: the screen's float sums run
in another order than the core's (differences of ~1e-16), so a day on the edge goes to
the core."""
_VAR_STRETCH = 1.0 / (1.0 - VAR_MARGIN)


@dataclass
class QuietScreen:
    """The screen for one replay: fixed settings plus the panel's per-row data."""

    config: AutonomyConfig
    key: str
    universe: np.ndarray
    """Column indices of the universe in the price panel."""
    marks: np.ndarray
    """(T, N) the closes the core values the portfolio at (floats of the stored prices)."""
    priced: np.ndarray
    """(T, N) True where the close is a positive number."""
    row_absmax: np.ndarray
    """(T - 1,) largest absolute return of each returns row (NaN as 0)."""
    var_sigma: float
    """The daily sigma the VaR cap allows (``max_var_95 / z_95``)."""
    _targets_of: Mapping[str, float] | None = None
    _targets: np.ndarray | None = None
    _l1: float = 0.0

    @classmethod
    def of(
        cls, *, config: AutonomyConfig, symbols: tuple[str, ...], marks: np.ndarray, returns: np.ndarray,
        asset_classes: Mapping[str, str], kill_switch: str, regimes: object, retrain: object,
    ) -> QuietScreen | None:
        """The screen, or ``None`` when this configuration can act on a quiet-looking day."""
        overlay = config.overlay
        universe = tuple(sorted(set(config.universe)))
        col = {s: i for i, s in enumerate(symbols)}
        if (kill_switch != "off" or regimes or retrain is not None or config.tax.enabled or config.force
                or config.calendar not in ("monthly", "quarterly") or overlay.volatility_targeting
                or overlay.drawdown_rule or not universe or any(s not in col for s in universe)
                or config.trade.min_trade_value < 0
                or any(sleeve_of(asset_classes.get(s, "unknown")) == "cash" for s in universe)):
            return None
        absmax = np.nanmax(np.abs(returns), axis=1, initial=0.0) if returns.size else np.zeros(len(returns))
        return cls(
            config=config, key=policy_key(config, universe), universe=np.array([col[s] for s in universe]),
            marks=marks, priced=np.isfinite(marks) & (marks > 0), row_absmax=absmax,
            var_sigma=config.limits.max_var_95 / Z_95,
        )

    def quiet(
        self, *, t: int, lo: int, as_of: date, trading_days: tuple[date, ...], policy: PolicyState | None,
        quantities: np.ndarray, cash: float, complete: bool,
    ) -> bool:
        """True when the core, run on row ``t``, would hold with no trigger and M = 1.

        ``quantities``: float shares per panel column; ``cash``: float cash; ``lo:t``: the
        rows of the returns window; ``complete``: the window has no gap.
        """
        if not complete or not self._no_review(t, as_of, trading_days, policy, quantities):
            return False
        assert policy is not None  # _no_review checked it
        targets = self._target_vector(policy.targets)
        if targets is None or not self._var_cap_idle(lo, t):
            return False
        return self._inside_bands(self.marks[t], targets, quantities, cash)

    def _no_review(self, t, as_of, trading_days, policy, quantities) -> bool:
        if policy is None or not policy.targets or policy.key != self.key:
            return False
        overlay = policy.overlay
        if overlay.exposure != 1.0 or overlay.derisked:
            return False
        priced = self.priced[t]
        if not priced[self.universe].all() or not priced[quantities > DUST].all():
            return False
        return calendar_trigger(as_of, self.config.calendar, trading_days) is None

    def _target_vector(self, targets: Mapping[str, float]) -> np.ndarray | None:
        """The targets over the panel's columns (``None``: one is outside the universe)."""
        if targets is not self._targets_of:
            index = {s: int(i) for s, i in zip(sorted(set(self.config.universe)), self.universe, strict=True)}
            if any(s not in index for s in targets):
                return None
            vector = np.zeros(self.marks.shape[1])
            for s, w in targets.items():
                vector[index[s]] = w
            self._targets_of, self._l1 = targets, float(np.abs(vector).sum())
            self._targets = np.where(vector > 1e-10, vector, 0.0)  # the overlay drops dust at M = 1
        return self._targets

    def _var_cap_idle(self, lo: int, t: int) -> bool:
        window = self.row_absmax[lo:t]
        worst = float(window.max()) if window.size else 0.0
        return _VAR_STRETCH * self._l1 * worst <= self.var_sigma * (1.0 - 1e-9)

    def _inside_bands(self, marks: np.ndarray, targets: np.ndarray, quantities: np.ndarray, cash: float) -> bool:
        held = np.where(quantities > DUST, quantities, 0.0)
        total = cash + float(held @ np.where(held > 0, marks, 0.0))
        if not total > 0:
            return False
        current = held * np.where(held > 0, marks, 0.0) / total
        config = self.config
        band = config.band
        bands = np.maximum(band.floor, np.minimum(config.rebalance_threshold, band.relative * targets))
        if np.any(np.abs(current - targets) > bands + BAND_EPS - MARGIN):
            return False
        target_cash = max(0.0, 1.0 - float(targets.sum()))
        cash_band = max(band.floor, min(config.rebalance_threshold, band.relative * target_cash))
        return (1.0 - float(current.sum())) - target_cash <= cash_band - MARGIN
