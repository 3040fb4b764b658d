"""Pre-trade risk checks of the cycle: the portfolio's limits on top of ``risk.measures``.

:func:`checks_run` evaluates the move ``current -> proposed`` against the portfolio's
:class:`~portfolios.policy.PolicyLimits` — the position cap, exclusions and exposure with
:func:`risk.measures.pretrade.pre_trade_check`, the sleeves' and asset classes' ranges,
the number of holdings, the turnover cap, and the one-day 95 % VaR *forecast* of the
risk overlay (the same EWMA volatility it scaled the targets with, so the check agrees
with it and does not keep a crash in a historical window for a year). Each outcome
becomes a :class:`~rebalancer.autopilot.types.Check` with its number and limit. After
the projection and the overlay every check passes on an ordinary day; a failure is a
true breach. A sleeve below its floor is reported, not failed: only the overlay's VaR
cap puts it there, on purpose. The drawdown limit belongs to the overlay.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from portfolios.policy import PolicyLimits
from portfolios.policy.tiers import sleeve_of
from rebalancer.autopilot.types import Check, TargetsCache
from risk.measures.errors import RiskInputError
from risk.measures.pretrade import CheckResult, pre_trade_check
from risk.measures.pretrade import RiskLimits as EngineLimits

HOLDING_TOLERANCE = 1e-9
"""A weight at or below this counts as no position (the risk engine's tolerance)."""


def engine_limits(limits: PolicyLimits) -> EngineLimits:
    """Exclusions and exposure as the risk engine's limits (positions and VaR are checked here)."""
    return EngineLimits(
        max_var=None,
        max_position=None,
        max_turnover=None,
        max_gross_exposure=1.0 + 1e-6,
        excluded_symbols=frozenset(limits.excluded_symbols),
    )


def checks_run(
    *,
    current: Mapping[str, float],
    proposed: Mapping[str, float],
    returns: pd.DataFrame,
    limits: PolicyLimits,
    asset_classes: Mapping[str, str],
    cache: TargetsCache | None = None,
    var_forecast: float | None = None,
) -> tuple[Check, ...]:
    """Every applicable check's outcome; an unusable input is itself a failed check.

    Only the turnover check depends on ``current``; the others depend on the proposed
    weights alone and, with ``cache`` (the cycle's targets cache), are computed once per
    distinct ``proposed``. ``var_forecast``: the overlay's one-day 95 % VaR of
    ``proposed`` (``None``: not checked, e.g. the kill switch's defensive allocation).
    """
    try:
        turnover = pre_trade_check(
            current_weights=current, proposed_weights=proposed, returns=returns,
            limits=EngineLimits(max_var=None, max_position=None, max_turnover=limits.max_turnover,
                                max_gross_exposure=None),
        ).checks
        key = ("__checks__", tuple(proposed.items()), repr(limits), id(asset_classes))
        hit = cache.get(key) if cache is not None else None
        if hit is not None and hit[0] is asset_classes:
            target_checks = hit[1]
        else:
            target_checks = (
                *pre_trade_check(
                    current_weights=proposed, proposed_weights=proposed, returns=returns,
                    limits=engine_limits(limits), asset_classes=asset_classes,
                ).checks,
                *_position_check(proposed, limits, asset_classes),
                *_sleeve_checks(proposed, limits, asset_classes),
                *_holdings_check(proposed, limits.max_holdings),
            )
            if cache is not None:
                cache[key] = (asset_classes, target_checks)
    except RiskInputError as exc:
        return (Check(name="inputs", passed=False, value=None, limit=None, message=str(exc)),)
    out = [
        Check(name=c.name, passed=c.passed, value=c.value, limit=c.limit, message=c.message)
        for c in (*target_checks, *turnover)
    ]
    if var_forecast is not None:
        passed = var_forecast <= limits.max_var_95 + 1e-9
        out.append(Check(
            name="var", passed=passed, value=var_forecast, limit=limits.max_var_95,
            message=f"1-day 95% VaR forecast {var_forecast:.2%} vs limit {limits.max_var_95:.2%}: "
            + ("within limit" if passed else "exceeds limit"),
        ))
    return tuple(out)


def _position_check(
    proposed: Mapping[str, float], limits: PolicyLimits, asset_classes: Mapping[str, str]
) -> tuple[Check, ...]:
    """The largest position against its cap (``PolicyLimits.position_cap``: risky assets
    at ``max_position``, bond and money-market funds at their sleeve's ceiling)."""
    worst, worst_symbol, worst_cap = -1.0, "-", limits.max_position
    for s, w in proposed.items():
        cap = limits.position_cap(asset_classes.get(s, "unknown"))
        if float(w) - cap > worst:
            worst, worst_symbol, worst_cap = float(w) - cap, s, cap
    weight = float(proposed.get(worst_symbol, 0.0))
    passed = worst <= HOLDING_TOLERANCE
    return (CheckResult("position", passed, weight, worst_cap,
                        f"largest position against its cap {worst_symbol} {weight:.2%} vs limit {worst_cap:.2%}: "
                        + ("within limit" if passed else "exceeds limit")),)


def _sleeve_checks(
    proposed: Mapping[str, float], limits: PolicyLimits, asset_classes: Mapping[str, str]
) -> tuple[Check, ...]:
    """Each sleeve's weight against its range, each capped asset class against its cap."""
    sleeves: dict[str, float] = {}
    classes: dict[str, float] = {}
    for s, w in proposed.items():
        cls = asset_classes.get(s, "unknown")
        sleeves[sleeve_of(cls)] = sleeves.get(sleeve_of(cls), 0.0) + float(w)
        classes[cls] = classes.get(cls, 0.0) + float(w)
    out = []
    for sleeve in ("equity", "bonds", "alternatives"):
        weight = sleeves.get(sleeve, 0.0)
        lo, hi = limits.sleeve_ranges[sleeve]
        passed = weight <= hi + HOLDING_TOLERANCE
        out.append(CheckResult(f"sleeve:{sleeve}", passed, weight, hi,
                               f"{sleeve} {weight:.2%} vs highest {hi:.2%}: "
                               + ("within limit" if passed else "exceeds limit")))
        if lo > 0 and sleeve in sleeves:
            below = weight < lo - HOLDING_TOLERANCE
            out.append(CheckResult(
                f"sleeve_min:{sleeve}", True, weight, lo,
                f"{sleeve} {weight:.2%} vs lowest {lo:.2%}: "
                + ("below it on purpose (the risk overlay cut exposure)" if below else "within limit"),
            ))
    for cls, (_, hi) in sorted(limits.class_ranges.items()):
        weight = classes.get(cls, 0.0)
        passed = weight <= hi + HOLDING_TOLERANCE
        out.append(CheckResult(f"asset_class:{cls}", passed, weight, hi,
                               f"{cls} {weight:.2%} vs highest {hi:.2%}: "
                               + ("within limit" if passed else "exceeds limit")))
    return tuple(out)


def _holdings_check(proposed: Mapping[str, float], max_holdings: int | None) -> tuple[Check, ...]:
    """The number of positions the targets hold against ``max_holdings`` (none when unset)."""
    if max_holdings is None:
        return ()
    count = sum(1 for w in proposed.values() if abs(float(w)) > HOLDING_TOLERANCE)
    verdict = "within limit" if count <= max_holdings else "exceeds limit"
    return (Check(name="holdings", passed=count <= max_holdings, value=float(count), limit=float(max_holdings),
                  message=f"{count} positions vs limit {max_holdings}: {verdict}"),)


def turnover_of(current: Mapping[str, float], proposed: Mapping[str, float]) -> float:
    """One-way turnover ``sum |w_new - w_old| / 2``."""
    return sum(
        abs(float(proposed.get(s, 0.0)) - float(current.get(s, 0.0)))
        for s in set(current) | set(proposed)
    ) / 2.0
