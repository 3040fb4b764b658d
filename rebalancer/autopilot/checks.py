"""Pre-trade risk checks of the cycle: the product's limits on top of ``risk.measures``.

:func:`checks_run` turns the autopilot's :class:`~rebalancer.autopilot.types.RiskLimits`
into the risk engine's limits and evaluates the move ``current -> proposed`` with
:func:`risk.measures.pretrade.pre_trade_check`; each outcome becomes a
:class:`~rebalancer.autopilot.types.Check` carrying its number and limit for the
decision record. The drawdown limit is not re-checked here: the autopilot watches the
portfolio's *realised* drawdown as a trigger (see :mod:`rebalancer.autopilot.triggers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pandas as pd

from rebalancer.autopilot.types import Check, RiskLimits
from risk.measures.errors import RiskInputError
from risk.measures.pretrade import RiskLimits as EngineLimits
from risk.measures.pretrade import pre_trade_check

HOLDING_TOLERANCE = 1e-9
"""A weight at or below this counts as no position (the risk engine's tolerance)."""


def engine_limits(limits: RiskLimits, asset_classes: Mapping[str, str]) -> EngineLimits:
    classes = sorted(set(asset_classes.values()))
    class_max = {cls: limits.max_asset_class for cls in classes} if limits.max_asset_class is not None else {}
    for cls, _, highest in limits.asset_class_bounds:
        class_max[cls] = min(class_max.get(cls, 1.0), highest)
    return EngineLimits(
        max_var=limits.max_var_95,
        var_confidence=0.95,
        var_method="historical",
        max_position=limits.max_position,
        max_asset_class=class_max,
        max_turnover=limits.max_turnover,
        max_gross_exposure=1.0 + 1e-6,
        excluded_symbols=frozenset(limits.excluded_symbols),
    )


def checks_run(
    *,
    current: Mapping[str, float],
    proposed: Mapping[str, float],
    returns: pd.DataFrame,
    limits: RiskLimits,
    asset_classes: Mapping[str, str],
    cache: dict | None = None,
) -> tuple[Check, ...]:
    """Every applicable check's outcome; an unusable input is itself a failed check.

    Only the turnover check depends on ``current``; the others (position, asset
    classes, exclusions, exposure and the VaR of the proposed weights, the costly one)
    depend on the proposed weights alone. With ``cache`` (the cycle's targets cache)
    they are computed once per distinct ``proposed`` (same items in the same order,
    same return window, limits and classes) and shared by every portfolio moving to
    the same targets: the inputs are identical, so the numbers are too.
    """
    try:
        # Validates both weight maps first, as the single call did, then the move itself.
        turnover = pre_trade_check(
            current_weights=current,
            proposed_weights=proposed,
            returns=returns,
            limits=EngineLimits(max_var=None, max_position=None, max_turnover=limits.max_turnover,
                                max_gross_exposure=None),
        ).checks
        key = ("__checks__", id(returns), tuple(proposed.items()), replace(limits, max_turnover=None),
               id(asset_classes))
        hit = cache.get(key) if cache is not None else None
        if hit is not None and hit[0] is returns and hit[1] is asset_classes:
            target_checks = hit[2]
        else:
            target_checks = (
                *pre_trade_check(
                    current_weights=proposed,
                    proposed_weights=proposed,
                    returns=returns,
                    limits=engine_limits(replace(limits, max_turnover=None), asset_classes),
                    asset_classes=asset_classes,
                ).checks,
                *_holdings_check(proposed, limits.max_holdings),
                *_class_floor_checks(proposed, limits, asset_classes),
            )
            if cache is not None:
                cache[key] = (returns, asset_classes, target_checks)
    except RiskInputError as exc:
        return (Check(name="inputs", passed=False, value=None, limit=None, message=str(exc)),)
    return tuple(
        Check(name=c.name, passed=c.passed, value=c.value, limit=c.limit, message=c.message)
        for c in (*target_checks, *turnover)
    )


def _holdings_check(proposed: Mapping[str, float], max_holdings: int | None) -> tuple[Check, ...]:
    """The number of positions the targets hold against ``max_holdings`` (none when unset)."""
    if max_holdings is None:
        return ()
    count = sum(1 for w in proposed.values() if abs(float(w)) > HOLDING_TOLERANCE)
    verdict = "within limit" if count <= max_holdings else "exceeds limit"
    return (Check(name="holdings", passed=count <= max_holdings, value=float(count), limit=float(max_holdings),
                  message=f"{count} positions vs limit {max_holdings}: {verdict}"),)


def _class_floor_checks(
    proposed: Mapping[str, float], limits: RiskLimits, asset_classes: Mapping[str, str]
) -> tuple[Check, ...]:
    """Each asset class with a lowest weight (``asset_class_bounds``) against it."""
    out = []
    for cls, lowest, _ in limits.asset_class_bounds:
        if lowest <= 0:
            continue
        weight = sum(float(w) for s, w in proposed.items() if asset_classes.get(s, "unknown") == cls)
        passed = weight >= lowest - HOLDING_TOLERANCE
        verdict = "within limit" if passed else "below the lowest weight"
        out.append(Check(name=f"asset_class_min:{cls}", passed=passed, value=weight, limit=lowest,
                         message=f"{cls} weight {weight:.2%} vs lowest {lowest:.2%}: {verdict}"))
    return tuple(out)


def turnover_of(current: Mapping[str, float], proposed: Mapping[str, float]) -> float:
    """One-way turnover ``sum |w_new - w_old| / 2``."""
    return sum(
        abs(float(proposed.get(s, 0.0)) - float(current.get(s, 0.0)))
        for s in set(current) | set(proposed)
    ) / 2.0
