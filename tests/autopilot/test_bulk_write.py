"""The chunk path's writer on the fast tests' database (the ORM branch of ``bulk_write``).

On PostgreSQL the same chunk goes through ``COPY``; ``tests/integration/test_autopilot_copy.py``
checks that both branches write the same rows.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from common.bulk_write import rows_insert, rows_update
from portfolios.models import Decision, LotClosing, Portfolio, Position, TaxLot, Trade
from rebalancer.autopilot import services
from rebalancer.autopilot.models import CycleRun, Notification

from .conftest import AS_OF


def test_a_chunk_writes_every_row_without_falling_back(portfolio_make, monkeypatch):
    # given three portfolios (one in advise mode) and no per-portfolio fallback
    def no_fallback(**kwargs):
        pytest.fail("the chunk path failed and fell back to the per-portfolio path")

    monkeypatch.setattr(services, "_cycle_one", no_fallback)
    first, second, advised = portfolio_make(), portfolio_make(), portfolio_make(mode="advise")
    ids = [first.pk, second.pk, advised.pk]
    # when the chunk runs
    results = services.cycle_run_many(portfolio_ids=ids, as_of=AS_OF)
    # then decisions, trades, lots, positions, cash, runs and notifications are written
    assert [(r.status, r.action, r.trades_count) for r in results] == [
        ("done", "rebalance", 4), ("done", "rebalance", 4), ("done", "proposed", 0),
    ]
    decisions = {d.portfolio_id: d for d in Decision.objects.filter(portfolio_id__in=ids)}
    assert [decisions[pid].pk for pid in ids] == [r.decision_id for r in results]
    assert [decisions[pid].status for pid in ids] == ["executed", "executed", "proposed"]
    assert decisions[first.pk].executed_at is not None and decisions[advised.pk].executed_at is None
    assert len(decisions[advised.pk].trades) == 4 and decisions[advised.pk].explanation["action"] == "rebalance"
    for portfolio in (first, second):
        trades = list(Trade.objects.filter(portfolio=portfolio))
        assert len(trades) == 4 and {t.decision_id for t in trades} == {decisions[portfolio.pk].pk}
        lots = TaxLot.objects.filter(portfolio=portfolio)
        assert sorted(lot.opening_trade_id for lot in lots) == sorted(t.pk for t in trades)
        assert Position.objects.filter(portfolio=portfolio).count() == 4
        row = Portfolio.objects.get(pk=portfolio.pk)
        assert row.cash == Decimal("100000") + sum(t.cash_flow for t in trades)
        assert row.ledger_version == portfolio.ledger_version + 1
    assert Trade.objects.filter(portfolio=advised).count() == 0
    runs = CycleRun.objects.filter(portfolio_id__in=ids).order_by("portfolio_id")
    assert [(r.status, r.action, r.decision_id) for r in runs] == [
        ("done", r.action, r.decision_id) for r in results
    ]
    assert sorted(Notification.objects.filter(portfolio_id__in=ids).values_list("kind", flat=True)) == [
        "proposal", "rebalanced", "rebalanced",
    ]
    assert not LotClosing.objects.exists()


def test_rows_insert_returns_ids_in_row_order_and_rows_update_sets_columns(db, investor):
    # given
    columns = ("owner_id", "name", "cash", "lot_method", "ledger_version", "allow_negative_cash",
               "base_currency", "benchmark_symbol", "created_at", "updated_at")
    now = timezone.now()
    rows = [(investor.pk, f"p{i}", Decimal(i), "fifo", 0, False, "USD", "SPY", now, now) for i in range(3)]
    # when
    ids = rows_insert(Portfolio, columns, rows, returning_ids=True)
    rows_update(Portfolio, ("cash", "ledger_version"), [(ids[2], Decimal("9.5"), 7)])
    # then
    assert list(Portfolio.objects.filter(pk__in=ids).order_by("pk").values_list("pk", "name", "cash", "ledger_version")) == [
        (ids[0], "p0", Decimal("0"), 0), (ids[1], "p1", Decimal("1"), 0), (ids[2], "p2", Decimal("9.5"), 7),
    ]
    assert rows_insert(Portfolio, columns, [], returning_ids=True) == []


def test_an_unknown_column_is_refused(db):
    with pytest.raises(ValueError, match="Portfolio has no column 'nope'"):
        rows_insert(Portfolio, ("nope",), [(1,)])


def test_an_insert_leaving_out_a_non_null_column_is_refused_on_every_backend(db, investor):
    # COPY fills no auto_now_add; SQLite's bulk_create would have, hiding the gap until production
    with pytest.raises(ValueError, match="leaves out created_at, updated_at"):
        rows_insert(Portfolio, ("owner_id", "name", "cash", "lot_method", "ledger_version", "allow_negative_cash",
                                "base_currency", "benchmark_symbol"), [(investor.pk, "p", Decimal(0), "fifo", 0,
                                                                       False, "USD", "SPY")])
    assert not Portfolio.objects.exists()


def test_the_cyclic_gc_is_paused_inside_a_chunk_and_restored_after():
    import gc

    from rebalancer.autopilot.bulk import cyclic_gc_paused

    # given the collector on, then off
    for before in (True, False):
        gc.enable() if before else gc.disable()
        try:
            # when a chunk runs (and even when it raises)
            with pytest.raises(RuntimeError, match="boom"), cyclic_gc_paused():  # noqa: PT012 - inside is read, then it raises
                inside = gc.isenabled()
                raise RuntimeError("boom")
            # then it was off inside and is as before afterwards
            assert (inside, gc.isenabled()) == (False, before)
        finally:
            gc.enable()
