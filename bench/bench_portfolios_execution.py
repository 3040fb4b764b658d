"""Benchmark: executing rebalance trades into the ledger, ours (bulk) vs row-by-row ORM.

Each portfolio holds 20 assets. Round 1 buys all 20 (20 new lots and positions); round 2
rebalances with 10 partial sells (closing lots, realizing gains) and 10 buys. "ours" is
``portfolios.services.trades_execute`` (constant query count: bulk inserts/updates);
the peer is the same ledger update written the usual way, one ``save()``/``create()``
per row inside the same transaction and lock. Both go through the same paper broker.
Reports portfolios per second, median milliseconds per portfolio and queries per
portfolio, then the time of ``ledger_audit`` over everything.

    .venv/bin/python bench/bench_portfolios_execution.py [--portfolios 200] [--sqlite]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _marketdata_pg import django_on, postgres_start

DAY1, DAY2 = date(2024, 5, 14), date(2024, 5, 15)
SYMBOLS = [f"S{i:02d}" for i in range(20)]


def setup_market() -> None:
    from marketdata.models import Asset, PriceBar

    for i, symbol in enumerate(SYMBOLS):
        asset = Asset.objects.create(symbol=symbol, asset_class="equity" if i < 15 else "bond")
        for day, price in ((DAY1, Decimal(50 + i)), (DAY2, Decimal(50 + i) * Decimal("1.01"))):
            PriceBar.objects.create(asset=asset, date=day, open=price, high=price, low=price, close=price, adj_close=price)


def make_portfolios(n: int, tag: str) -> list:
    from portfolios.services import cash_deposit, portfolio_create
    from users.models import User

    owner = User.objects.create_user(email=f"bench-{tag}@example.com", password="x-123456789")
    out = []
    for i in range(n):
        p = portfolio_create(owner=owner, name=f"{tag}-{i}")
        cash_deposit(portfolio=p, amount=Decimal("100000"))
        out.append(p)
    return out


def rounds():
    from portfolios.trading import ProposedTrade

    def t(symbol, side, qty):
        return ProposedTrade(symbol, side, Decimal(qty), Decimal(0), Decimal(0), "bench")

    first = [t(s, "buy", "80") for s in SYMBOLS]
    second = [t(s, "sell", "30") for s in SYMBOLS[:10]] + [t(s, "buy", "10") for s in SYMBOLS[10:]]
    return [(DAY1, first), (DAY2, second)]


def naive_execute(*, portfolio, trades, as_of) -> None:
    """The peer: the same ledger update, one ORM call per row (FIFO lots)."""
    from django.db import transaction

    from marketdata.models import Asset
    from portfolios.brokers import Order
    from portfolios.models import LotClosing, Portfolio, Position, TaxLot, Trade
    from portfolios.services.execution import paper_broker_get

    with transaction.atomic():
        p = Portfolio.objects.select_for_update().get(pk=portfolio.pk)
        ordered = [x for x in trades if x.side == "sell"] + [x for x in trades if x.side == "buy"]
        fills = paper_broker_get().execute(
            [Order(x.symbol, x.side, x.quantity, client_ref=f"n{p.pk}:{p.ledger_version}:{i}") for i, x in enumerate(ordered)],
            as_of,
        )
        for trade, fill in zip(ordered, fills, strict=True):
            asset = Asset.objects.get(symbol=trade.symbol)
            row = Trade.objects.create(
                portfolio=p, asset=asset, side=fill.side, quantity=fill.quantity, price=fill.price,
                market_price=fill.market_price, commission=fill.commission, slippage=fill.slippage,
                cash_flow=fill.cash_flow, executed_at=fill.executed_at, trade_date=as_of, broker_ref=fill.broker_ref,
            )
            position, _ = Position.objects.get_or_create(portfolio=p, asset=asset)
            if fill.side == "buy":
                TaxLot.objects.create(
                    portfolio=p, asset=asset, opening_trade=row, acquired_on=as_of, quantity_original=fill.quantity,
                    quantity_open=fill.quantity, cost_basis=-fill.cash_flow, cost_basis_open=-fill.cash_flow,
                )
                position.quantity += fill.quantity
            else:
                left = fill.quantity
                for lot in TaxLot.objects.filter(portfolio=p, asset=asset, quantity_open__gt=0).order_by("acquired_on", "id"):
                    take = min(left, lot.quantity_open)
                    basis = (lot.cost_basis_open * take / lot.quantity_open).quantize(Decimal("0.0001"))
                    proceeds = (fill.cash_flow * take / fill.quantity).quantize(Decimal("0.0001"))
                    lot.quantity_open -= take
                    lot.cost_basis_open -= basis
                    lot.save()
                    LotClosing.objects.create(
                        lot=lot, trade=row, quantity=take, proceeds=proceeds, cost_basis=basis,
                        realized_gain=proceeds - basis, holding_period="short", closed_on=as_of,
                    )
                    left -= take
                    if left == 0:
                        break
                position.quantity -= fill.quantity
            position.save()
            p.cash += fill.cash_flow
        p.ledger_version += 1
        p.save()


def run(name: str, execute, portfolios) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    out = {}
    for index, (as_of, trades) in enumerate(rounds(), start=1):
        timings = []
        connection.queries_log.clear()  # the log keeps 9,000 entries; start the count empty
        with CaptureQueriesContext(connection) as queries:
            execute(portfolio=portfolios[0], trades=trades, as_of=as_of)
        start = time.perf_counter()
        for p in portfolios[1:]:
            t0 = time.perf_counter()
            execute(portfolio=p, trades=trades, as_of=as_of)
            timings.append(time.perf_counter() - t0)
        total = time.perf_counter() - start
        out[index] = (len(timings) / total, statistics.median(timings) * 1000, len(queries))
        print(f"{name:5} round {index}: {out[index][0]:8.1f} portfolios/s  median {out[index][1]:6.2f} ms  {out[index][2]:4d} queries/portfolio")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--portfolios", type=int, default=200)
    parser.add_argument("--sqlite", action="store_true", help="Use a SQLite file instead of PostgreSQL.")
    args = parser.parse_args()
    cluster = None
    if args.sqlite:
        db = Path(__file__).resolve().parents[1] / "var" / "bench_portfolios.sqlite3"
        db.unlink(missing_ok=True)
        django_on(f"sqlite:///{db}")
    else:
        cluster = postgres_start()
        django_on(cluster.url)
    try:
        from portfolios.services import ledger_audit, trades_execute

        setup_market()
        ours = run("ours", trades_execute, make_portfolios(args.portfolios, "ours"))
        peer = run("peer", naive_execute, make_portfolios(args.portfolios, "peer"))
        for index in (1, 2):
            print(f"round {index}: ours is {ours[index][0] / peer[index][0]:.1f}x the peer's throughput, "
                  f"{peer[index][2] / ours[index][2]:.1f}x fewer queries")
        t0 = time.perf_counter()
        violations = ledger_audit()
        print(f"ledger_audit over {2 * args.portfolios} portfolios: {time.perf_counter() - t0:.2f} s, {len(violations)} violations")
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
