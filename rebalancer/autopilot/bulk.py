"""The chunk path of the cycle: many portfolios, one transaction, a constant number of queries.

:func:`cycle_chunk_run` does for a chunk of portfolios what
:func:`rebalancer.autopilot.services.cycle_run` does for one, with the same guarantees:

* **exactly once** — the chunk's ``CycleRun`` rows and portfolio rows are locked
  (``SELECT ... FOR UPDATE``, in id order) before the inputs are read, and every run is
  marked ``done`` in the same transaction that writes the decisions and the ledger; a
  concurrent worker blocks and then finds the runs done; a crash rolls everything back;
* **one failure does not stop the others** — a portfolio whose trades the broker or the
  ledger refuses (in memory, before any write) is recorded as failed in the same
  transaction; if the bulk write itself fails, the caller falls back to the
  per-portfolio path for that chunk.

Queries per chunk, whatever its size: lock runs, lock portfolios, the inputs (seven),
lots and positions, closes, then one bulk write per table (decisions, trades, lots,
closings, positions, portfolios, runs, notifications) — on PostgreSQL a ``COPY`` per
inserted table (plus one ``nextval`` query for the decision and the trade ids) and a
``COPY`` into a temporary table plus one ``UPDATE ... FROM`` per updated table
(:mod:`rebalancer.autopilot.bulk_write`). Rows are built as tuples, not model
instances. The ledger arithmetic is the portfolios app's own
(:class:`portfolios.services.execution.Ledger`), applied per portfolio in memory and
flushed for all of them together.
"""

from __future__ import annotations

import gc
import logging
from collections import defaultdict
from collections.abc import Sequence
from contextlib import contextmanager
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from common.errors import ApplicationError
from portfolios.brokers import BrokerError, Order, PaperBroker
from portfolios.models import Decision, LotClosing, Portfolio, Position, TaxLot, Trade
from portfolios.prices import closes_on
from portfolios.services.execution import Ledger, OpenLot, PositionState
from portfolios.trading import BUY, SELL, CostModel
from rebalancer.autopilot import selectors
from rebalancer.autopilot.bulk_write import rows_insert, rows_update
from rebalancer.autopilot.engine import cycle_decide
from rebalancer.autopilot.explain import decision_explanation
from rebalancer.autopilot.models import CycleRun, Notification
from rebalancer.autopilot.types import CycleDecision

logger = logging.getLogger(__name__)


DECISION_COLUMNS = (
    "portfolio_id", "as_of", "mode", "status", "strategy", "triggers", "target_weights", "current_weights",
    "before", "after", "checks", "trades", "prices", "explanation", "summary", "confidence", "status_reason",
    "ledger_version", "created_at", "decided_at", "executed_at", "decided_by_id",
)


def _decision_row(decision: CycleDecision, portfolio: Portfolio, mode: str, status: str, now) -> tuple:
    """The ``Decision`` row of ``decision`` as a tuple of :data:`DECISION_COLUMNS`."""
    explanation = decision_explanation(decision)
    orders = [t.order for t in decision.trades]
    return (
        portfolio.pk, decision.as_of, mode, status, decision.strategy or "",
        explanation["triggers"], explanation["target_weights"], explanation["current_weights"],
        explanation["before"] or {}, explanation["after"] or {}, explanation["checks"],
        [o.to_dict() for o in orders], {o.symbol: str(o.price) for o in orders}, explanation,
        decision.summary, max(0.0, min(1.0, decision.confidence)),
        decision.skipped_reason or ("" if decision.trades else decision.summary),
        portfolio.ledger_version, now, None, now if status == Decision.Status.EXECUTED else None, None,
    )


def _ledger_for(
    portfolio: Portfolio, decision: CycleDecision, *, assets, lots, positions, closes, costs: CostModel
) -> Ledger:
    """Apply the decision's orders to the portfolio's ledger in memory (raises on refusal)."""
    orders = [t.order for t in decision.trades]
    ordered = [o for o in orders if o.side == SELL] + [o for o in orders if o.side == BUY]
    broker = PaperBroker(prices=closes, costs=costs)
    fills = broker.execute(
        [Order(o.symbol, o.side, o.quantity, client_ref=f"{portfolio.pk}:{portfolio.ledger_version}:{i}")
         for i, o in enumerate(ordered)],
        decision.as_of,
    )
    ledger = Ledger(portfolio, assets, lots, positions, broker_name=getattr(broker, "name", "paper"))
    for order, fill in zip(ordered, fills, strict=True):
        ledger.apply(order, fill, decision=None, as_of=decision.as_of)
    return ledger


TRADE_COLUMNS = (
    "portfolio_id", "asset_id", "side", "quantity", "price", "market_price", "commission", "slippage",
    "cash_flow", "realized_gain", "executed_at", "trade_date", "broker", "broker_ref", "decision_id",
    "reason", "tags",
)
LOT_COLUMNS = (
    "portfolio_id", "asset_id", "opening_trade_id", "acquired_on", "quantity_original", "quantity_open",
    "cost_basis", "cost_basis_open",
)
CLOSING_COLUMNS = (
    "lot_id", "trade_id", "quantity", "proceeds", "cost_basis", "realized_gain", "holding_period", "closed_on",
)


def _ledgers_flush(ledgers: Sequence[tuple[Ledger, int]], now) -> None:
    """``Ledger.flush`` for many portfolios at once: the same rows, one bulk write per table.

    ``ledgers`` pairs each ledger with the id of the decision its trades belong to.
    """
    trades = [
        (t.portfolio_id, t.asset_id, t.side, t.quantity, t.price, t.market_price, t.commission, t.slippage,
         t.cash_flow, t.realized_gain, t.executed_at, t.trade_date, t.broker, t.broker_ref, decision_id,
         t.reason, t.tags)
        for ledger, decision_id in ledgers
        for t in ledger.trades
    ]
    trade_ids = rows_insert(Trade, TRADE_COLUMNS, trades, returning_ids=True)
    new_lots, touched, closings, existing, fresh, portfolios = [], [], [], [], [], []
    offset = 0
    for ledger, _ in ledgers:
        for lot in ledger.new_lots:
            new_lots.append((lot.portfolio_id, lot.asset_id, trade_ids[offset + lot.trade_index], lot.acquired_on,
                             lot.quantity, lot.quantity, lot.cost_basis, lot.cost_basis))
        for c in ledger.closings:
            closings.append((c.lot_id, trade_ids[offset + c.trade_index], c.quantity, c.proceeds, c.cost_basis,
                             c.realized_gain, c.holding_period, c.closed_on))
        offset += len(ledger.trades)
        for pk in sorted(ledger.touched_lots):
            lot = ledger.lots[pk]
            touched.append((pk, lot.quantity_open, lot.cost_basis_open))
        for asset_id in sorted(ledger.touched_positions):
            position = ledger.positions[asset_id]
            if position.pk is None:
                fresh.append((ledger.portfolio.pk, asset_id, position.quantity, now))
            else:
                existing.append((position.pk, position.quantity))
        ledger.portfolio.cash = ledger.cash
        ledger.portfolio.ledger_version += 1
        ledger.portfolio.updated_at = now
        portfolios.append((ledger.portfolio.pk, ledger.cash, ledger.portfolio.ledger_version, now))
    rows_insert(TaxLot, LOT_COLUMNS, new_lots)
    rows_update(TaxLot, ("quantity_open", "cost_basis_open"), touched)
    rows_insert(LotClosing, CLOSING_COLUMNS, closings)
    rows_update(Position, ("quantity",), existing)
    rows_insert(Position, ("portfolio_id", "asset_id", "quantity", "updated_at"), fresh)
    rows_update(Portfolio, ("cash", "ledger_version", "updated_at"), portfolios)


CYCLE_RUN_COLUMNS = ("status", "action", "decision_id", "reason", "trades_count", "error", "finished_at")
NOTIFICATION_COLUMNS = ("user_id", "portfolio_id", "decision_id", "kind", "title", "body", "created_at", "read_at")


def _notification(decision: CycleDecision, decision_id: int, portfolio: Portfolio, mode: str, now) -> tuple:
    if decision.override is not None:
        kind, title = Notification.Kind.RISK, f"{portfolio.name} moved to a defensive allocation"
    elif mode == "autopilot":
        kind, title = Notification.Kind.REBALANCED, f"{portfolio.name} was rebalanced"
    else:
        kind, title = Notification.Kind.PROPOSAL, f"A rebalance of {portfolio.name} awaits your approval"
    return (portfolio.owner_id, portfolio.pk, decision_id, str(kind), title[:200], decision.summary, now, None)


@contextmanager
def cyclic_gc_paused():
    """Python's cyclic garbage collector off for the block (and back on after, if it was).

    A chunk allocates hundreds of thousands of short-lived objects (decimals,
    tuples, dicts), which trigger ~1,500 collections per 2,000 portfolios, each walking
    every tracked object of the worker (Django, pandas, the cycle context): a quarter of
    the chunk's CPU, measured. These objects are freed by reference counting; the few
    reference cycles a chunk may leave are collected by the first collection after it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def cycle_chunk_run(*, portfolio_ids: Sequence[int], context, force: bool, fault_point) -> list:
    """Run the cycle of a chunk in one transaction; see the module docstring.

    Returns ``CycleRunResult`` values (imported lazily to avoid an import cycle).
    """
    with cyclic_gc_paused():
        return _chunk_run(portfolio_ids=portfolio_ids, context=context, force=force, fault_point=fault_point)


def _chunk_run(*, portfolio_ids: Sequence[int], context, force: bool, fault_point) -> list:
    from rebalancer.autopilot.services import CycleRunResult

    as_of = context.as_of
    results: list = []
    with transaction.atomic():
        runs = {
            r.portfolio_id: r
            for r in CycleRun.objects.select_for_update()
            .filter(portfolio_id__in=list(portfolio_ids), as_of=as_of)
            .order_by("portfolio_id")
        }
        todo = []
        for pid in portfolio_ids:
            run = runs.get(pid)
            if run is None:
                results.append(CycleRunResult(pid, as_of, status="not_eligible", error="no cycle run row"))
            elif run.status == CycleRun.Status.DONE:
                results.append(CycleRunResult(
                    pid, as_of, status="already_done", action=run.action,
                    decision_id=run.decision_id, trades_count=run.trades_count, summary=run.reason,
                ))
            else:
                todo.append(pid)
        if not todo:
            order = {pid: i for i, pid in enumerate(portfolio_ids)}
            return sorted(results, key=lambda r: order.get(r.portfolio_id, len(order)))
        # Lock order everywhere: cycle run, then portfolio (portfolios in id order).
        locked = {p.pk: p for p in Portfolio.objects.select_for_update().filter(pk__in=todo).order_by("pk")}
        inputs = selectors.cycle_inputs_load(portfolio_ids=todo, as_of=as_of, assets=context.assets, force=force)
        decided: dict[int, CycleDecision] = {}
        decision_errors: dict[int, str] = {}
        for pid in todo:
            item = inputs.get(pid)
            if item is None:
                continue
            held = {s for s, q in item.state.quantities.items() if q > 0}
            try:
                decided[pid] = cycle_decide(
                    state=item.state, market=context.market_for(held | set(item.config.universe)),
                    config=item.config, kill_switch=context.kill_switch, regime=context.regime,
                    targets_cache=context.targets_cache,
                )
            except Exception as exc:  # noqa: BLE001 — one portfolio's bug must not stop the chunk
                logger.exception("autopilot decision of portfolio %s on %s failed", pid, as_of)
                decision_errors[pid] = f"{type(exc).__name__}: {exc}"
        fault_point("after_decide")

        executing = [
            pid for pid, d in decided.items()
            if d.action == "rebalance" and inputs[pid].config.mode == "autopilot"
        ]
        lots: dict[int, list[OpenLot]] = defaultdict(list)
        positions: dict[int, dict[int, PositionState]] = defaultdict(dict)
        closes: dict[str, Decimal] = {}
        asset_rows = context.assets
        if executing:
            for pid, *lot in TaxLot.objects.filter(portfolio_id__in=executing, quantity_open__gt=0).values_list(
                "portfolio_id", *OpenLot.FIELDS
            ):
                lots[pid].append(OpenLot(*lot))
            for pid, *position in Position.objects.filter(portfolio_id__in=executing).values_list(
                "portfolio_id", *PositionState.FIELDS
            ):
                positions[pid][position[1]] = PositionState(*position)
            symbols = sorted({t.symbol for pid in executing for t in decided[pid].trades})
            closes = closes_on(symbols=symbols, on=as_of)
        now = timezone.now()
        ledgers: dict[int, Ledger] = {}
        failed: dict[int, str] = dict(decision_errors)
        for pid in executing:
            portfolio = locked[pid]
            autonomy = inputs[pid].autonomy
            try:
                symbols = {t.symbol for t in decided[pid].trades}
                ledgers[pid] = _ledger_for(
                    portfolio, decided[pid],
                    assets={s: asset_rows[s] for s in symbols},
                    lots=lots[pid], positions=positions[pid], closes=closes,
                    costs=CostModel(commission_rate=autonomy.commission_rate,
                                    commission_min=autonomy.commission_min,
                                    slippage_bps=autonomy.slippage_bps),
                )
            except (ApplicationError, BrokerError, KeyError) as exc:
                failed[pid] = f"{type(exc).__name__}: {exc}"

        rows: dict[int, tuple] = {}
        statuses: dict[int, str] = {}
        for pid, decision in decided.items():
            if pid in failed or (decision.action == "hold" and not decision.triggers):
                continue
            mode = inputs[pid].config.mode
            if decision.action != "rebalance":
                status = Decision.Status.SKIPPED.value
            elif mode == "autopilot":
                status = Decision.Status.EXECUTED.value
            else:
                status = Decision.Status.PROPOSED.value
            statuses[pid] = status
            rows[pid] = _decision_row(decision, locked[pid], mode, status, now)
        proposing = [pid for pid, status in statuses.items() if status == Decision.Status.PROPOSED]
        if proposing:
            Decision.objects.filter(portfolio_id__in=proposing, status=Decision.Status.PROPOSED).update(
                status=Decision.Status.EXPIRED, status_reason="superseded by a newer proposal", decided_at=now,
            )
        decision_ids = dict(zip(rows, rows_insert(Decision, DECISION_COLUMNS, list(rows.values()),
                                                  returning_ids=True), strict=True))
        _ledgers_flush([(ledgers[pid], decision_ids[pid]) for pid in executing if pid in ledgers], now)
        fault_point("after_execute")

        notifications, changed = [], []
        for pid in todo:
            run = runs[pid]
            decision = decided.get(pid)
            if decision is None and pid not in failed:
                results.append(CycleRunResult(pid, as_of, status="not_eligible", error="no autonomy settings"))
                continue
            if pid in failed:
                changed.append((run.pk, CycleRun.Status.FAILED.value, run.action, run.decision_id, run.reason,
                                run.trades_count, failed[pid][:2000], now))
                results.append(CycleRunResult(pid, as_of, status="failed", error=failed[pid]))
                continue
            mode = inputs[pid].config.mode
            action = "proposed" if decision.action == "rebalance" and mode == "advise" else decision.action
            trades_count = len(decision.trades) if action == "rebalance" else 0
            decision_id = decision_ids.get(pid)
            changed.append((run.pk, CycleRun.Status.DONE.value, action, decision_id, decision.summary,
                            trades_count, "", now))
            if decision_id is not None and decision.action == "rebalance":
                notifications.append(_notification(decision, decision_id, locked[pid], mode, now))
            results.append(CycleRunResult(
                pid, as_of, status="done", action=action, decision_id=decision_id,
                trades_count=trades_count, summary=decision.summary,
            ))
        rows_update(CycleRun, CYCLE_RUN_COLUMNS, changed)
        rows_insert(Notification, NOTIFICATION_COLUMNS, notifications)
    order = {pid: i for i, pid in enumerate(portfolio_ids)}
    return sorted(results, key=lambda r: order.get(r.portfolio_id, len(order)))
