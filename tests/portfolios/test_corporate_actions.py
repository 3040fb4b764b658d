"""Corporate actions in the ledger: splits and dividends applied to holders once (services)."""

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from marketdata.models import Asset, CorporateAction
from portfolios.models import (
    AutonomySettings,
    CashMovement,
    CorporateActionApplication,
    LotClosing,
    Portfolio,
    Position,
    TaxLot,
    Trade,
)
from portfolios.services import corporate_actions_apply, ledger_audit, trades_execute
from portfolios.trading import ProposedTrade

DAY1, DAY2, DAY3 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)


def order(symbol, side, qty, **kw):
    return ProposedTrade(symbol=symbol, side=side, quantity=D(str(qty)), est_price=D(0), est_cost=D(0), reason=side, **kw)


def action(symbol, day, kind, ratio=None, numerator=None, denominator=None, **kw):
    return CorporateAction.objects.create(
        asset=Asset.objects.get(symbol=symbol), date=day, kind=kind, ratio=ratio, numerator=numerator,
        denominator=denominator, **kw,
    )


@pytest.fixture
def holder(portfolio):
    """10 AAA bought on DAY1 (cost 1002.0010), 5 BBB bought on DAY1."""
    trades_execute(portfolio=portfolio, trades=[order("AAA", "buy", 10), order("BBB", "buy", 5)], as_of=DAY1)
    portfolio.refresh_from_db()
    return portfolio


def test_a_split_multiplies_lots_and_the_position_keeps_basis_and_dates_and_applies_once(holder):
    # given a 2-for-1 split of AAA on DAY2
    split = action("AAA", DAY2, "split", ratio=D(2), numerator=D(2), denominator=D(1))
    version = holder.ledger_version
    # when applied, twice
    first = corporate_actions_apply(as_of=DAY3)
    second = corporate_actions_apply(as_of=DAY3)
    # then
    lot = TaxLot.objects.get(portfolio=holder, asset__symbol="AAA")
    assert (lot.quantity_original, lot.quantity_open, lot.cost_basis, lot.cost_basis_open, lot.acquired_on) == (
        D(20), D(20), D("1002.0010"), D("1002.0010"), DAY1,
    )
    assert Position.objects.get(portfolio=holder, asset__symbol="AAA").quantity == D(20)
    application = CorporateActionApplication.objects.get()
    assert (application.action, application.status, application.shares, application.quantity_delta) == (
        split, "applied", D(10), D(10),
    )
    assert (first.applied, second.total) == (1, 0)
    holder.refresh_from_db()
    assert holder.ledger_version == version + 1  # a proposal sized before the split is stale
    assert ledger_audit() == []


def test_a_reverse_split_of_a_partly_sold_lot_keeps_the_closed_shares_on_the_old_lot(holder):
    # given 4 of the 10 AAA sold on DAY2, then a 1-for-4 reverse split on DAY3
    trades_execute(portfolio=holder, trades=[order("AAA", "sell", 4)], as_of=DAY2)
    action("AAA", DAY3, "split", ratio=D("0.25"), numerator=D(1), denominator=D(4))
    old = TaxLot.objects.get(portfolio=holder, asset__symbol="AAA")
    basis_open = old.cost_basis_open
    # when
    corporate_actions_apply(as_of=DAY3)
    # then the 6 open shares became 1.5 on a lot split off the old one, with their basis
    old.refresh_from_db()
    new = TaxLot.objects.get(split_from=old)
    assert (old.quantity_original, old.quantity_open, old.cost_basis_open) == (D(4), D(0), D(0))
    assert (new.quantity_original, new.quantity_open, new.cost_basis, new.acquired_on) == (
        D("1.5"), D("1.5"), basis_open, DAY1,
    )
    assert Position.objects.get(portfolio=holder, asset__symbol="AAA").quantity == D("1.5")
    assert ledger_audit() == []


def test_shares_bought_on_the_ex_date_are_not_entitled_and_shares_sold_on_it_are(portfolio):
    # given 10 BBB bought on DAY1 and sold on DAY2, 10 CCC bought on DAY2; dividends ex DAY2
    trades_execute(portfolio=portfolio, trades=[order("BBB", "buy", 10)], as_of=DAY1)
    trades_execute(portfolio=portfolio, trades=[order("BBB", "sell", 10), order("CCC", "buy", 10)], as_of=DAY2)
    action("BBB", DAY2, "dividend", ratio=D("0.5"))
    action("CCC", DAY2, "dividend", ratio=D("0.5"))
    # when
    corporate_actions_apply(as_of=DAY3)
    # then only BBB pays: 10 x 0.50 = 5.00 on the ex-date (no pay date known)
    (movement,) = CashMovement.objects.filter(kind="dividend")
    assert (movement.amount, movement.at) == (D("5.0000"), datetime(2024, 1, 3, 12, 0, tzinfo=UTC))
    assert CorporateActionApplication.objects.get().status == "paid"
    assert ledger_audit() == []


def test_a_dividend_accrues_at_the_ex_date_and_is_paid_once_on_the_pay_date(holder):
    # given 0.3333 per BBB share, ex DAY2, paid DAY3, qualified
    action("BBB", DAY2, "dividend", ratio=D("0.3333"), pay_date=DAY3, qualified=True)
    cash = holder.cash
    # when the day before the pay date
    before = corporate_actions_apply(as_of=DAY2)
    application = CorporateActionApplication.objects.get()
    # then accrued: 5 x 0.3333 = 1.6665 → 1.67 due, no cash yet
    assert (before.accrued, application.status, application.amount, application.qualified_amount) == (
        1, "accrued", D("1.6700"), D("1.6700"),
    )
    assert not CashMovement.objects.filter(kind="dividend").exists()
    # when the pay date comes (and the job runs twice)
    corporate_actions_apply(as_of=DAY3)
    corporate_actions_apply(as_of=DAY3)
    # then one movement, the cash, and the application points at it
    application.refresh_from_db()
    (movement,) = CashMovement.objects.filter(kind="dividend")
    holder.refresh_from_db()
    assert (application.status, application.cash_movement, movement.amount) == ("paid", movement, D("1.67"))
    assert holder.cash == cash + D("1.67")
    assert ledger_audit() == []


def test_a_dividend_is_reinvested_when_the_portfolio_reinvests(holder):
    # given
    Portfolio.objects.filter(pk=holder.pk).update(reinvest_dividends=True)
    action("BBB", DAY2, "dividend", ratio=D("2"), pay_date=DAY3)
    # when
    corporate_actions_apply(as_of=DAY3)
    # then 10.00 buys 10 / 49.5 = 0.20202020 BBB at the DAY3 close (9.9999999 → 10.0000), without costs
    application = CorporateActionApplication.objects.get()
    trade = application.reinvestment
    assert (trade.side, trade.quantity, trade.price, trade.commission, trade.cash_flow, trade.broker, trade.tags) == (
        "buy", D("0.20202020"), D("49.5"), D(0), D("-10.0000"), "drip", ["dividend_reinvestment"],
    )
    assert Position.objects.get(portfolio=holder, asset__symbol="BBB").quantity == D("5.20202020")
    assert ledger_audit() == []


def test_a_split_of_an_adjusted_price_asset_is_not_applied(holder):
    # given AAA's closes are adjusted closes (a wide CSV import): the split is in them already
    Asset.objects.filter(symbol="AAA").update(price_basis="adjusted")
    action("AAA", DAY2, "split", ratio=D(2), numerator=D(2), denominator=D(1))
    action("AAA", DAY2, "dividend", ratio=D(1))
    # when
    corporate_actions_apply(as_of=DAY3)
    # then nothing moved, and the two applications say why
    assert Position.objects.get(portfolio=holder, asset__symbol="AAA").quantity == D(10)
    assert sorted(CorporateActionApplication.objects.values_list("kind", "status")) == [
        ("dividend", "not_applicable"), ("split", "not_applicable"),
    ]
    assert not CashMovement.objects.filter(kind="dividend").exists()


def test_a_split_recorded_after_the_portfolio_traded_past_it_needs_review_and_pauses_autonomy(holder):
    # given AAA traded on DAY3, then a split dated DAY2 is recorded
    trades_execute(portfolio=holder, trades=[order("AAA", "sell", 1)], as_of=DAY3)
    action("AAA", DAY2, "split", ratio=D(2), numerator=D(2), denominator=D(1))
    # when
    corporate_actions_apply(as_of=DAY3)
    # then nothing changes in the ledger; an operator must look
    application = CorporateActionApplication.objects.get()
    assert application.status == "needs_review"
    assert Position.objects.get(portfolio=holder, asset__symbol="AAA").quantity == D(9)
    autonomy = AutonomySettings.objects.get(portfolio=holder)
    assert not autonomy.enabled and "operator must review" in autonomy.paused_reason


def test_a_whole_share_portfolio_gets_cash_in_lieu_of_the_fraction(holder):
    # given whole shares only and a 3-for-2 split of 5 BBB → 7.5 shares
    AutonomySettings.objects.filter(portfolio=holder).update(fractional_shares=False)
    action("BBB", DAY2, "split", ratio=D("1.5"), numerator=D(3), denominator=D(2))
    # when
    corporate_actions_apply(as_of=DAY3)
    # then half a share is sold at the ex-date close (49), without costs
    trade = Trade.objects.get(broker="corporate_action")
    assert (trade.side, trade.quantity, trade.price, trade.cash_flow, trade.trade_date, trade.tags) == (
        "sell", D("0.5"), D(49), D("24.5000"), DAY2, ["cash_in_lieu"],
    )
    assert Position.objects.get(portfolio=holder, asset__symbol="BBB").quantity == D(7)
    assert LotClosing.objects.get(trade=trade).quantity == D("0.5")
    assert ledger_audit() == []


def test_an_action_waits_for_a_bar_on_its_ex_date(holder):
    # given a split dated after the last bar (DAY3)
    action("AAA", date(2024, 1, 5), "split", ratio=D(2), numerator=D(2), denominator=D(1))
    # when
    result = corporate_actions_apply(as_of=date(2024, 1, 5))
    # then
    assert result.total == 0 and Position.objects.get(portfolio=holder, asset__symbol="AAA").quantity == D(10)


def test_backfilled_snapshots_value_a_split_and_an_accrued_dividend_without_a_jump(holder):
    from marketdata.models import PriceBar
    from portfolios.models import PortfolioSnapshot
    from portfolios.services import snapshot_take, snapshots_backfill

    # given AAA splits 2-for-1 on DAY3 (its close halves: 90 → 45); BBB pays 1.00, ex DAY2, paid DAY3
    PriceBar.objects.filter(asset__symbol="AAA", date=DAY3).update(close=D(45))
    action("AAA", DAY3, "split", ratio=D(2), numerator=D(2), denominator=D(1))
    action("BBB", DAY2, "dividend", ratio=D(1), pay_date=DAY3)
    corporate_actions_apply(as_of=DAY3)
    CashMovement.objects.filter(kind="deposit").update(at=datetime(2024, 1, 1, tzinfo=UTC))  # funded before DAY1
    # when
    snapshots_backfill(portfolio=holder, start=DAY1, end=DAY3)
    # then cash after the buys 8,746.749; DAY2 owes the 5.00 dividend (in the value, not in cash);
    # DAY3 holds 20 AAA at 45 (= 10 at 90) and the dividend in cash
    values = dict(PortfolioSnapshot.objects.filter(portfolio=holder).values_list("date", "value"))
    assert values[DAY2] == D("8746.7490") + 10 * D(101) + 5 * D(49) + D(5)
    assert values[DAY3] == D("8751.7490") + 20 * D(45) + 5 * D("49.5")
    assert snapshot_take(portfolio=holder, as_of=DAY3).value == values[DAY3]
