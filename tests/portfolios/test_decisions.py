"""Advise mode: approving executes exactly once; stale, executed or rejected → 409."""

from datetime import date
from decimal import Decimal as D

import pytest

from common.errors import Conflict
from portfolios.models import Decision, Trade
from portfolios.services import (
    approval_check_register,
    cash_deposit,
    decision_approve,
    decision_create,
    decision_execute,
    decision_reject,
    ledger_audit,
    proposals_expire,
)
from portfolios.services import decisions as decisions_module
from portfolios.trading import ProposedTrade

DAY1, DAY2, DAY3 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)


def proposal(portfolio, as_of=DAY1, symbol="BBB", qty="10", price="50"):
    trade = ProposedTrade(symbol=symbol, side="buy", quantity=D(qty), est_price=D(price), est_cost=D(0), reason="buy to target", price=D(price))
    return decision_create(
        portfolio=portfolio, as_of=as_of, mode="advise", strategy="optimizer:max_sharpe",
        triggers=[{"kind": "cash", "message": "cash to invest"}], trades=[trade], summary="Invest cash in BBB.",
    )


def test_approve_executes_the_stored_trades_once(portfolio, owner):
    # given a proposal at DAY2 (BBB 49 now, sized at 49.5 → within 2 %); latest close DAY3 = 49.5
    decision = proposal(portfolio, as_of=DAY2, price="49")
    # when
    approved = decision_approve(decision=decision, user=owner)
    # then it executed at the latest close (DAY3, one trading day later)
    assert approved.status == Decision.Status.EXECUTED and approved.decided_by == owner
    (trade,) = Trade.objects.filter(decision=decision)
    assert (trade.quantity, trade.market_price, trade.trade_date) == (D(10), D("49.5"), DAY3)
    # and a second approval is a 409 that changes nothing
    with pytest.raises(Conflict) as err:
        decision_approve(decision=decision.pk, user=owner)
    assert err.value.code == "proposal_not_pending"
    assert Trade.objects.count() == 1
    assert ledger_audit() == []


def test_a_proposal_more_than_one_trading_day_old_expires(portfolio, owner):
    # given a proposal at DAY1; DAY2 and DAY3 came since
    decision = proposal(portfolio, as_of=DAY1)
    # when
    with pytest.raises(Conflict) as err:
        decision_approve(decision=decision, user=owner)
    # then
    assert err.value.code == "proposal_stale"
    decision.refresh_from_db()
    assert decision.status == Decision.Status.EXPIRED and "trading days old" in decision.status_reason
    assert Trade.objects.count() == 0


def test_a_proposal_whose_prices_moved_is_stale(portfolio, owner):
    # given AAA sized at 101 (DAY2); the DAY3 close is 90 (-10.9 %)
    decision = proposal(portfolio, as_of=DAY2, symbol="AAA", qty="1", price="101")
    with pytest.raises(Conflict) as err:
        decision_approve(decision=decision, user=owner)
    assert err.value.code == "proposal_stale" and "moved" in err.value.message
    assert Trade.objects.count() == 0


def test_a_ledger_change_since_the_proposal_makes_it_stale(portfolio, owner):
    decision = proposal(portfolio, as_of=DAY2, price="49.5")
    cash_deposit(portfolio=portfolio, amount=D("1"))
    with pytest.raises(Conflict) as err:
        decision_approve(decision=decision, user=owner)
    assert "portfolio changed" in err.value.message
    assert Trade.objects.count() == 0


def test_reject_records_the_reason_and_blocks_approval(portfolio, owner):
    decision = proposal(portfolio, as_of=DAY2, price="49.5")
    decision_reject(decision=decision, user=owner, reason="not now")
    decision.refresh_from_db()
    assert (decision.status, decision.status_reason) == ("rejected", "not now")
    with pytest.raises(Conflict):
        decision_approve(decision=decision, user=owner)
    with pytest.raises(Conflict):
        decision_reject(decision=decision, user=owner)
    assert Trade.objects.count() == 0


def test_a_registered_check_can_block_approval_without_changing_anything(portfolio, owner, monkeypatch):
    # given a check (e.g. the kill switch) that refuses
    monkeypatch.setattr(decisions_module, "_APPROVAL_CHECKS", [])

    def kill_switch(decision, portfolio, execution_date):
        raise Conflict("trading is halted by the operator", code="kill_switch")

    approval_check_register(kill_switch)
    decision = proposal(portfolio, as_of=DAY2, price="49.5")
    # when
    with pytest.raises(Conflict) as err:
        decision_approve(decision=decision, user=owner)
    # then
    assert err.value.code == "kill_switch"
    decision.refresh_from_db()
    assert decision.status == "proposed" and Trade.objects.count() == 0


def test_decision_execute_runs_an_autopilot_decision_at_its_as_of(portfolio):
    decision = proposal(portfolio, as_of=DAY1)
    decision_execute(decision=decision)
    assert decision.status == "executed"
    assert Trade.objects.get().trade_date == DAY1
    with pytest.raises(Conflict):
        decision_execute(decision=decision)


SIX = ["S1", "S2", "S3", "S4", "S5", "S6"]
WEEK = [date(2024, 2, 5), date(2024, 2, 6), date(2024, 2, 7), date(2024, 2, 8), date(2024, 2, 9)]


def six_symbol_proposal(portfolio, as_of):
    trades = [
        ProposedTrade(symbol=s, side="buy", quantity=D(1), est_price=D(100), est_cost=D(0), reason="buy", price=D(100))
        for s in SIX
    ]
    return decision_create(portfolio=portfolio, as_of=as_of, mode="advise", trades=trades, summary="Buy six.")


def test_trading_days_between_counts_each_date_once_whatever_the_number_of_symbols(portfolio, bars_make):
    from portfolios.prices import trading_days_between

    for k, day in enumerate(WEEK):
        bars_make(day, {s: str(100 + k) for s in SIX})
    assert trading_days_between(symbols=SIX, after=WEEK[0], through=WEEK[1]) == [WEEK[1]]
    assert trading_days_between(symbols=SIX, after=WEEK[0], through=WEEK[3]) == WEEK[1:4]


def test_a_six_symbol_proposal_is_approved_the_next_day_on_several_days_and_expires_after_two(portfolio, owner, bars_make):
    # given the market arrives day by day; each day's proposal is approved once the next close is in
    bars_make(WEEK[0], {s: "100" for s in SIX})
    for k in range(2):
        decision = six_symbol_proposal(portfolio, WEEK[k])
        bars_make(WEEK[k + 1], {s: "100.5" for s in SIX})
        # when
        approved = decision_approve(decision=decision, user=owner)
        # then its six trades filled at the next day's close
        assert approved.status == Decision.Status.EXECUTED
        assert sorted(Trade.objects.filter(decision=decision).values_list("asset__symbol", "trade_date")) == [
            (s, WEEK[k + 1]) for s in SIX
        ]
    # given a proposal two trading days old
    late = six_symbol_proposal(portfolio, WEEK[2])
    bars_make(WEEK[3], {s: "100.5" for s in SIX})
    bars_make(WEEK[4], {s: "100.5" for s in SIX})
    # when / then
    with pytest.raises(Conflict) as err:
        decision_approve(decision=late, user=owner)
    late.refresh_from_db()
    assert (err.value.code, late.status) == ("proposal_stale", Decision.Status.EXPIRED)
    assert "is 2 trading days old" in late.status_reason
    assert Trade.objects.count() == 12
    assert ledger_audit() == []


def test_proposals_expire_touches_only_open_proposals_of_the_named_portfolios(portfolio, owner):
    # given an open proposal and a rejected one on this portfolio
    open_one = proposal(portfolio, as_of=DAY1)
    rejected = proposal(portfolio, as_of=DAY2, price="49.5")
    decision_reject(decision=rejected, user=owner, reason="not now")
    # when proposals of another portfolio id are expired, then of this one
    assert proposals_expire(portfolio_ids=[portfolio.pk + 999], reason="superseded") == 0
    assert proposals_expire(portfolio_ids=[portfolio.pk], reason="superseded") == 1
    # then only the open one expired, with the reason; the rejected one is untouched
    open_one.refresh_from_db()
    rejected.refresh_from_db()
    assert (open_one.status, open_one.status_reason) == ("expired", "superseded")
    assert open_one.decided_at is not None
    assert (rejected.status, rejected.status_reason) == ("rejected", "not now")
    assert proposals_expire(portfolio_ids=[], reason="superseded") == 0
