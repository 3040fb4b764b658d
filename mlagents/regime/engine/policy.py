"""The regime → strategy policy and the regime-adaptive strategy (no Django).

A policy is a list of :class:`PolicyRule` rows (stored in the database and edited by
operators in the admin; :data:`DEFAULT_POLICY` seeds it). For a regime and a risk
tier, the most specific rule wins (the tier's own row over the ``"*"`` row); when
the regime's confidence is below the rule's ``min_confidence`` the rule's
``low_confidence_strategy`` is used instead — an uncertain regime call should not
swing the portfolio to an extreme allocation.

:class:`AdaptiveStrategy` applies the policy and delegates to the chosen optimizer
strategy from the registry, then holds back the rule's cash buffer. Its
explanation cites the regime and its confidence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from portfolios.strategies import (
    RegimeState,
    Strategy,
    StrategyContext,
    StrategyError,
    StrategyResult,
    strategy_get,
)

ANY_TIER = "*"

STRATEGY_LABELS = {
    "optimizer:max_sharpe": "maximum Sharpe ratio",
    "optimizer:risk_parity": "risk parity",
    "optimizer:min_volatility": "minimum volatility",
    "optimizer:min_variance": "minimum variance",
}


@dataclass(frozen=True)
class PolicyRule:
    """What to do in one regime for one risk tier (``"*"``: every tier)."""

    regime: str
    risk_tier: str
    strategy: str
    min_confidence: float = 0.6
    low_confidence_strategy: str = "optimizer:risk_parity"
    cash_buffer: float = 0.0


@dataclass(frozen=True)
class PolicyChoice:
    strategy: str
    cash_buffer: float
    confident: bool
    rule: PolicyRule


LEGACY_POLICY: tuple[PolicyRule, ...] = (
    PolicyRule("bull", ANY_TIER, "optimizer:max_sharpe"),
    PolicyRule("bull", "conservative", "optimizer:risk_parity"),
    PolicyRule("sideways", ANY_TIER, "optimizer:risk_parity"),
    *(
        PolicyRule("bear", tier, "optimizer:min_volatility", cash_buffer=buffer)
        for tier, buffer in (("*", 0.20), ("conservative", 0.30), ("moderate", 0.25), ("growth", 0.15),
                             ("aggressive", 0.10))
    ),
)
"""The first default (max Sharpe in bull markets, 10-30 % extra cash in bear ones): it lost
to monthly equal weight after taxes on the evaluation's tuning windows (its switches
between a concentrated and a defensive mix realised short-term gains); kept to recognise
stored rows that still hold it (migration 0003)."""

DEFAULT_POLICY: tuple[PolicyRule, ...] = (
    PolicyRule("bull", ANY_TIER, "equal_weight"),
    PolicyRule("sideways", ANY_TIER, "optimizer:risk_parity"),
    PolicyRule("bear", ANY_TIER, "optimizer:min_volatility"),
)
"""Diversified in every regime, tilted to low risk as the market turns: equal weight in
bull markets, risk parity sideways (and on uncertain calls), minimum volatility in bear
markets. No extra cash: the risk overlay scales exposure to the tier's volatility target
in every regime, so a bear call does not de-risk twice. Chosen on the evaluation's tuning
windows (docs/EVIDENCE.md)."""


def policy_choose(rules: Sequence[PolicyRule], regime: RegimeState, risk_tier: str) -> PolicyChoice:
    """The strategy and cash buffer for ``regime`` and ``risk_tier``.

    Raises :class:`StrategyError` when no rule covers the regime.
    """
    matching = [r for r in rules if r.regime == regime.regime and r.risk_tier in (risk_tier, ANY_TIER)]
    if not matching:
        raise StrategyError(
            f"the regime policy has no rule for regime {regime.regime!r} and tier {risk_tier!r}"
        )
    rule = min(matching, key=lambda r: r.risk_tier == ANY_TIER)  # the tier's own row first
    confident = regime.confidence >= rule.min_confidence
    strategy = rule.strategy if confident else rule.low_confidence_strategy
    return PolicyChoice(strategy, rule.cash_buffer if confident else 0.0, confident, rule)


def _describe(name: str) -> str:
    return STRATEGY_LABELS.get(name, name)


class AdaptiveStrategy:
    """Switch strategy with the market regime (registered as ``regime_adaptive``).

    ``rules``: returns the current policy rows; ``regime_at``: the stored regime for a
    date (used when the context carries none); ``lookup``: the strategy registry.
    """

    name = "regime_adaptive"

    def __init__(
        self,
        rules: Callable[[], Sequence[PolicyRule]],
        regime_at: Callable[[date], RegimeState | None],
        lookup: Callable[[str], Strategy] = strategy_get,
    ) -> None:
        self._rules = rules
        self._regime_at = regime_at
        self._lookup = lookup

    def target_weights(self, ctx: StrategyContext) -> StrategyResult:
        regime = ctx.regime or self._regime_at(ctx.as_of)
        if regime is None:
            # No call yet (the detector has not run, or not enough history): act as on an
            # uncertain call, with the cautious low-confidence strategy, and say so.
            regime = RegimeState(regime="sideways", confidence=0.0)
        choice = policy_choose(self._rules(), regime, ctx.risk_tier)
        if choice.strategy == self.name:
            raise StrategyError("the regime policy cannot delegate to regime_adaptive itself")
        delegate = self._lookup(choice.strategy).target_weights(ctx)
        keep = 1.0 - choice.cash_buffer
        weights = {s: float(w) * keep for s, w in delegate.weights.items()}
        explanation = self._explain(regime, ctx.risk_tier, choice, delegate)
        return StrategyResult(
            weights=weights,
            confidence=min(float(regime.confidence), float(delegate.confidence)),
            explanation=explanation,
            strategy=self.name,
            details={
                "regime": regime.regime,
                "regime_confidence": float(regime.confidence),
                "regime_probabilities": dict(regime.probabilities),
                "regime_changed": bool(regime.changed),
                "chosen_strategy": choice.strategy,
                "confident": choice.confident,
                "min_confidence": choice.rule.min_confidence,
                "cash_buffer": choice.cash_buffer,
                "delegate": {"explanation": delegate.explanation, "confidence": delegate.confidence,
                             "details": dict(delegate.details)},
            },
        )

    @staticmethod
    def _explain(regime: RegimeState, tier: str, choice: PolicyChoice, delegate: StrategyResult) -> str:
        head = f"Market regime: {regime.regime} (confidence {regime.confidence:.0%})"
        if regime.changed:
            head += ", changed since the previous trading day"
        if choice.confident:
            why = (f"the policy for a {tier} portfolio in a {regime.regime} market is "
                   f"{_describe(choice.strategy)}")
        else:
            why = (f"the confidence is below the policy's {choice.rule.min_confidence:.0%} threshold, "
                   f"so the cautious {_describe(choice.strategy)} is used instead of "
                   f"{_describe(choice.rule.strategy)}")
        cash = f", holding {choice.cash_buffer:.0%} in cash" if choice.cash_buffer > 0 else ""
        return f"{head}; {why}{cash}. {delegate.explanation}".strip()
