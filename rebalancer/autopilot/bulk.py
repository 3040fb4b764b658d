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
closings, positions, portfolios, runs, notifications). The ledger arithmetic is the
portfolios app's own (``portfolios.services.execution._Ledger``), applied per portfolio
in memory and flushed for all of them together.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from common.errors import ApplicationError
from portfolios.brokers import BrokerError, Order, PaperBroker
from portfolios.models import Decision, LotClosing, Portfolio, Position, TaxLot, Trade
from portfolios.prices import closes_on
from portfolios.services.execution import _Ledger
from portfolios.trading import BUY, SELL, CostModel
from rebalancer.autopilot import selectors
from rebalancer.autopilot.engine import cycle_decide
from rebalancer.autopilot.explain import decision_explanation
from rebalancer.autopilot.models import CycleRun, Notification
from rebalancer.autopilot.types import CycleDecision

logger = logging.getLogger(__name__)
BATCH = 1000


def bulk_update_values(model, rows: Sequence, fields: Sequence[str]) -> None:
    """``bulk_update`` as one ``UPDATE ... FROM (VALUES ...)`` per batch on PostgreSQL.

    Django's ``bulk_update`` builds a ``CASE WHEN`` expression per field and row, which
    costs milliseconds of Python per row at this scale; the VALUES join is plain data.
    Other databases (SQLite in the fast tests) use ``bulk_update``.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_update(rows, fields, batch_size=BATCH)
        return
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(f) for f in fields)]
    casts = [c.db_type(connection) if not c.is_relation else c.target_field.rel_db_type(connection)
             for c in columns]
    names = [c.column for c in columns]
    row_sql = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
    assignments = ", ".join(f'"{n}" = v."{n}"' for n in names[1:])
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            params: list = []
            for obj in batch:
                params.append(obj.pk)
                for c in columns[1:]:
                    params.append(c.get_db_prep_save(getattr(obj, c.attname), connection))
            values = ", ".join([row_sql] * len(batch))
            column_list = ", ".join(f'"{n}"' for n in names)
            cursor.execute(
                f'UPDATE "{meta.db_table}" AS t SET {assignments} FROM (VALUES {values}) '
                f'AS v({column_list}) WHERE t."{names[0]}" = v."{names[0]}"',
                params,
            )


def _decision_row(
    decision: CycleDecision, portfolio: Portfolio, mode: str, status: str, now
) -> Decision:
    explanation = decision_explanation(decision)
    orders = [t.order for t in decision.trades]
    return Decision(
        portfolio=portfolio,
        as_of=decision.as_of,
        mode=mode,
        status=status,
        strategy=decision.strategy or "",
        triggers=explanation["triggers"],
        target_weights=explanation["target_weights"],
        current_weights=explanation["current_weights"],
        before=explanation["before"] or {},
        after=explanation["after"] or {},
        checks=explanation["checks"],
        trades=[o.to_dict() for o in orders],
        prices={o.symbol: str(o.price) for o in orders},
        explanation=explanation,
        summary=decision.summary,
        confidence=max(0.0, min(1.0, decision.confidence)),
        status_reason=decision.skipped_reason or ("" if decision.trades else decision.summary),
        ledger_version=portfolio.ledger_version,
        executed_at=now if status == Decision.Status.EXECUTED else None,
    )


def _ledger_for(
    portfolio: Portfolio, decision: CycleDecision, *, assets, lots, positions, closes, costs: CostModel
) -> _Ledger:
    """Apply the decision's orders to the portfolio's ledger in memory (raises on refusal)."""
    orders = [t.order for t in decision.trades]
    ordered = [o for o in orders if o.side == SELL] + [o for o in orders if o.side == BUY]
    broker = PaperBroker(prices=closes, costs=costs)
    fills = broker.execute(
        [Order(o.symbol, o.side, o.quantity, client_ref=f"{portfolio.pk}:{portfolio.ledger_version}:{i}")
         for i, o in enumerate(ordered)],
        decision.as_of,
    )
    ledger = _Ledger(portfolio, assets, lots, positions, broker_name=getattr(broker, "name", "paper"))
    for order, fill in zip(ordered, fills, strict=True):
        ledger.apply(order, fill, decision=None, as_of=decision.as_of)
    return ledger


def _ledgers_flush(ledgers: Sequence[tuple[_Ledger, Decision]], now) -> None:
    """``_Ledger.flush`` for many portfolios at once (same rows, one bulk write per table)."""
    trades = []
    for ledger, row in ledgers:
        for trade in ledger.trades:
            trade.decision = row
        trades.extend(ledger.trades)
    Trade.objects.bulk_create(trades, batch_size=BATCH)
    new_lots, touched, closings, existing, fresh, portfolios = [], [], [], [], [], []
    for ledger, _ in ledgers:
        for index, lot in ledger.new_lots:
            lot.opening_trade = ledger.trades[index]
            new_lots.append(lot)
        touched.extend(ledger.lots[pk] for pk in sorted(ledger.touched_lots))
        for index, closing in ledger.closings:
            closing.trade = ledger.trades[index]
            closings.append(closing)
        existing.extend(p for p in ledger.positions.values() if p.pk is not None)
        fresh.extend(p for p in ledger.positions.values() if p.pk is None)
        ledger.portfolio.cash = ledger.cash
        ledger.portfolio.ledger_version += 1
        ledger.portfolio.updated_at = now
        portfolios.append(ledger.portfolio)
    if new_lots:
        TaxLot.objects.bulk_create(new_lots, batch_size=BATCH)
    if touched:
        bulk_update_values(TaxLot, touched, ["quantity_open", "cost_basis_open"])
    if closings:
        LotClosing.objects.bulk_create(closings, batch_size=BATCH)
    if existing:
        bulk_update_values(Position, existing, ["quantity"])
    if fresh:
        Position.objects.bulk_create(fresh, batch_size=BATCH)
    if portfolios:
        bulk_update_values(Portfolio, portfolios, ["cash", "ledger_version", "updated_at"])


def _notification(decision: CycleDecision, row: Decision, portfolio: Portfolio, mode: str) -> Notification:
    if decision.override is not None:
        kind, title = Notification.Kind.RISK, f"{portfolio.name} moved to a defensive allocation"
    elif mode == "autopilot":
        kind, title = Notification.Kind.REBALANCED, f"{portfolio.name} was rebalanced"
    else:
        kind, title = Notification.Kind.PROPOSAL, f"A rebalance of {portfolio.name} awaits your approval"
    return Notification(
        user_id=portfolio.owner_id, portfolio=portfolio, decision=row, kind=kind,
        title=title[:200], body=decision.summary,
    )


def cycle_chunk_run(*, portfolio_ids: Sequence[int], context, force: bool, fault_point) -> list:
    """Run the cycle of a chunk in one transaction; see the module docstring.

    Returns ``CycleRunResult`` values (imported lazily to avoid an import cycle).
    """
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
        lots: dict[int, list[TaxLot]] = defaultdict(list)
        positions: dict[int, dict[int, Position]] = defaultdict(dict)
        closes: dict[str, Decimal] = {}
        asset_rows = {s: a for s, a in context.assets.items()}
        if executing:
            for lot in TaxLot.objects.filter(portfolio_id__in=executing, quantity_open__gt=0):
                lots[lot.portfolio_id].append(lot)
            for position in Position.objects.filter(portfolio_id__in=executing):
                positions[position.portfolio_id][position.asset_id] = position
            symbols = sorted({t.symbol for pid in executing for t in decided[pid].trades})
            closes = closes_on(symbols=symbols, on=as_of)
        now = timezone.now()
        ledgers: dict[int, _Ledger] = {}
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

        rows: dict[int, Decision] = {}
        for pid, decision in decided.items():
            if pid in failed or (decision.action == "hold" and not decision.triggers):
                continue
            mode = inputs[pid].config.mode
            if decision.action != "rebalance":
                status = Decision.Status.SKIPPED
            elif mode == "autopilot":
                status = Decision.Status.EXECUTED
            else:
                status = Decision.Status.PROPOSED
            rows[pid] = _decision_row(decision, locked[pid], mode, status, now)
        proposing = [pid for pid, row in rows.items() if row.status == Decision.Status.PROPOSED]
        if proposing:
            Decision.objects.filter(portfolio_id__in=proposing, status=Decision.Status.PROPOSED).update(
                status=Decision.Status.EXPIRED, status_reason="superseded by a newer proposal", decided_at=now,
            )
        Decision.objects.bulk_create(list(rows.values()), batch_size=BATCH)
        _ledgers_flush([(ledgers[pid], rows[pid]) for pid in executing if pid in ledgers], now)
        fault_point("after_execute")

        notifications, changed = [], []
        for pid in todo:
            run = runs[pid]
            decision = decided.get(pid)
            if decision is None and pid not in failed:
                results.append(CycleRunResult(pid, as_of, status="not_eligible", error="no autonomy settings"))
                continue
            if pid in failed:
                run.status, run.error, run.finished_at = CycleRun.Status.FAILED, failed[pid][:2000], now
                changed.append(run)
                results.append(CycleRunResult(pid, as_of, status="failed", error=failed[pid]))
                continue
            mode = inputs[pid].config.mode
            action = "proposed" if decision.action == "rebalance" and mode == "advise" else decision.action
            trades_count = len(decision.trades) if action == "rebalance" else 0
            row = rows.get(pid)
            run.status, run.action, run.decision = CycleRun.Status.DONE, action, row
            run.reason, run.trades_count, run.error, run.finished_at = decision.summary, trades_count, "", now
            changed.append(run)
            if row is not None and decision.action == "rebalance":
                notifications.append(_notification(decision, row, locked[pid], mode))
            results.append(CycleRunResult(
                pid, as_of, status="done", action=action, decision_id=row.pk if row else None,
                trades_count=trades_count, summary=decision.summary,
            ))
        bulk_update_values(
            CycleRun, changed, ["status", "action", "decision", "reason", "trades_count", "error", "finished_at"]
        )
        Notification.objects.bulk_create(notifications, batch_size=BATCH)
    order = {pid: i for i, pid in enumerate(portfolio_ids)}
    return sorted(results, key=lambda r: order.get(r.portfolio_id, len(order)))
