"""Actions from the price provider (Yahoo's events, recorded responses) reach the ledger once,
however often the pull and the apply job run."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from marketdata.models import Asset, CorporateAction
from marketdata.providers.yahoo import YahooChartProvider
from marketdata.selectors import asset_health_get
from marketdata.services import prices_pull
from portfolios.models import CashMovement, CorporateActionApplication, Position, TaxLot
from portfolios.services import (
    cash_deposit,
    corporate_actions_apply,
    ledger_audit,
    portfolio_create,
    trades_execute,
)
from portfolios.trading import ProposedTrade

FIXTURES = Path(__file__).resolve().parents[1] / "marketdata" / "fixtures"
START, END = dt.date(2023, 11, 8), dt.date(2023, 11, 17)
SPLIT_AT = 6  # 2023-11-16, the seventh session of the recorded response


class _Response:
    status_code, headers = 200, {}

    def __init__(self, body):
        self._body = body

    def json(self):
        return copy.deepcopy(self._body)


class _Session:
    def __init__(self, body):
        self.body, self.calls = body, 0

    def get(self, url, *, params, timeout, headers):
        self.calls += 1
        return _Response(self.body)


def _msft_with_a_split() -> dict:
    """The recorded MSFT response (a 0.75 dividend ex 2023-11-15) with a 2-for-1 split on
    2023-11-16 the way Yahoo sends one: raw quotes halve from that session on, adjusted
    closes are in today's (post-split) shares throughout — continuous across the split —
    and the split is in ``events``."""
    payload = json.loads((FIXTURES / "yahoo_chart_MSFT.json").read_text())
    result = payload["chart"]["result"][0]
    quote, adjclose = result["indicators"]["quote"][0], result["indicators"]["adjclose"][0]["adjclose"]
    for column in ("open", "high", "low", "close"):
        quote[column] = [v / 2 if i >= SPLIT_AT else v for i, v in enumerate(quote[column])]
    result["indicators"]["adjclose"][0]["adjclose"] = [v / 2 for v in adjclose]
    stamp = result["timestamp"][SPLIT_AT]
    result["events"]["splits"] = {str(stamp): {"date": stamp, "numerator": 2, "denominator": 1, "splitRatio": "2:1"}}
    return payload


@pytest.fixture
def yahoo():
    return YahooChartProvider(session=_Session(_msft_with_a_split()), sleep=lambda _s: None)


def test_yahoos_dividend_and_split_are_applied_once_when_the_pull_and_the_job_rerun(db, yahoo, owner):
    # given MSFT's bars pulled from Yahoo, and 10 shares bought on 2023-11-09
    Asset.objects.create(symbol="MSFT", name="Microsoft", asset_class="equity")
    assert prices_pull(symbols=["MSFT"], start=START, end=END, provider_instance=yahoo).status == "succeeded"
    portfolio = portfolio_create(owner=owner, name="Income")
    cash_deposit(portfolio=portfolio, amount=D("10000"))
    buy = ProposedTrade(symbol="MSFT", side="buy", quantity=D(10), est_price=D(0), est_cost=D(0), reason="buy")
    trades_execute(portfolio=portfolio, trades=[buy], as_of=dt.date(2023, 11, 9))
    # when the job applies the actions, then the pull and the job run again
    first = corporate_actions_apply(as_of=END)
    assert prices_pull(symbols=["MSFT"], start=START, end=END, provider_instance=yahoo).status == "succeeded"
    second = corporate_actions_apply(as_of=END)
    # then one dividend of 10 x 0.75, credited on its ex-date (Yahoo gives no pay date)
    (movement,) = CashMovement.objects.filter(portfolio=portfolio, kind="dividend")
    assert (movement.amount, movement.at.date()) == (D("7.5000"), dt.date(2023, 11, 15))
    # and one split: 20 shares, basis unchanged
    lot = TaxLot.objects.get(portfolio=portfolio)
    assert (lot.quantity_open, lot.cost_basis) == (D(20), lot.cost_basis_open)
    assert Position.objects.get(portfolio=portfolio).quantity == D(20)
    assert (first.paid, first.applied, second.total) == (1, 1, 0)
    assert CorporateAction.objects.filter(asset__symbol="MSFT").count() == 2
    assert CorporateActionApplication.objects.count() == 2
    assert ledger_audit() == []


def test_the_split_day_is_ok_only_because_the_split_is_recorded(db, yahoo):
    # given Yahoo's bars with the halved close on 2023-11-16
    Asset.objects.create(symbol="MSFT", name="Microsoft", asset_class="equity")
    prices_pull(symbols=["MSFT"], start=START, end=END, provider_instance=yahoo)
    # then with the reported split recorded the day is explained ...
    assert asset_health_get(symbols=["MSFT"], as_of=END)["MSFT"].status == "ok"
    # ... and without it, it is not
    CorporateAction.objects.filter(kind="split").delete()
    health = asset_health_get(symbols=["MSFT"], as_of=END)["MSFT"]
    assert health.status == "suspect"
    assert "unrecorded corporate action on 2023-11-16" in health.reasons[0]
