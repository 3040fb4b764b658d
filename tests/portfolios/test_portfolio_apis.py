"""The portfolio endpoints through the API, as the mobile app uses them."""

from datetime import date
from decimal import Decimal as D

import pytest

from portfolios.models import Decision, Portfolio, PortfolioSnapshot, Trade
from portfolios.services import decision_create, portfolio_create, trades_execute
from portfolios.trading import ProposedTrade

DAY1, DAY2, DAY3 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)
BASE = "/api/v1/portfolios"


@pytest.fixture
def funded(investor_client, market):
    response = investor_client.post(BASE, {"name": "Mine", "mode": "advise"}, format="json")
    assert response.status_code == 201, response.json()
    pid = response.json()["id"]
    assert investor_client.post(f"{BASE}/{pid}/cash", {"operation": "deposit", "amount": "5000"}, format="json").status_code == 201
    return Portfolio.objects.get(pk=pid)


def test_create_list_and_update(investor_client, investor):
    # when
    created = investor_client.post(BASE, {"name": "Retirement", "base_currency": "eur"}, format="json")
    # then
    assert created.status_code == 201
    body = created.json()
    assert (body["name"], body["base_currency"], body["cash"], body["mode"]) == ("Retirement", "EUR", "0.0000", "advise")
    listed = investor_client.get(BASE).json()
    assert [p["name"] for p in listed["results"]] == ["Retirement"]
    patched = investor_client.patch(f"{BASE}/{body['id']}", {"name": "Pension"}, format="json")
    assert patched.json()["name"] == "Pension"
    # the autonomy's risk tolerance comes from the investor's profile
    autonomy = investor_client.get(f"{BASE}/{body['id']}/autonomy").json()
    assert autonomy["risk_tolerance"] == investor.profile.risk_tier


def test_withdrawing_more_than_the_cash_is_422_naming_amount(investor_client, funded):
    # when
    response = investor_client.post(f"{BASE}/{funded.pk}/cash", {"operation": "withdraw", "amount": "5000.01"}, format="json")
    # then
    assert response.status_code == 422
    assert response.json()["errors"][0]["attr"] == "amount"
    assert response.json()["errors"][0]["code"] == "insufficient_cash"
    funded.refresh_from_db()
    assert funded.cash == D("5000")


def test_another_users_portfolio_is_404_everywhere(investor_client, other_client, funded):
    paths = ["", "/holdings", "/transactions", "/targets", "/autonomy", "/proposals", "/performance", "/performance.png"]
    for path in paths:
        assert other_client.get(f"{BASE}/{funded.pk}{path}").status_code == 404, path
    assert other_client.post(f"{BASE}/{funded.pk}/cash", {"operation": "deposit", "amount": "1"}, format="json").status_code == 404
    assert other_client.delete(f"{BASE}/{funded.pk}").status_code == 404
    assert other_client.post(f"{BASE}/{funded.pk}/proposals/1/approve").status_code == 404
    funded.refresh_from_db()
    assert funded.cash == D("5000")


def test_holdings_report_value_weight_and_unrealized_pnl(investor_client, funded):
    # given 10 AAA bought at DAY1 (100.05 with 5 bps slippage) and the latest close 90 (DAY3)
    trades_execute(portfolio=funded, trades=[ProposedTrade("AAA", "buy", D(10), D(0), D(0), "test")], as_of=DAY1)
    # when
    body = investor_client.get(f"{BASE}/{funded.pk}/holdings").json()
    # then cost 1000.5 + commission 0.50025→0.5002 (5 bps)
    (holding,) = body["holdings"]
    assert (holding["symbol"], holding["quantity"], holding["price"], holding["market_value"]) == (
        "AAA", "10.00000000", "90.000000", "900.0000",
    )
    assert holding["cost_basis"] == "1001.0002"
    assert holding["unrealized_pnl"] == "-101.0002"
    assert body["value"] == "4898.9998"  # cash 5000 - 1001.0002 + 900
    assert holding["weight"] == pytest.approx(900 / 4898.9998)


def test_transactions_are_paginated_and_filterable(investor_client, funded):
    trades_execute(portfolio=funded, trades=[ProposedTrade("AAA", "buy", D(1), D(0), D(0), "t"), ProposedTrade("BBB", "buy", D(1), D(0), D(0), "t")], as_of=DAY1)
    everything = investor_client.get(f"{BASE}/{funded.pk}/transactions").json()
    assert everything["count"] == 3
    buys = investor_client.get(f"{BASE}/{funded.pk}/transactions?kind=buy&symbol=AAA").json()
    assert [(t["kind"], t["symbol"]) for t in buys["results"]] == [("buy", "AAA")]
    page = investor_client.get(f"{BASE}/{funded.pk}/transactions?page_size=2&page=2").json()
    assert len(page["results"]) == 1
    bad = investor_client.get(f"{BASE}/{funded.pk}/transactions?start=2024-02-01&end=2024-01-01")
    assert bad.status_code == 400 and bad.json()["errors"][0]["attr"] == "end"
    unknown = investor_client.get(f"{BASE}/{funded.pk}/transactions?kind=bogus")
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["attr"] == "kind"
    deposits = investor_client.get(f"{BASE}/{funded.pk}/transactions?kind=deposit&kind=sell").json()
    assert [t["kind"] for t in deposits["results"]] == ["deposit"]


def test_targets_round_trip_and_weights_over_one_are_400(investor_client, funded):
    body = {"targets": [{"symbol": "AAA", "weight": "0.25"}, {"asset_class": "bond", "weight": "0.3"}]}
    assert investor_client.put(f"{BASE}/{funded.pk}/targets", body, format="json").status_code == 200
    got = investor_client.get(f"{BASE}/{funded.pk}/targets").json()["targets"]
    assert got == [
        {"symbol": "AAA", "asset_class": None, "weight": "0.250000"},
        {"symbol": None, "asset_class": "bond", "weight": "0.300000"},
    ]
    over = {"targets": [{"symbol": "AAA", "weight": "0.8"}, {"symbol": "BBB", "weight": "0.3"}]}
    response = investor_client.put(f"{BASE}/{funded.pk}/targets", over, format="json")
    assert (response.status_code, response.json()["errors"][0]["code"]) == (400, "weights_exceed_one")
    assert len(investor_client.get(f"{BASE}/{funded.pk}/targets").json()["targets"]) == 2


@pytest.mark.parametrize(
    ("targets", "attr", "code"),
    [
        ([{"symbol": "AAA", "weight": "0.4"}], "targets.0.weight", "above_position_cap"),
        ([{"asset_class": "bond", "weight": "0.6"}], "targets.0.weight", "above_class_cap"),
        ([{"symbol": "AAA", "weight": "0.25"}, {"asset_class": "equity", "weight": "0.5"}], "targets",
         "above_sleeve_cap"),
    ],
)
def test_targets_above_a_cap_are_422_naming_the_cap_and_change_nothing(investor_client, funded, targets, attr,
                                                                         code):
    # given the portfolio's current targets
    before = investor_client.get(f"{BASE}/{funded.pk}/targets").json()["targets"]
    # when targets above the balanced tier's caps are put
    response = investor_client.put(f"{BASE}/{funded.pk}/targets", {"targets": targets}, format="json")
    # then 422 names the field and the cap, and the stored targets are unchanged
    assert response.status_code == 422, response.json()
    error = response.json()["errors"][0]
    assert (error["attr"], error["code"]) == (attr, code)
    assert "cap" in error["detail"] or "allow" in error["detail"]
    assert investor_client.get(f"{BASE}/{funded.pk}/targets").json()["targets"] == before


def test_the_hybrid_agent_is_null_for_any_promoted_agent_and_round_trips_a_named_one(investor_client, funded):
    from portfolios.models import AutonomySettings

    url = f"{BASE}/{funded.pk}/autonomy"
    # given the default (stored blank), the API says null, inside the schema's nullable enum
    assert investor_client.get(url).json()["hybrid_agent"] is None
    # when a named agent is chosen, then it is stored and returned
    named = investor_client.put(url, {"hybrid_agent": "agent:ppo"}, format="json")
    assert named.json()["hybrid_agent"] == "agent:ppo"
    assert AutonomySettings.objects.get(portfolio=funded).hybrid_agent == "agent:ppo"
    # when null or "" comes back, then "any promoted agent" is stored again
    for cleared in (None, ""):
        investor_client.put(url, {"hybrid_agent": "agent:ppo"}, format="json")
        body = investor_client.put(url, {"hybrid_agent": cleared}, format="json").json()
        assert body["hybrid_agent"] is None
        assert AutonomySettings.objects.get(portfolio=funded).hybrid_agent == ""
    # and an unknown agent is a 400 naming the field
    bad = investor_client.put(url, {"hybrid_agent": "agent:nope"}, format="json")
    assert (bad.status_code, bad.json()["errors"][0]["attr"]) == (400, "hybrid_agent")


def test_autonomy_put_validates_the_strategy_against_the_registry(investor_client, funded, monkeypatch):
    from portfolios import strategies

    monkeypatch.setattr(strategies, "strategy_names", lambda: ["optimizer:max_sharpe", "optimizer:min_volatility"])
    ok = investor_client.put(
        f"{BASE}/{funded.pk}/autonomy",
        {"mode": "autopilot", "strategy": "optimizer:min_volatility", "rebalance_threshold": "0.03",
         "tax_optimization": True, "esg_constraints": {"excluded_flags": ["tobacco"]}, "limits": {"max_drawdown": 0.2}},
        format="json",
    )
    assert ok.status_code == 200, ok.json()
    assert (ok.json()["mode"], ok.json()["strategy"], ok.json()["rebalance_threshold"]) == ("autopilot", "optimizer:min_volatility", "0.0300")
    bad = investor_client.put(f"{BASE}/{funded.pk}/autonomy", {"strategy": "agent:nope"}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["attr"] == "strategy"
    assert investor_client.get(f"{BASE}/{funded.pk}/autonomy").json()["strategy"] == "optimizer:min_volatility"


def test_approve_executes_once_then_409(investor_client, funded):
    # given a proposal made at DAY3's closes
    decision = decision_create(
        portfolio=funded, as_of=DAY3, mode="advise", strategy="optimizer:max_sharpe",
        trades=[ProposedTrade("BBB", "buy", D(10), D("49.52"), D("0.5"), "Buy BBB to reach its 10% target.", price=D("49.5"))],
        summary="Invest idle cash.",
    )
    url = f"{BASE}/{funded.pk}/proposals/{decision.pk}"
    # when
    first = investor_client.post(f"{url}/approve")
    second = investor_client.post(f"{url}/approve")
    # then
    assert first.status_code == 200 and first.json()["status"] == "executed"
    assert second.status_code == 409 and second.json()["errors"][0]["code"] == "proposal_not_pending"
    assert Trade.objects.filter(decision=decision).count() == 1
    listed = investor_client.get(f"{BASE}/{funded.pk}/proposals?status=executed").json()
    assert [p["id"] for p in listed["results"]] == [decision.pk]


def test_reject_then_approve_is_409(investor_client, funded):
    decision = decision_create(portfolio=funded, as_of=DAY3, mode="advise", trades=[])
    url = f"{BASE}/{funded.pk}/proposals/{decision.pk}"
    assert investor_client.post(f"{url}/reject", {"reason": "too risky"}, format="json").json()["status"] == "rejected"
    assert investor_client.post(f"{url}/approve").status_code == 409
    assert Decision.objects.get(pk=decision.pk).status_reason == "too risky"


def test_performance_is_time_weighted(investor_client, funded):
    # given snapshots: 5000 → 5500 (+10 %), then a 5000 deposit → 10500 (flat) → 11550 (+10 %)
    for day, value, flow in [(DAY1, "5000", "5000"), (DAY2, "5500", "0"), (DAY3, "10500", "5000"), (date(2024, 1, 5), "11550", "0")]:
        PortfolioSnapshot.objects.create(portfolio=funded, date=day, value=D(value), cash=D(value), invested=D(0), net_flows=D(flow))
    # when
    # (up to the last snapshot: after it the series has a point valuing the ledger today)
    body = investor_client.get(f"{BASE}/{funded.pk}/performance", {"end": "2024-01-05"}).json()
    # then
    assert [round(p["cumulative_return"], 10) for p in body["series"]] == [0, 0.1, 0.1, 0.21]
    assert body["metrics"]["total_return"] == pytest.approx(0.21)
    png = investor_client.get(f"{BASE}/{funded.pk}/performance.png")
    assert png.status_code == 200 and png["Content-Type"] == "image/png" and png.content[:4] == b"\x89PNG"


def test_delete_refuses_a_funded_portfolio_and_deletes_an_empty_one(investor_client, funded, investor):
    assert investor_client.delete(f"{BASE}/{funded.pk}").status_code == 409
    empty = portfolio_create(owner=investor, name="Empty")
    assert investor_client.delete(f"{BASE}/{empty.pk}").status_code == 204
    assert not Portfolio.objects.filter(pk=empty.pk).exists()


def test_autonomy_put_accepts_asset_class_bounds_and_rejects_bad_ones(investor_client, funded):
    # given: bounds the cycle reads through the one limits selector
    from portfolios.selectors import policy_limits_get

    url = f"{BASE}/{funded.pk}/autonomy"
    body = {"constraints": {"max_holdings": 10, "asset_class_bounds": {"equity": [0.2, 0.8], "bond": [0, 0.5]}}}
    # when
    ok = investor_client.put(url, body, format="json")
    # then: stored as given, and the limits in force replace the tier's ranges
    assert ok.status_code == 200, ok.json()
    stored = ok.json()["constraints"]
    assert stored["asset_class_bounds"] == {"bond": [0.0, 0.5], "equity": [0.2, 0.8]}
    assert stored["max_holdings"] == 10 and stored["max_position"] is None
    limits = policy_limits_get(portfolio=funded)
    assert (limits.sleeve_ranges["equity"], limits.sleeve_ranges["bonds"]) == ((0.2, 0.8), (0.0, 0.5))
    assert limits.max_holdings == 10
    # bad input: 400 naming the field, nothing changed
    for bad in (
        {"gold": [0, 1]},  # not an asset class
        {"equity": [0.9, 0.1]},  # lowest above highest
        {"equity": [0.6, 1], "bond": [0.6, 1]},  # lowest shares above 100 %
        {"equity": [0.1]},  # not a pair
        {"equity": [0.1, 1.5]},  # above 100 %
    ):
        response = investor_client.put(url, {"constraints": {"asset_class_bounds": bad}}, format="json")
        assert response.status_code == 400, bad
        assert response.json()["errors"][0]["attr"].startswith("constraints.asset_class_bounds"), response.json()
    assert investor_client.get(url).json()["constraints"] == stored


def test_autonomy_put_refuses_bounds_the_cash_buffer_leaves_no_room_for_with_422_and_keeps_the_settings(
    investor_client, funded
):
    # given a 35 % cash buffer and a 10-holdings override (balanced: bonds at least 10 %)
    url = f"{BASE}/{funded.pk}/autonomy"
    before = investor_client.put(url, {"cash_buffer": "0.35", "constraints": {"max_holdings": 10}}, format="json")
    assert before.status_code == 200, before.json()
    # when equity at least 60 %: 60 + 10 + 35 > 100 (the same rule the admin's limits form applies)
    response = investor_client.put(
        url, {"constraints": {"asset_class_bounds": {"equity": [0.6, 0.9]}}, "mode": "autopilot"}, format="json"
    )
    # then
    assert response.status_code == 422, response.json()
    assert response.json()["errors"] == [{
        "code": "inconsistent_limits",
        "detail": "the sleeves' lowest weights add up to 105%, more than the whole portfolio",
        "attr": "asset_class_bounds",
    }]
    after = investor_client.get(url).json()
    assert (after["constraints"], after["mode"]) == (before.json()["constraints"], "advise")


def test_autonomy_get_of_a_portfolio_without_settings_writes_nothing_and_answers_the_defaults(
    investor_client, investor
):
    # given a portfolio made without settings (as the admin or an import makes one)
    from portfolios.models import AutonomySettings

    portfolio = Portfolio.objects.create(owner=investor, name="Imported")
    before = AutonomySettings.objects.count()
    url = f"{BASE}/{portfolio.pk}/autonomy"
    # when
    response = investor_client.get(url)
    # then: the model's defaults, dated from the portfolio's creation, and no row written
    assert response.status_code == 200
    body = response.json()
    assert AutonomySettings.objects.count() == before
    assert (body["enabled"], body["mode"], body["strategy"], body["risk_tolerance"]) == (
        True, "advise", AutonomySettings.DEFAULT_STRATEGY, "balanced")
    assert (body["investment_horizon"], body["rebalance_threshold"], body["cash_buffer"]) == (10, "0.0500", "0.0200")
    assert body["constraints"]["max_position"] is None
    assert body["updated_at"] == response.data["updated_at"]
    assert response["ETag"] == investor_client.get(url)["ETag"]  # a second read: the same state

    # when the first PUT names the ETag the GET gave, then the service saves the row
    put = investor_client.put(url, {"mode": "autopilot"}, format="json", HTTP_IF_MATCH=response["ETag"])
    assert put.status_code == 200, put.json()
    assert AutonomySettings.objects.count() == before + 1
    assert AutonomySettings.objects.get(portfolio=portfolio).mode == "autopilot"
    assert put.json()["strategy"] == AutonomySettings.DEFAULT_STRATEGY


def test_targets_get_reads_the_rows_in_the_order_they_were_set(investor_client, funded):
    # given
    url = f"{BASE}/{funded.pk}/targets"
    targets = [{"symbol": "BBB", "asset_class": None, "weight": "0.250000"},
               {"symbol": None, "asset_class": "bond", "weight": "0.200000"},
               {"symbol": "AAA", "asset_class": None, "weight": "0.150000"}]
    etag = investor_client.get(url)["ETag"]
    # when
    put = investor_client.put(url, {"targets": targets}, format="json", HTTP_IF_MATCH=etag)
    # then
    assert put.status_code == 200, put.json()
    assert investor_client.get(url).json()["targets"] == targets
