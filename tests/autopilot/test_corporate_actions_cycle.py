"""A split and a reverse split through ``import_actions``, then the autopilot: share counts,
basis, P&L continuity to the cent, and no tax-loss harvest of a split."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command

from portfolios.models import CorporateActionApplication, Decision, TaxLot, Trade
from portfolios.selectors import holdings_get
from portfolios.services import autonomy_update, cash_deposit, ledger_audit, portfolio_create

DAYS = pd.bdate_range(end="2024-05-15", periods=300)
E, E2 = 280, 290  # a 2-for-1 split at DAYS[E], a 1-for-4 reverse split at DAYS[E2]


def _day(i: int) -> date:
    return DAYS[i].date()


@pytest.fixture
def split_market(db, tmp_path):
    """Raw closes that halve at E and quadruple at E2; adjusted closes continuous (Yahoo's shape).

    ``Q`` is the price of today's share (after both splits): before E one old share is
    half of today's share, so its raw close is Q / 2; between E and E2 a share is a
    quarter of today's: Q / 4; from E2 on the raw close is Q.
    """
    rng = np.random.default_rng(5)
    common = rng.normal(0.0004, 0.011, len(DAYS))
    factor = np.where(np.arange(len(DAYS)) < E, 0.5, np.where(np.arange(len(DAYS)) < E2, 0.25, 1.0))
    rows = []
    for symbol, noise in (("XYZ", 0.004), ("ABC", 0.005)):
        adjusted = 200 * np.cumprod(1 + common + rng.normal(0, noise, len(DAYS)))
        raw = adjusted * (factor if symbol == "XYZ" else 1.0)
        for day, close, adj in zip(DAYS, raw, adjusted, strict=True):
            rows.append(f"{day.date()},{symbol},,,,{close:.6f},1000,{adj:.6f}")
    prices = tmp_path / "prices.csv"
    prices.write_text("date,symbol,open,high,low,close,volume,adj_close\n" + "\n".join(rows) + "\n")
    call_command("import_prices", str(prices), "--format", "long", "--no-progress")
    actions = tmp_path / "actions.csv"
    actions.write_text(f"date,symbol,type,value\n{_day(E)},XYZ,split,2:1\n{_day(E2)},XYZ,split,1-for-4\n")
    return actions


def _unrealized(portfolio, day: date) -> Decimal:
    (xyz,) = [h for h in holdings_get(portfolio=portfolio, as_of=day) if h.symbol == "XYZ"]
    return xyz.unrealized_pnl


def _harvests(portfolio) -> list:
    return [t for t in Trade.objects.filter(portfolio=portfolio) if "tax_loss_harvest" in t.tags]


def _adj(day: date) -> Decimal:
    from marketdata.models import PriceBar

    return PriceBar.objects.get(asset__symbol="XYZ", date=day).adj_close


def test_splits_through_import_actions_then_the_autopilot_keep_value_basis_and_harvest_nothing(split_market, investor):
    # given an autopilot portfolio with tax-loss harvesting on, invested at the close before the split
    portfolio = portfolio_create(owner=investor, name="Taxable", mode="autopilot", strategy="equal_weight")
    # (small rebalancing trades are below the minimum, so the P&L compared is the split's alone)
    autonomy_update(portfolio=portfolio, data={
        "calendar": "none", "rebalance_threshold": Decimal("0.5"), "tax_optimization": True,
        "tax_loss_threshold": Decimal("0.05"), "min_trade_value": Decimal("5000"),
    })
    cash_deposit(portfolio=portfolio, amount=Decimal("100000"))
    call_command("autopilot", "--as-of", str(_day(E - 1)))
    (lot,) = TaxLot.objects.filter(portfolio=portfolio, asset__symbol="XYZ")
    shares, basis = lot.quantity_open, lot.cost_basis
    before = _unrealized(portfolio, _day(E - 1))

    # when the actions are imported (none due yet) and the autopilot runs on the split day
    call_command("import_actions", str(split_market), "--as-of", str(_day(E - 1)))
    assert not CorporateActionApplication.objects.exists()
    call_command("autopilot", "--as-of", str(_day(E)), "--force", "--portfolio", str(portfolio.pk))

    # then twice the shares, the same basis and acquisition date
    lot.refresh_from_db()
    assert (lot.quantity_open, lot.cost_basis, lot.acquired_on) == (2 * shares, basis, _day(E - 1))
    # the unrealized P&L moved by what the (continuous) adjusted close says, to the cent:
    # the shares held are half of today's shares, whatever the split
    after = _unrealized(portfolio, _day(E))
    economic = shares / 2 * (_adj(_day(E)) - _adj(_day(E - 1)))
    assert abs(after - before - economic) < Decimal("0.01")
    # and the split is no loss: nothing was harvested
    decision = Decision.objects.filter(portfolio=portfolio, as_of=_day(E)).first()
    assert decision is None or decision.explanation.get("harvested_loss", 0) == 0
    assert not _harvests(portfolio)

    # when the reverse split comes and the autopilot runs again
    before = _unrealized(portfolio, _day(E2 - 1))
    call_command("autopilot", "--as-of", str(_day(E2)), "--force", "--portfolio", str(portfolio.pk))
    # then a quarter of the shares (rounded to 8 places), the same basis; P&L continuous across it too
    lot.refresh_from_db()
    assert (lot.quantity_open, lot.cost_basis) == ((shares / 2).quantize(Decimal("0.00000001")), basis)
    across = _unrealized(portfolio, _day(E2)) - before
    assert abs(across - shares / 2 * (_adj(_day(E2)) - _adj(_day(E2 - 1)))) < Decimal("0.01")
    assert list(
        CorporateActionApplication.objects.filter(portfolio=portfolio).order_by("ex_date").values_list("status", "quantity_delta")
    ) == [("applied", shares), ("applied", lot.quantity_open - 2 * shares)]
    assert not _harvests(portfolio)
    assert ledger_audit() == []


def test_without_the_split_applied_the_same_day_would_show_a_fake_loss(split_market, investor):
    # the counterfactual the issue measured: the lot's cost per share against the halved close
    portfolio = portfolio_create(owner=investor, name="Taxable", mode="autopilot", strategy="equal_weight")
    autonomy_update(portfolio=portfolio, data={"calendar": "none", "rebalance_threshold": Decimal("0.5")})
    cash_deposit(portfolio=portfolio, amount=Decimal("100000"))
    call_command("autopilot", "--as-of", str(_day(E - 1)))
    before, fake = _unrealized(portfolio, _day(E - 1)), _unrealized(portfolio, _day(E))
    (lot,) = TaxLot.objects.filter(portfolio=portfolio, asset__symbol="XYZ")
    assert fake - before < -lot.cost_basis / 3  # about half the position's value "lost"
