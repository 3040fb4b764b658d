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
