"""A small world of logged-in investors for the API benchmarks (``bench_load --mix investor``,
``bench_api_profile``): the synthetic market, and per investor one portfolio with a deposit,
a few buys (positions, lots, trades in the ledger) and two notifications.

Built in-process through the product's services (the ledger's ``trades_execute``, the
market's ``demo_market_load``), against whatever database Django is configured for.
Investors get an unusable password (no PBKDF2 per user: 300 of them would cost minutes)
and access tokens minted here, so the benchmark measures reads, not logins.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

HOLDINGS = ("ORBT", "MEDX", "BNKR", "TSY10", "GOLD", "REIT")
"""What each investor buys (symbols of the synthetic market's DEFAULT_UNIVERSE)."""


@dataclass(frozen=True)
class Investor:
    token: str
    portfolio_id: int


def market_load(*, years: int = 3) -> None:
    from marketdata.services import demo_market_load

    demo_market_load(years=years)


def _portfolio_fill(portfolio, as_of, closes: dict[str, Decimal]) -> None:
    from portfolios.services import cash_deposit, trades_execute
    from portfolios.trading.engine import ProposedTrade

    cash_deposit(portfolio=portfolio, amount=Decimal("100000"))
    trades = [ProposedTrade(symbol=s, side="buy", quantity=Decimal(10 + 5 * i), est_price=closes[s],
                            est_cost=Decimal("0"), reason="bench", price=closes[s])
              for i, s in enumerate(HOLDINGS)]
    trades_execute(portfolio=portfolio, trades=trades, as_of=as_of)


def investors_create(n: int, *, run: str) -> list[Investor]:
    """``n`` investors named ``load<run>-<i>@example.com``, each with one filled portfolio."""
    from django.contrib.auth.hashers import make_password
    from rest_framework_simplejwt.tokens import AccessToken

    from marketdata.models import Asset, PriceBar
    from portfolios.services import portfolio_create
    from rebalancer.autopilot.notifications import notifications_create
    from users.models import User

    last = PriceBar.objects.filter(asset__symbol=HOLDINGS[0]).order_by("-date").values_list("date", flat=True)[0]
    closes = dict(PriceBar.objects.filter(asset__in=Asset.objects.filter(symbol__in=HOLDINGS), date=last)
                  .values_list("asset__symbol", "adj_close"))
    unusable = make_password(None)
    users = User.objects.bulk_create(
        [User(email=f"load{run}-{i}@example.com", password=unusable) for i in range(n)]
    )
    investors = []
    for user in users:
        portfolio = portfolio_create(owner=user, name="Load")
        _portfolio_fill(portfolio, last, closes)
        notifications_create(items=[
            {"user_id": user.pk, "kind": "rebalanced", "title": "Rebalanced", "body": "Your portfolio was rebalanced.",
             "portfolio_id": portfolio.pk},
            {"user_id": user.pk, "kind": "skipped", "title": "Nothing to do", "body": "Drift is within the band.",
             "portfolio_id": portfolio.pk},
        ])
        investors.append(Investor(str(AccessToken.for_user(user)), portfolio.pk))
    return investors


def investor_paths(portfolio_id: int) -> list[str]:
    """The investor mix: what the app reads on its home, portfolio and market screens."""
    p = f"/api/v1/portfolios/{portfolio_id}"
    return ["/api/v1/portfolios", f"{p}/holdings", f"{p}/transactions", f"{p}/risk",
            "/api/v1/notifications", f"/api/v1/market/data/{HOLDINGS[0]}"]
