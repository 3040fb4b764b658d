"""The chunk path's COPY writer on real PostgreSQL writes exactly the rows the ORM path writes.

One chunk of portfolios (autopilot with sells that close lots and buys that open lots
and positions, advise mode with a proposal, tax-loss harvesting) runs twice from the
same state: first with ``common.bulk_write`` forced onto Django's
``bulk_create``/``bulk_update`` (the path SQLite takes), then rolled back and run again
with ``COPY``. Every row the cycle writes is compared, read back through the ORM
(so JSON fields must round-trip to the same Python values); primary keys and
timestamps of the moment are left out, foreign keys are compared by what they point at.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.db import transaction
from django.db.models import F

pytestmark = pytest.mark.integration

AS_OF = date(2024, 5, 15)
SYMBOLS = {"AAA": "equity", "BBB": "equity", "CCC": "equity", "BND": "bond", "TIP": "bond"}


class _Rollback(Exception):
    pass


def _market():
    from marketdata.models import Asset, PriceBar

    rng = np.random.default_rng(5)
    days = pd.bdate_range(end=pd.Timestamp(AS_OF), periods=300)
    assets, bars = {}, []
    factor = rng.normal(0.0, 0.009, len(days))  # equities move together: a correlated replacement exists
    for symbol, asset_class in SYMBOLS.items():
        assets[symbol] = asset = Asset.objects.create(symbol=symbol, asset_class=asset_class)
        drift = -0.002 if symbol == "CCC" else 0.0003  # CCC falls: its lots show a harvestable loss
        common = factor if asset_class == "equity" else 0.0
        path = 100 * np.cumprod(1 + common + rng.normal(drift, 0.004, len(days)))
        for day, close in zip(days, path, strict=True):
            price = Decimal(f"{close:.4f}")
            bars.append(PriceBar(asset=asset, date=day.date(), open=price, high=price, low=price,
                                 close=price, adj_close=price, volume=1_000_000))
    PriceBar.objects.bulk_create(bars)
    return assets


def _portfolio(owner, assets, *, name, mode, strategy, holdings, cash, tax=False):
    from portfolios.models import AutonomySettings, CashMovement, Portfolio, Position, TaxLot

    portfolio = Portfolio.objects.create(owner=owner, name=name, cash=Decimal(cash))
    AutonomySettings.objects.create(portfolio=portfolio, mode=mode, strategy=strategy, calendar="none",
                                    tax_optimization=tax)
    deposit = Decimal(cash)
    for symbol, lots in holdings.items():
        total = Decimal(0)
        for quantity, cost, days_ago in lots:
            quantity, cost = Decimal(quantity), Decimal(cost)
            TaxLot.objects.create(portfolio=portfolio, asset=assets[symbol], quantity_original=quantity,
                                  quantity_open=quantity, cost_basis=cost, cost_basis_open=cost,
                                  acquired_on=AS_OF - timedelta(days=days_ago))
            total += quantity
            deposit += cost
        Position.objects.create(portfolio=portfolio, asset=assets[symbol], quantity=total)
    CashMovement.objects.create(portfolio=portfolio, kind="deposit", amount=deposit, at=pd.Timestamp("2023-01-02", tz="UTC"))
    return portfolio.pk


def _gain_realized_this_year(portfolio_id: int, asset, amount: str) -> None:
    """A sale closed earlier this year with ``amount`` of gain: what a harvested loss can offset."""
    from datetime import UTC, datetime

    from portfolios.models import CashMovement, LotClosing, TaxLot, Trade

    day = AS_OF - timedelta(days=30)
    gain = Decimal(amount)
    trade = Trade.objects.create(
        portfolio_id=portfolio_id, asset=asset, side="sell", quantity=Decimal(10), price=gain / 10 + 1,
        market_price=gain / 10 + 1, cash_flow=gain + 10, realized_gain=gain, trade_date=day,
        executed_at=datetime.combine(day, datetime.min.time(), tzinfo=UTC), broker_ref=f"gain-{portfolio_id}",
    )
    buy = Trade.objects.create(
        portfolio_id=portfolio_id, asset=asset, side="buy", quantity=Decimal(10), price=Decimal(1), market_price=Decimal(1),
        cash_flow=Decimal(-10), trade_date=day - timedelta(days=60),
        executed_at=datetime.combine(day - timedelta(days=60), datetime.min.time(), tzinfo=UTC),
        broker_ref=f"gain-buy-{portfolio_id}",
    )
    lot = TaxLot.objects.create(portfolio_id=portfolio_id, asset=asset, opening_trade=buy, acquired_on=buy.trade_date,
                                quantity_original=Decimal(10), quantity_open=Decimal(0), cost_basis=Decimal(10),
                                cost_basis_open=Decimal(0))
    LotClosing.objects.create(lot=lot, trade=trade, quantity=Decimal(10), proceeds=gain + 10, cost_basis=Decimal(10),
                              realized_gain=gain, holding_period="short", closed_on=day)
    CashMovement.objects.filter(portfolio_id=portfolio_id).update(amount=F("amount") - gain)


def _snapshot(ids: list[int]) -> dict:
    """Everything the cycle wrote for ``ids``, keys and moments replaced by what they mean."""
    from portfolios.models import Decision, LotClosing, Portfolio, Position, TaxLot, Trade
    from rebalancer.autopilot.models import CycleRun, Notification

    trade_key = {t.pk: (t.portfolio_id, t.broker_ref) for t in Trade.objects.filter(portfolio_id__in=ids)}
    decision_key = {d.pk: (d.portfolio_id, d.as_of) for d in Decision.objects.filter(portfolio_id__in=ids)}
    lot_key = {
        lot.pk: (lot.portfolio_id, lot.asset_id, lot.acquired_on, lot.quantity_original, lot.cost_basis)
        for lot in TaxLot.objects.filter(portfolio_id__in=ids)
    }

    def rows(queryset, drop=(), keys=None):
        out = []
        for row in queryset.order_by("pk").values():
            row.pop("id")
            for name in drop:
                row[name] = row[name] is not None  # a moment of this run: compare only whether it is set
            for name, mapping in (keys or {}).items():
                row[name] = mapping.get(row[name]) if row[name] is not None else None
            out.append(row)
        return out

    return {
        "decisions": rows(Decision.objects.filter(portfolio_id__in=ids), drop=("created_at", "executed_at", "decided_at")),
        "trades": rows(Trade.objects.filter(portfolio_id__in=ids), keys={"decision_id": decision_key}),
        "lots": rows(TaxLot.objects.filter(portfolio_id__in=ids), keys={"opening_trade_id": trade_key}),
        "closings": rows(LotClosing.objects.filter(lot__portfolio_id__in=ids),
                         keys={"lot_id": lot_key, "trade_id": trade_key}),
        "positions": sorted(Position.objects.filter(portfolio_id__in=ids).values_list("portfolio_id", "asset_id", "quantity")),
        "portfolios": sorted(Portfolio.objects.filter(pk__in=ids).values_list("pk", "cash", "ledger_version")),
        "runs": rows(CycleRun.objects.filter(portfolio_id__in=ids), drop=("started_at", "finished_at"),
                     keys={"decision_id": decision_key}),
        "notifications": rows(Notification.objects.filter(portfolio_id__in=ids), drop=("created_at",),
                              keys={"decision_id": decision_key}),
    }


@pytest.fixture
def chunk(db, investor):
    assets = _market()
    ids = [
        _portfolio(investor, assets, name="Drifted", mode="autopilot", strategy="equal_weight", cash="5000",
                   holdings={"AAA": [("300", "24000", 400), ("100", "9000", 20)], "BND": [("50", "5200", 700)]}),
        _portfolio(investor, assets, name="Harvest", mode="autopilot", strategy="equal_weight",
                   cash="20000", tax=True,
                   holdings={"CCC": [("200", "40000", 200)], "BBB": [("120", "11000", 90)]}),
        _portfolio(investor, assets, name="Advice", mode="advise", strategy="equal_weight", cash="50000",
                   holdings={"TIP": [("100", "10000", 30)]}),
        _portfolio(investor, assets, name="Cash only", mode="autopilot", strategy="optimizer:min_volatility",
                   cash="100000", holdings={}),
    ]
    # a 40,000 gain realized this year, so that the harvested loss is usable now (harvest budget)
    _gain_realized_this_year(ids[1], assets["BBB"], "40000")
    return ids


def _run(ids, monkeypatch):
    from rebalancer.autopilot import services

    def no_fallback(**kwargs):
        pytest.fail("the chunk path failed and the cycle fell back to the per-portfolio path")

    monkeypatch.setattr(services, "_cycle_one", no_fallback)
    return services.cycle_run_many(portfolio_ids=ids, as_of=AS_OF)


def test_copy_writer_writes_the_rows_the_orm_path_writes(chunk, monkeypatch):
    from common import bulk_write

    # given the chunk run through the ORM writer (bulk_create/bulk_update), then undone
    with pytest.raises(_Rollback), transaction.atomic():  # noqa: PT012 - run, snapshot, then undo
        with monkeypatch.context() as orm:
            orm.setattr(bulk_write, "_postgres", lambda: False)
            orm_results = _run(chunk, monkeypatch)
        expected = _snapshot(chunk)
        raise _Rollback
    assert len(_snapshot(chunk)["trades"]) == 2  # only the set-up sale and its buy
    # when the same chunk runs through COPY
    copy_results = _run(chunk, monkeypatch)
    # then every row is the same, and the cycle did trade, harvest, propose and notify
    actual = _snapshot(chunk)
    assert [(r.status, r.action, r.trades_count) for r in copy_results] == [
        (r.status, r.action, r.trades_count) for r in orm_results
    ]
    for table in expected:
        assert actual[table] == expected[table], table
    assert [r.action for r in copy_results] == ["rebalance", "rebalance", "proposed", "rebalance"], [r.summary for r in copy_results]
    assert len(actual["closings"]) > 0 and len(actual["lots"]) > 5
    assert any(t["tags"] == ["tax_loss_harvest"] for t in actual["trades"])
    assert {n["kind"] for n in actual["notifications"]} == {"rebalanced", "proposal"}
    assert all(isinstance(d["explanation"], dict) and d["trades"] for d in actual["decisions"])


def test_rows_update_and_insert_return_ids_in_row_order(db, investor):
    from common.bulk_write import rows_insert, rows_update
    from portfolios.models import Portfolio

    # given two portfolios inserted through COPY with reserved ids
    now = pd.Timestamp("2024-05-15 21:00", tz="UTC").to_pydatetime()
    columns = ("owner_id", "name", "base_currency", "benchmark_symbol", "cash", "allow_negative_cash",
               "lot_method", "ledger_version", "created_at", "updated_at")
    ids = rows_insert(Portfolio, columns, [
        (investor.pk, "tab\tand\nnewline \\ slash", "USD", "SPY", Decimal("1.5"), False, "fifo", 0, now, now),
        (investor.pk, "second", "EUR", "", Decimal("-0"), True, "hifo", 3, now, now),
    ], returning_ids=True)
    # when one of them is updated through the temporary table
    rows_update(Portfolio, ("cash", "ledger_version"), [(ids[1], Decimal("12.34567"), 4)])
    # then the rows read back are what was written (text escaped, numeric rounded by the column)
    first, second = Portfolio.objects.filter(pk__in=ids).order_by("pk")
    assert [first.pk, second.pk] == ids
    assert (first.name, first.cash, first.ledger_version) == ("tab\tand\nnewline \\ slash", Decimal("1.5"), 0)
    assert (second.name, second.base_currency, second.cash, second.ledger_version) == (
        "second", "EUR", Decimal("12.3457"), 4,
    )
