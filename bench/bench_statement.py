"""Benchmark: the account statement and the tax report of a portfolio with 10 years of daily trading.

The ledger: 120 assets, 2,520 trading days, every day one buy and two sells (a symbol
is bought every 120 days and sold 40 and 80 trading days after each buy, so few sales
are washed: ~7,500 trades, ~2,500 lots, ~5,000 lot closings), 200 dividends, one
deposit — written through the public ``Ledger`` (all fills applied in memory, one
flush), so it is a ledger ``audit_ledger`` finds clean. Measured: the statement of the
last month, the last year and all ten years, and the tax report of the last year, each
the median of ``--repeats`` runs, as JSON would serve them (selector + serializer).
**ours** is ``portfolios.statements``; the **peer** is the same statement written the
usual ORM way (model instances, related rows fetched per trade, a price query per
symbol). Goal: the yearly statement under 200 ms.

    .venv/bin/python bench/bench_statement.py [--repeats 7] [--sqlite]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _marketdata_pg import django_on, postgres_start

SYMBOLS = [f"S{i:03d}" for i in range(120)]
DAYS = [d.date() for d in pd.bdate_range("2014-01-02", periods=2520)]


def build() -> object:
    """The 10-year portfolio; returns it."""
    from marketdata.models import Asset, PriceBar
    from portfolios.brokers import Fill
    from portfolios.models import Portfolio
    from portfolios.services import cash_deposit, cash_movement_record, portfolio_create
    from portfolios.services.execution import Ledger
    from portfolios.trading import BUY, SELL, CostModel, ProposedTrade
    from portfolios.trading.costs import money
    from users.models import User

    rng = np.random.default_rng(3)
    assets = {s: Asset.objects.create(symbol=s, name=s, asset_class="equity") for s in SYMBOLS}
    paths = {s: 50 * np.cumprod(1 + rng.normal(0.0003, 0.015, len(DAYS))) for s in SYMBOLS}
    PriceBar.objects.bulk_create(
        [
            PriceBar(asset=assets[s], date=d, open=p, high=p, low=p, close=p, adj_close=p, volume=1000)
            for s in SYMBOLS
            for d, p in zip(DAYS, (Decimal(f"{v:.6f}") for v in paths[s]), strict=True)
        ],
        batch_size=5000,
    )
    owner = User.objects.create_user(email="bench-statement@example.com", password="x-123456789")
    portfolio = portfolio_create(owner=owner, name="Ten years")
    cash_deposit(portfolio=portfolio, amount=Decimal("5000000"), at=datetime(2014, 1, 1, 15, tzinfo=UTC))
    portfolio = Portfolio.objects.get(pk=portfolio.pk)
    costs = CostModel()
    ledger = Ledger(portfolio, assets, [], {}, broker_name="paper", loss_closings={})
    held: dict[str, Decimal] = {}
    for k, day in enumerate(DAYS):
        orders = []
        for symbol in (SYMBOLS[(k - 40) % 120], SYMBOLS[(k - 80) % 120]):
            if held.get(symbol, 0) > 10:
                orders.append((symbol, SELL, (held[symbol] / 3).quantize(Decimal("0.0001"))))
        orders.append((SYMBOLS[k % 120], BUY, Decimal(40)))
        for symbol, side, qty in orders:
            close = Decimal(f"{paths[symbol][k]:.6f}")
            price = costs.fill_price(close, side)
            gross = money(qty * price)
            fill = Fill(symbol, side, qty, price, close, costs.commission(gross),
                        costs.slippage_cost(quantity=qty, price=close, fill_price=price),
                        costs.cash_flow(side=side, quantity=qty, fill_price=price),
                        datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=21),
                        f"bench-{k}-{symbol}-{side}")
            ledger.apply(ProposedTrade(symbol, side, qty, price, Decimal(0), "bench"), fill, decision=None, as_of=day)
            held[symbol] = held.get(symbol, Decimal(0)) + (qty if side == BUY else -qty)
    ledger.flush()
    for k in range(0, len(DAYS), len(DAYS) // 200):
        cash_movement_record(portfolio=portfolio, kind="dividend", amount=Decimal("123.45"),
                             at=datetime.combine(DAYS[k], datetime.min.time(), tzinfo=UTC) + timedelta(hours=12),
                             note="bench dividend")
    return Portfolio.objects.get(pk=portfolio.pk)


def naive_statement(*, portfolio, start: date, end: date) -> dict:
    """The peer: the statement the usual ORM way (instances, per-row relations, per-symbol prices)."""
    from marketdata.models import PriceBar
    from portfolios.models import CashMovement, Trade

    begin = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    stop = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    opening_cash = sum((m.amount for m in CashMovement.objects.filter(portfolio=portfolio, at__lt=begin)), Decimal(0))
    shares: dict[str, Decimal] = {}
    lines = []
    for t in Trade.objects.filter(portfolio=portfolio, trade_date__lte=end).select_related("asset").order_by("trade_date", "id"):
        if t.trade_date < start:
            opening_cash += t.cash_flow
        else:
            realized = sum((c.realized_gain for c in t.lot_closings.all()), Decimal(0))
            lines.append({"kind": t.side, "symbol": t.asset.symbol, "amount": t.cash_flow, "realized": realized})
        shares[t.asset.symbol] = shares.get(t.asset.symbol, Decimal(0)) + (t.quantity if t.side == "buy" else -t.quantity)
    lines += [{"kind": m.kind, "amount": m.amount} for m in CashMovement.objects.filter(portfolio=portfolio, at__gte=begin, at__lt=stop)]
    positions = []
    for symbol, qty in sorted(shares.items()):
        bar = PriceBar.objects.filter(asset__symbol=symbol, date__lte=end).order_by("-date").first()
        positions.append({"symbol": symbol, "quantity": qty, "value": qty * bar.close})
    return {"opening_cash": opening_cash, "lines": lines, "positions": positions,
            "closing_cash": opening_cash + sum((x["amount"] for x in lines), Decimal(0))}


def median_ms(fn, repeats: int) -> float:
    fn()  # warm
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--sqlite", action="store_true", help="Use a SQLite file instead of PostgreSQL.")
    args = parser.parse_args()
    cluster = None
    if args.sqlite:
        db = Path(__file__).resolve().parents[1] / "var" / "bench_statement.sqlite3"
        db.parent.mkdir(exist_ok=True)
        db.unlink(missing_ok=True)
        django_on(f"sqlite:///{db}")
    else:
        cluster = postgres_start()
        django_on(cluster.url)
    try:
        from portfolios.apis.statements import (
            StatementActivitySerializer,
            StatementSerializer,
            TaxRealizedLineSerializer,
            TaxReportSerializer,
            _body,
        )
        from portfolios.models import LotClosing, TaxLot, Trade, WashSale
        from portfolios.services import ledger_audit
        from portfolios.statements import statement_get, tax_report_get

        t0 = time.perf_counter()
        portfolio = build()
        print(f"built in {time.perf_counter() - t0:.1f} s: {Trade.objects.count()} trades, {TaxLot.objects.count()} lots, "
              f"{LotClosing.objects.count()} closings, {WashSale.objects.count()} wash sales")
        t0 = time.perf_counter()
        violations = ledger_audit(portfolio=portfolio)
        print(f"audit_ledger (statements and 10 tax reports included): {time.perf_counter() - t0:.2f} s, "
              f"{len(violations)} violations")
        last = DAYS[-1]
        windows = {
            "last month": (last - timedelta(days=30), last),
            "last year": (date(last.year, 1, 1), last),
            "ten years": (DAYS[0], last),
        }
        for name, (start, end) in windows.items():
            def ours(start=start, end=end):
                statement = statement_get(portfolio=portfolio, start=start, end=end)
                return _body(StatementSerializer, statement, {"activity": StatementActivitySerializer})

            def peer(start=start, end=end):
                return naive_statement(portfolio=portfolio, start=start, end=end)

            ours_ms, peer_ms = median_ms(ours, args.repeats), median_ms(peer, max(1, args.repeats // 3))
            statement = statement_get(portfolio=portfolio, start=start, end=end)
            assert statement.closing.cash == naive_statement(portfolio=portfolio, start=start, end=end)["closing_cash"]
            print(f"statement {name:10} ({len(statement.activity):5d} lines): ours {ours_ms:8.1f} ms, "
                  f"peer {peer_ms:8.1f} ms, {peer_ms / ours_ms:5.1f}x; reconciled={statement.reconciled}")
        year = last.year - 1
        report_ms = median_ms(
            lambda: _body(TaxReportSerializer, tax_report_get(portfolio=portfolio, year=year),
                          {"realized": TaxRealizedLineSerializer}),
            args.repeats,
        )
        report = tax_report_get(portfolio=portfolio, year=year)
        print(f"tax report {year} ({len(report.realized)} lines, {len(report.wash_sales)} wash sales): {report_ms:.1f} ms")
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
