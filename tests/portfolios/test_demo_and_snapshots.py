"""Snapshots replayed from the ledger, the daily snapshot task, and the idempotent demo step."""

import io
from datetime import UTC, date, datetime, time
from decimal import Decimal as D

from portfolios.models import Portfolio, PortfolioSnapshot
from portfolios.services import (
    cash_deposit,
    ledger_audit,
    portfolio_create,
    snapshots_backfill,
    trades_execute,
)
from portfolios.tasks import snapshots_take_task
from portfolios.trading import ProposedTrade

DAY1, DAY2, DAY3 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)


def test_backfill_replays_holdings_and_cash_day_by_day(owner, market):
    # given a deposit on DAY1, 10 AAA bought at DAY1 without costs, a deposit on DAY2
    p = portfolio_create(owner=owner, name="Replay")
    from portfolios.services import autonomy_update

    autonomy_update(portfolio=p, data={"commission_rate": D(0), "slippage_bps": D(0)})
    cash_deposit(portfolio=p, amount=D("2000"), at=datetime.combine(DAY1, time(12), tzinfo=UTC))
    trades_execute(portfolio=p, trades=[ProposedTrade("AAA", "buy", D(10), D(0), D(0), "t")], as_of=DAY1)
    cash_deposit(portfolio=p, amount=D("500"), at=datetime.combine(DAY2, time(12), tzinfo=UTC))
    # when
    count = snapshots_backfill(portfolio=p, start=DAY1, end=DAY3)
    # then AAA closes 100, 101, 90
    rows = list(PortfolioSnapshot.objects.filter(portfolio=p).values_list("date", "value", "cash", "net_flows"))
    assert count == 3
    assert rows == [
        (DAY1, D("2000.0000"), D("1000.0000"), D("2000.0000")),
        (DAY2, D("2510.0000"), D("1500.0000"), D("500.0000")),
        (DAY3, D("2400.0000"), D("1500.0000"), D("0.0000")),
    ]


def test_daily_snapshot_task_values_every_portfolio_at_the_latest_close(portfolio):
    trades_execute(portfolio=portfolio, trades=[ProposedTrade("CCC", "buy", D(10), D(0), D(0), "t")], as_of=DAY1)
    assert snapshots_take_task() == 1
    assert snapshots_take_task() == 1  # idempotent: the day's row is replaced
    snap = PortfolioSnapshot.objects.get(portfolio=portfolio)
    portfolio.refresh_from_db()
    assert snap.date == DAY3 and snap.value == portfolio.cash + D("201.0000")  # 10 x 20.1


def test_demo_load_is_idempotent(market):
    from portfolios.demo import DEMO_EMAIL, demo_load

    out = io.StringIO()
    demo_load(stdout=out)
    demo_load(stdout=out)
    portfolios = Portfolio.objects.filter(owner__email=DEMO_EMAIL).order_by("name")
    assert [(p.name, p.autonomy.mode) for p in portfolios] == [("Advised balanced", "advise"), ("Autopilot growth", "autopilot")]
    assert all(p.positions.filter(quantity__gt=0).exists() for p in portfolios)
    assert ledger_audit() == []
    assert "already there" in out.getvalue()


def test_backfill_from_a_later_start_replays_what_came_before_and_replaces_only_its_days(owner, market):
    # given a deposit on a Saturday before DAY1, 10 AAA bought DAY1, 4 sold DAY2, a fee and a
    # withdrawal on DAY3 (no costs), and stale snapshots on DAY1 and DAY3
    from portfolios.services import autonomy_update, cash_movement_record, cash_withdraw

    p = portfolio_create(owner=owner, name="Later")
    autonomy_update(portfolio=p, data={"commission_rate": D(0), "slippage_bps": D(0)})
    cash_deposit(portfolio=p, amount=D("3000"), at=datetime(2023, 12, 30, 12, tzinfo=UTC))
    trades_execute(portfolio=p, trades=[ProposedTrade("AAA", "buy", D(10), D(0), D(0), "t")], as_of=DAY1)
    trades_execute(portfolio=p, trades=[ProposedTrade("AAA", "sell", D(4), D(0), D(0), "t")], as_of=DAY2)
    cash_movement_record(portfolio=p, kind="fee", amount=D("7"), at=datetime.combine(DAY3, time(12), tzinfo=UTC))
    cash_withdraw(portfolio=p, amount=D("100"), at=datetime.combine(DAY3, time(13), tzinfo=UTC))
    for day in (DAY1, DAY3):
        PortfolioSnapshot.objects.create(portfolio=p, date=day, value=D(1), cash=D(1), invested=D(0), net_flows=D(0))
    # when
    count = snapshots_backfill(portfolio=p, start=DAY2, end=DAY3)
    # then AAA closes 101 (DAY2), 90 (DAY3); cash 2000 + 404 after the sale, then -7 fee, -100 withdrawn
    # (the fee is no external flow); DAY1 keeps its stale row
    rows = list(PortfolioSnapshot.objects.filter(portfolio=p).order_by("date").values_list(
        "date", "value", "cash", "invested", "net_flows"))
    assert count == 2
    assert rows == [
        (DAY1, D("1.0000"), D("1.0000"), D("0.0000"), D("0.0000")),
        (DAY2, D("3010.0000"), D("2404.0000"), D("606.0000"), D("0.0000")),
        (DAY3, D("2837.0000"), D("2297.0000"), D("540.0000"), D("-100.0000")),
    ]


def test_backfill_of_a_window_without_bars_writes_nothing(owner, market):
    # given
    p = portfolio_create(owner=owner, name="Quiet")
    cash_deposit(portfolio=p, amount=D("10"))
    # when / then
    assert snapshots_backfill(portfolio=p, start=date(2024, 2, 1), end=date(2024, 2, 28)) == 0
    assert not PortfolioSnapshot.objects.filter(portfolio=p).exists()
