"""limits_validate: the one check of a portfolio's limit overrides (the API's and the admin's)."""

from decimal import Decimal as D

import pytest

from common.errors import Unprocessable
from portfolios.models import PortfolioLimits
from portfolios.services import autonomy_update, limits_validate


def test_the_limits_in_force_with_the_overrides_and_the_portfolios_tier_horizon_and_buffer(portfolio):
    # given a conservative portfolio over 5 years with a 10 % buffer
    autonomy_update(portfolio=portfolio, data={"risk_tolerance": "conservative", "investment_horizon": 5,
                                               "cash_buffer": D("0.1")})
    # when
    limits = limits_validate(portfolio_id=portfolio.pk, overrides=PortfolioLimits(max_position=0.15, max_holdings=8))
    # then
    assert (limits.tier, limits.horizon_years, limits.cash_buffer) == ("conservative", 5.0, 0.1)
    assert (limits.max_position, limits.max_holdings) == (0.15, 8)
    assert not PortfolioLimits.objects.filter(portfolio=portfolio).exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"asset_class_bounds": {"equity": [0.6, 0.9]}}, "asset_class_bounds",
         "the sleeves' lowest weights add up to 105%, more than the whole portfolio"),
        ({"asset_class_bounds": {"equity": [0.9, 0.2]}}, "asset_class_bounds.equity",
         "asset_class_bounds.equity must satisfy 0 <= lowest <= highest <= 1, got [0.9, 0.2]"),
        ({"max_position": 1.5}, "max_position", "max_position must be a fraction in (0, 1], got 1.5"),
    ],
)
def test_overrides_that_cannot_hold_together_are_422_naming_the_field(portfolio, overrides, field, message):
    # given a 35 % buffer (balanced: bonds at least 10 %)
    autonomy_update(portfolio=portfolio, data={"cash_buffer": D("0.35")})
    # when
    with pytest.raises(Unprocessable) as err:
        limits_validate(portfolio_id=portfolio.pk, overrides=PortfolioLimits(**overrides))
    # then
    assert (err.value.code, err.value.field, err.value.message) == ("inconsistent_limits", field, message)


def test_a_portfolio_not_saved_yet_is_checked_against_the_defaults(db):
    # when: 60 % equity + 10 % bonds + the default 2 % buffer fit
    limits = limits_validate(portfolio_id=None, overrides=PortfolioLimits(asset_class_bounds={"equity": [0.6, 0.9]}))
    # then
    assert (limits.tier, limits.cash_buffer, limits.sleeve_ranges["equity"]) == ("balanced", 0.02, (0.6, 0.9))
