"""Demo step of ``python manage.py demo``: the demo investor's two portfolios.

"Autopilot growth" (mode autopilot, growth tier, tax-loss harvesting on) and "Advised
balanced" (mode advise, balanced tier), each funded 60 trading days before the latest
close and holding a few positions bought through the services at that day's closes, with
daily snapshots replayed from the ledger since then (so performance has a history).
Idempotent: existing portfolios are kept; their snapshots are brought up to date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import TextIO

from django.db.models import Max

from marketdata.models import Asset, PriceBar
from portfolios import strategies
from portfolios.models import Portfolio
from portfolios.prices import closes_on
from portfolios.services import (
    autonomy_update,
    cash_deposit,
    portfolio_create,
    snapshots_backfill,
    trades_execute,
)
from portfolios.trading import TradeSettings, trades_generate

DEMO_EMAIL = "investor@demo.local"
HISTORY_DAYS = 60


@dataclass(frozen=True)
class DemoPortfolio:
    name: str
    mode: str
    risk_tolerance: str
    strategies: tuple[str, ...]  # first registered one wins
    deposit: Decimal
    holdings: dict[str, float]  # initial weights by asset class rank: symbol -> weight
    tax_optimization: bool


DEMO_PORTFOLIOS = (
    DemoPortfolio(
        name="Autopilot growth",
        mode="autopilot",
        risk_tolerance="growth",
        strategies=("optimizer:max_sharpe",),
        deposit=Decimal("100000"),
        holdings={"equity:0": 0.35, "equity:1": 0.25, "equity:2": 0.15, "commodity:0": 0.05},
        tax_optimization=True,
    ),
    DemoPortfolio(
        name="Advised balanced",
        mode="advise",
        risk_tolerance="balanced",
        strategies=("optimizer:min_volatility", "optimizer:max_sharpe"),
        deposit=Decimal("50000"),
        holdings={"equity:0": 0.30, "bond:0": 0.30, "bond:1": 0.15, "real_estate:0": 0.10},
        tax_optimization=False,
    ),
)


def _investor():
    from users.models import User

    user = User.objects.filter(email=DEMO_EMAIL).first()
    if user is None:
        from users.demo import DEMO_PROFILE, demo_passwords
        from users.services import user_register

        user = user_register(email=DEMO_EMAIL, password=demo_passwords()[0], profile=DEMO_PROFILE)
    return user


def _symbols(spec: dict[str, float]) -> dict[str, float]:
    """"equity:1" → the second active equity by symbol; missing classes are skipped."""
    out: dict[str, float] = {}
    for key, weight in spec.items():
        asset_class, rank = key.split(":")
        symbols = list(
            Asset.objects.filter(asset_class=asset_class, is_active=True).order_by("symbol").values_list("symbol", flat=True)
        )
        if int(rank) < len(symbols):
            out[symbols[int(rank)]] = weight
    return out


def demo_load(*, stdout: TextIO) -> None:
    days = list(PriceBar.objects.values_list("date", flat=True).distinct().order_by("-date")[: HISTORY_DAYS + 1])
    if not days:
        stdout.write("[portfolios] no market data; skipped")
        return
    latest, start = days[0], days[-1]
    owner = _investor()
    registered = set(strategies.strategy_names())
    for spec in DEMO_PORTFOLIOS:
        portfolio = Portfolio.objects.filter(owner=owner, name=spec.name).first()
        if portfolio is None:
            portfolio = portfolio_create(owner=owner, name=spec.name, mode=spec.mode)
            strategy = next((s for s in spec.strategies if s in registered), None)
            autonomy_update(
                portfolio=portfolio,
                data={
                    "risk_tolerance": spec.risk_tolerance,
                    "tax_optimization": spec.tax_optimization,
                    **({"strategy": strategy} if strategy else {}),
                },
            )
            cash_deposit(
                portfolio=portfolio, amount=spec.deposit, at=datetime.combine(start, time(12), tzinfo=UTC),
                note="demo: initial deposit",
            )
            weights = _symbols(spec.holdings)
            prices = closes_on(symbols=list(weights), on=start)
            weights = {s: w for s, w in weights.items() if s in prices}
            trades = trades_generate(
                quantities={}, prices=prices, cash=spec.deposit, target_weights=weights,
                settings=TradeSettings(cash_buffer=Decimal("0")),
            )
            trades_execute(portfolio=portfolio, trades=trades, as_of=start)
            stdout.write(f"[portfolios] {spec.name} (#{portfolio.pk}, {spec.mode}): {len(trades)} initial buys on {start}")
        else:
            stdout.write(f"[portfolios] {spec.name} (#{portfolio.pk}) already there")
        first = portfolio.snapshots.aggregate(last=Max("date"))["last"] or start
        count = snapshots_backfill(portfolio=portfolio, start=min(first, latest), end=latest)
        stdout.write(f"             {count} daily snapshot(s) up to {latest}")
