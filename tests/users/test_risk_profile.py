"""The questionnaire scoring rule documented in users/risk_profile.py."""

import pytest

from users.risk_profile import QuestionnaireError, assess, horizon_points, tier_for_score

BOLD = {"age_band": "under_30", "income_stability": "very_stable", "loss_reaction": "buy_more",
        "experience": "advanced", "emergency_fund": "over_6_months"}
TIMID = {"age_band": "75_plus", "income_stability": "unstable", "loss_reaction": "sell_all",
         "experience": "none", "emergency_fund": "none"}


def test_maximum_answers_score_ten_and_aggressive():
    result = assess(BOLD, investment_horizon=30)
    assert (result.points, result.risk_score, result.risk_tier) == (20, 10, "aggressive")
    assert result.caps_applied == ()


def test_minimum_answers_score_one_and_conservative():
    result = assess(TIMID, investment_horizon=1)
    assert (result.points, result.risk_score, result.risk_tier) == (0, 1, "conservative")


def test_middle_answers_follow_the_formula():
    # 3 + 2 (horizon 8) + 2 + 2 + 1 + 2 = 12 points -> 1 + round(9 * 12 / 20) = 6
    answers = {"age_band": "30_44", "income_stability": "stable", "loss_reaction": "hold",
               "experience": "basic", "emergency_fund": "3_to_6_months"}
    result = assess(answers, investment_horizon=8)
    assert (result.points, result.risk_score, result.risk_tier) == (12, 6, "balanced")


def test_short_horizon_caps_the_score_at_three():
    result = assess(BOLD, investment_horizon=2)
    assert result.risk_score == 3
    assert result.risk_tier == "moderate"
    assert result.caps_applied == ("short_horizon",)


def test_panic_seller_is_capped_at_four():
    result = assess({**BOLD, "loss_reaction": "sell_all"}, investment_horizon=30)
    assert result.risk_score == 4
    assert result.caps_applied == ("loss_aversion",)


@pytest.mark.parametrize(("years", "points"), [(0, 0), (2, 0), (3, 1), (5, 1), (6, 2), (10, 2), (11, 3), (20, 3), (21, 4)])
def test_horizon_points(years, points):
    assert horizon_points(years) == points


@pytest.mark.parametrize(("score", "tier"), [(1, "conservative"), (2, "conservative"), (3, "moderate"), (4, "moderate"),
                                             (5, "balanced"), (6, "balanced"), (7, "growth"), (8, "growth"),
                                             (9, "aggressive"), (10, "aggressive")])
def test_tier_for_score(score, tier):
    assert tier_for_score(score) == tier


def test_a_bad_answer_names_its_field():
    with pytest.raises(QuestionnaireError) as info:
        assess({**BOLD, "experience": "guru"}, investment_horizon=10)
    assert info.value.field == "experience"
