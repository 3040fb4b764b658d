"""Plain-language explanation of a cycle decision, for the investor's app.

:func:`summary_of` writes a few sentences a retail investor can read: what happened
(traded, held, skipped), why (the triggers), what the strategy or the risk override
chose, what it costs, and how expected return, volatility and VaR move. The structured
record (every trigger, check and trade with its numbers) is kept next to it by
:func:`decision_explanation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rebalancer.autopilot.types import CycleDecision, DecisionFacts, Metrics


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _metrics_sentence(before: Metrics, after: Metrics) -> str:
    return (
        f"Expected return moves from {before.expected_return:.1%} to {after.expected_return:.1%} "
        f"a year, volatility from {before.volatility:.1%} to {after.volatility:.1%}, and the "
        f"one-day loss not exceeded on 95% of days (VaR) from {before.var_95:.2%} to "
        f"{after.var_95:.2%}."
    )


def _overlay_sentence(decision: CycleDecision) -> str | None:
    record = decision.overlay
    if record is None or not (record.events or record.multiplier < 0.999):
        return None
    if record.notes:
        return " ".join(n[0].upper() + n[1:] + "." for n in record.notes)
    return (
        f"The risk overlay holds {record.multiplier:.0%} of the strategy's risky assets "
        f"(forecast volatility {record.forecast_volatility:.1%} a year against a target of "
        f"{record.target_volatility:.0%})."
    )


def summary_of(decision: CycleDecision) -> str:
    """A short paragraph in plain words; deterministic for a given decision."""
    if decision.action == "skipped":
        return decision.skipped_reason or "The cycle was skipped."
    reasons = _join([t.message for t in decision.triggers])
    if decision.action == "hold" and not decision.trades:
        if not decision.triggers:
            return (
                "No change was needed today: every holding is within its band around the targets, "
                "no review is due, there is no new cash to invest and the risk overlay did not move."
            )
        sentences = [f"We reviewed your portfolio because {reasons}."]
        if decision.reviewed and decision.strategy_result is not None:
            sentences.append(decision.strategy_result.explanation)
        gate = [n for n in decision.notes if n.startswith("Drift left alone")]
        sentences.append(gate[0] if gate else "Every holding is within its band around the targets, so nothing was traded.")
        return " ".join(sentences)
    sentences = [f"We reviewed your portfolio because {reasons}."]
    if decision.override is not None:
        sentences.append(
            f"To protect it, we moved to a defensive allocation ({decision.override.allocation}) because "
            f"{decision.override.reason}."
        )
    elif decision.reviewed and decision.strategy_result is not None:
        sentences.append(decision.strategy_result.explanation)
    if decision.projection_notes and decision.override is None:
        sentences.append("To keep within your limits: " + "; ".join(decision.projection_notes) + ".")
    overlay = _overlay_sentence(decision) if decision.override is None else None
    if overlay:
        sentences.append(overlay)
    if decision.trades:
        sells = [t for t in decision.trades if t.side == "sell"]
        buys = [t for t in decision.trades if t.side == "buy"]
        value = sum(t.value for t in decision.trades)
        cost = sum(t.est_cost for t in decision.trades)
        sentences.append(
            f"This takes {len(sells)} sale(s) and {len(buys)} purchase(s) worth "
            f"{value:,.2f} in total, with an estimated cost of {cost:,.2f}."
        )
        if decision.harvested_loss > 0:
            sentences.append(
                f"We also realised {decision.harvested_loss:,.2f} of losses to lower your taxes, "
                "switching to similar assets and avoiding wash sales."
            )
    else:
        sentences.append("Every needed trade was smaller than the minimum trade size, so nothing was traded.")
    if decision.before is not None and decision.after is not None and decision.trades:
        sentences.append(_metrics_sentence(decision.before, decision.after))
    failed = [c for c in decision.checks if not c.passed]
    if decision.checks:
        if failed:
            sentences.append(
                f"{len(failed)} of {len(decision.checks)} risk checks did not pass for the targets "
                "(details below)."
            )
        else:
            sentences.append(f"All {len(decision.checks)} risk checks passed.")
    return " ".join(sentences)


def _metrics_dict(m: Metrics | None) -> dict[str, float] | None:
    if m is None:
        return None
    return {
        "expected_return": round(m.expected_return, 6),
        "volatility": round(m.volatility, 6),
        "var_95": round(m.var_95, 6),
        "cash_weight": round(m.cash_weight, 6),
    }


def _overlay_dict(decision: CycleDecision) -> dict[str, Any] | None:
    record = decision.overlay
    if record is None:
        return None
    return {
        "multiplier": round(record.multiplier, 6),
        "exposure": round(record.exposure, 6),
        "forecast_volatility": round(record.forecast_volatility, 6),
        "target_volatility": round(record.target_volatility, 6),
        "derisked": record.derisked,
        "drawdown": round(record.drawdown, 6),
        "var_forecast": round(record.var_forecast, 6),
        "final_volatility": round(record.final_volatility, 6),
        "events": list(record.events),
        "notes": list(record.notes),
    }


def _num(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def facts_dict(facts: DecisionFacts | None) -> dict[str, Any] | None:
    """JSON-able form of :class:`DecisionFacts` (read back by ``wording.record_from_dict``)."""
    if facts is None:
        return None
    gate = facts.gate
    return {
        "strategy": facts.strategy, "tier": facts.tier, "horizon_years": _num(facts.horizon_years),
        "horizon_factor": _num(facts.horizon_factor), "calendar": facts.calendar,
        "rebalance_threshold": _num(facts.rebalance_threshold), "cash_buffer": _num(facts.cash_buffer),
        "max_position": _num(facts.max_position), "volatility_target": _num(facts.volatility_target),
        "max_var_95": _num(facts.max_var_95), "max_drawdown": _num(facts.max_drawdown),
        "derisk_exposure": _num(facts.derisk_exposure), "max_turnover": _num(facts.max_turnover),
        "sleeve_ranges": {k: [_num(lo), _num(hi)] for k, (lo, hi) in sorted(facts.sleeve_ranges.items())},
        "sleeves": dict(sorted(facts.sleeves.items())),
        "adjustments": [
            {"kind": a.kind, "symbols": list(a.symbols), "sleeve": a.sleeve, "wanted": _num(a.wanted),
             "got": _num(a.got), "limit": _num(a.limit),
             "pairs": [[s, _num(w), _num(g)] for s, w, g in a.pairs]}
            for a in facts.adjustments
        ],
        "swept": {s: _num(w) for s, w in sorted(facts.swept.items())},
        "gate": None if gate is None else {
            "passed": gate.passed, "benefit": round(gate.benefit, 4), "trading_cost": round(gate.trading_cost, 4),
            "tax_cost": round(gate.tax_cost, 4),
        },
    }


def _weights_dict(weights: Mapping[str, float]) -> dict[str, float]:
    return {s: round(w, 6) for s, w in sorted(weights.items())}


def _triggers_list(decision: CycleDecision) -> list[dict[str, Any]]:
    return [
        {"kind": t.kind, "message": t.message, "value": _num(t.value), "threshold": _num(t.threshold),
         "symbol": t.symbol}
        for t in decision.triggers
    ]


def _override_dict(decision: CycleDecision) -> dict[str, Any] | None:
    override = decision.override
    if not override:
        return None
    return {"source": override.source, "reason": override.reason, "allocation": override.allocation}


def _checks_list(decision: CycleDecision) -> list[dict[str, Any]]:
    return [
        {"name": c.name, "passed": c.passed, "value": _num(c.value), "limit": _num(c.limit), "message": c.message}
        for c in decision.checks
    ]


def _trades_list(decision: CycleDecision) -> list[dict[str, Any]]:
    return [
        {
            "symbol": t.symbol,
            "side": t.side,
            "quantity": round(t.quantity, 8),
            "price": round(t.price, 6),
            "value": round(t.value, 4),
            "est_cost": round(t.est_cost, 4),
            "reason": t.reason,
            "harvest": t.harvest,
        }
        for t in decision.trades
    ]


def decision_explanation(decision: CycleDecision) -> dict[str, Any]:
    """The structured explanation stored with the decision (JSON-able)."""
    result = decision.strategy_result
    return {
        "as_of": decision.as_of.isoformat(),
        "action": decision.action,
        "summary": decision.summary,
        "skipped_reason": decision.skipped_reason,
        "triggers": _triggers_list(decision),
        "strategy": decision.strategy,
        "strategy_explanation": result.explanation if result else None,
        "confidence": round(decision.confidence, 6),
        "override": _override_dict(decision),
        "current_weights": _weights_dict(decision.current_weights),
        "target_weights": _weights_dict(decision.target_weights),
        "before": _metrics_dict(decision.before),
        "after": _metrics_dict(decision.after),
        "checks": _checks_list(decision),
        "trades": _trades_list(decision),
        "raw_weights": _weights_dict(decision.raw_weights),
        "strategic_weights": _weights_dict(decision.strategic_weights),
        "projection": list(decision.projection_notes),
        "overlay": _overlay_dict(decision),
        "reviewed": decision.reviewed,
        "total_value": round(decision.total_value, 4),
        "harvested_loss": round(decision.harvested_loss, 4),
        "notes": list(decision.notes),
        "skip_kind": decision.skip_kind,
        "facts": facts_dict(decision.facts),
    }
