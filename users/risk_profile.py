"""The risk questionnaire and its scoring rule (pure Python, no Django).

Six standard questions, each answer worth points (higher = more risk capacity or
tolerance)::

    age_band                under_30:4  30_44:3  45_59:2  60_74:1  75_plus:0
    investment_horizon      years: <3:0  3-5:1  6-10:2  11-20:3  >20:4
    income_stability        unstable:0  variable:1  stable:2  very_stable:3
    loss_reaction           sell_all:0  sell_some:1  hold:2  buy_more:3
                            ("your portfolio falls 20 % in a month; you...")
    experience              none:0  basic:1  intermediate:2  advanced:3
    emergency_fund          none:0  under_3_months:1  3_to_6_months:2  over_6_months:3

``points`` is their sum (0..20) and ``risk_score = 1 + round(9 * points / 20)`` (1..10).
Two caps protect investors whose answers conflict: a horizon under 3 years caps the
score at 3, and ``loss_reaction = sell_all`` caps it at 4 (someone who would sell
everything after a 20 % fall must not hold a growth portfolio). The tier follows the
score: 1-2 conservative, 3-4 moderate, 5-6 balanced, 7-8 growth, 9-10 aggressive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

AGE_BAND = {"under_30": 4, "30_44": 3, "45_59": 2, "60_74": 1, "75_plus": 0}
INCOME_STABILITY = {"unstable": 0, "variable": 1, "stable": 2, "very_stable": 3}
LOSS_REACTION = {"sell_all": 0, "sell_some": 1, "hold": 2, "buy_more": 3}
EXPERIENCE = {"none": 0, "basic": 1, "intermediate": 2, "advanced": 3}
EMERGENCY_FUND = {"none": 0, "under_3_months": 1, "3_to_6_months": 2, "over_6_months": 3}

CHOICES: dict[str, dict[str, int]] = {
    "age_band": AGE_BAND,
    "income_stability": INCOME_STABILITY,
    "loss_reaction": LOSS_REACTION,
    "experience": EXPERIENCE,
    "emergency_fund": EMERGENCY_FUND,
}
MAX_POINTS = 4 + 4 + 3 + 3 + 3 + 3
MAX_HORIZON_YEARS = 80
TIERS = ("conservative", "moderate", "balanced", "growth", "aggressive")


class QuestionnaireError(ValueError):
    """An answer is missing or not one of the allowed values."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class RiskAssessment:
    points: int
    risk_score: int  # 1..10
    risk_tier: str  # one of TIERS
    caps_applied: tuple[str, ...]


def horizon_points(years: int) -> int:
    if years < 3:
        return 0
    if years <= 5:
        return 1
    if years <= 10:
        return 2
    if years <= 20:
        return 3
    return 4


def tier_for_score(score: int) -> str:
    if not 1 <= score <= 10:
        raise ValueError(f"risk score must be within 1..10, got {score}")
    return TIERS[(score - 1) // 2]


def assess(answers: dict[str, Any], *, investment_horizon: int) -> RiskAssessment:
    """Score a complete questionnaire; raise :class:`QuestionnaireError` naming a bad field."""
    points = 0
    for name, table in CHOICES.items():
        value = answers.get(name)
        if value not in table:
            allowed = ", ".join(table)
            raise QuestionnaireError(name, f"{name} must be one of: {allowed}")
        points += table[value]
    if not isinstance(investment_horizon, int) or not 0 <= investment_horizon <= MAX_HORIZON_YEARS:
        raise QuestionnaireError(
            "investment_horizon", f"investment_horizon must be whole years in 0..{MAX_HORIZON_YEARS}"
        )
    points += horizon_points(investment_horizon)
    score = 1 + round(9 * points / MAX_POINTS)
    caps: list[str] = []
    if investment_horizon < 3 and score > 3:
        score, caps = 3, [*caps, "short_horizon"]
    if answers["loss_reaction"] == "sell_all" and score > 4:
        score, caps = 4, [*caps, "loss_aversion"]
    return RiskAssessment(points=points, risk_score=score, risk_tier=tier_for_score(score), caps_applied=tuple(caps))
