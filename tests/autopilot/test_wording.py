"""Words an investor understands: exact sentences for each thing the policy does, from a
built record, in English and German, and the API answering in the request's language."""

from __future__ import annotations

import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import translation

from portfolios.models import Decision, Portfolio
from portfolios.policy import policy_limits
from portfolios.policy.projection import Adjustment
from rebalancer.autopilot.explain import decision_explanation
from rebalancer.autopilot.models import Notification
from rebalancer.autopilot.types import CostGate, DecisionFacts, PolicyState
from rebalancer.autopilot.wording import (
    DecisionRecord,
    OverlayLine,
    TradeLine,
    TriggerLine,
    investor_sentences,
    investor_text,
    money,
    percent,
    record_from_dict,
)

sys.path.insert(0, str(Path(__file__).parent))
from test_engine import config, cycle_decide, holdings, market

NBSP = "\xa0"


@pytest.fixture(autouse=True)
def _english_after():
    """A request with ``Accept-Language: de`` activates German in this thread (LocaleMiddleware
    does not reset it); the tests after it read the site's language again."""
    yield
    translation.activate("en-us")


def facts(**overrides) -> DecisionFacts:
    base = dict(
        strategy="optimizer:max_sharpe", tier="balanced", horizon_years=10.0, horizon_factor=1.0,
        calendar="quarterly", rebalance_threshold=0.05, cash_buffer=0.02, max_position=0.25,
        volatility_target=0.10, max_var_95=0.016, max_drawdown=0.20, derisk_exposure=0.5, max_turnover=None,
        sleeve_ranges={"equity": (0.4, 0.7), "bonds": (0.1, 0.5), "alternatives": (0.0, 0.2), "cash": (0.02, 0.45)},
        sleeves={"AAPL": "equity", "MSFT": "equity", "BND": "bonds", "SHV": "cash"},
    )
    base.update(overrides)
    return DecisionFacts(**base)


def hold(*adjustments: Adjustment, **fields) -> DecisionRecord:
    """A hold decision (one drift trigger) whose facts carry ``adjustments``."""
    base = dict(action="hold", total_value=Decimal("10000.00"),
                triggers=(TriggerLine(kind="calendar"),),
                facts=facts(adjustments=adjustments, **fields.pop("facts", {})))
    base.update(fields)
    return DecisionRecord(**base)


# --- numbers ---------------------------------------------------------------------------------


def test_percentages_are_rounded_to_one_decimal_and_whole_ones_have_none():
    assert [percent(x) for x in (0.3, 0.294, 0.25, 0.1234, 0.0004, 0.0)] == [
        "30%", "29.4%", "25%", "12.3%", "0.04%", "0%"]
    with translation.override("de"):
        assert percent(0.294) == f"29,4{NBSP}%"


def test_money_is_formatted_from_decimal_in_the_portfolio_currency_by_locale():
    assert money(Decimal("1234.5"), "EUR") == "€1,234.50"
    assert money(Decimal("0.005"), "USD") == "$0.01"  # half up, in cents
    with translation.override("de"):
        assert money(Decimal("1234.5"), "EUR") == f"1.234,50{NBSP}€"


# --- what the investor's settings did ----------------------------------------------------------


def test_the_cash_buffer_on_the_investors_own_targets():
    record = hold(Adjustment(kind="cash_buffer", wanted=1.0, got=0.98, limit=0.02,
                             pairs=(("AAPL", 0.3, 0.294),)),
                  facts={"strategy": "target_allocation"})
    assert investor_sentences(record, currency="USD") == [
        "We checked your portfolio and left it as it is.",
        "It was time for your quarterly review.",
        "You asked for 30% AAPL; we keep 2% in cash, so 29.4% AAPL.",
    ]


def test_the_cash_buffer_on_a_strategys_many_targets_is_one_sentence():
    pairs = tuple((s, 0.25, 0.245) for s in ("A", "B", "C", "D"))
    record = hold(Adjustment(kind="cash_buffer", wanted=1.0, got=0.98, limit=0.02, pairs=pairs))
    assert investor_sentences(record, currency="USD")[2] == (
        "The strategy wanted 100% invested; we keep 2% in cash, so 98% is invested, each holding scaled down "
        "in proportion.")


def test_the_position_cap_of_the_tier():
    record = hold(Adjustment(kind="position_cap", symbols=("AAPL",), wanted=0.31, got=0.25, limit=0.25))
    assert investor_sentences(record, currency="USD")[2] == (
        "Your balanced tier caps any one holding at 25%, so we hold 25% of AAPL instead of the 31% the "
        "strategy wanted.")


def test_sleeve_ranges_with_the_horizon_and_the_floor():
    record = hold(
        Adjustment(kind="sleeve_lowered", sleeve="equity", wanted=0.7, got=0.56, limit=0.56),
        Adjustment(kind="sleeve_raised", sleeve="bonds", wanted=0.0, got=0.1, limit=0.1),
        Adjustment(kind="sleeve_raised", sleeve="alternatives", wanted=0.0, got=0.05, limit=None),
        facts={"horizon_years": 5.0, "horizon_factor": 0.8},
    )
    assert investor_sentences(record, currency="USD")[2:] == [
        "Your balanced tier and your 5-year horizon allow at most 56% in shares, so we hold 56% instead of the "
        "70% the strategy wanted.",
        "Your balanced tier keeps at least 10% in bonds, so we hold 10% instead of the 0% the strategy wanted.",
    ]  # a sleeve that only took up what another limit removed is not a sentence of its own


def test_exclusions_universe_frozen_prices_and_max_holdings():
    record = hold(
        Adjustment(kind="not_in_universe", symbols=("TSLA",), wanted=0.1),
        Adjustment(kind="excluded", symbols=("XOM", "CVX"), wanted=0.08),
        Adjustment(kind="frozen", symbols=("GE",), got=0.12),
        Adjustment(kind="max_holdings", symbols=("IBM",), limit=5.0),
        Adjustment(kind="relaxed_floor", sleeve="bonds sleeve", limit=0.1, got=0.0),
    )
    assert investor_sentences(record, currency="USD")[2:] == [
        "TSLA is not among your portfolio's assets, so we left it out.",
        "You excluded XOM and CVX in your settings, so we left it out.",
        "The price of GE is not reliable today, so we kept it as it is (12% of your portfolio) and did not "
        "trade it.",
        "You allow at most 5 holdings, so we kept the largest ones.",
        "Your minimum of 10% in bonds cannot be reached with the assets available, so we hold 0%.",
    ]


def test_the_drawdown_rule_moves_half_the_risky_part_and_the_sweep_puts_it_in_a_money_market_fund():
    record = DecisionRecord(
        action="rebalance", total_value=Decimal("10000"),
        trades=(TradeLine("AAPL", "sell", Decimal("3000"), Decimal("3")),
                TradeLine("SHV", "buy", Decimal("2800"), Decimal("2.80"))),
        strategic_weights={"AAPL": 0.6, "BND": 0.38},
        target_weights={"AAPL": 0.3, "BND": 0.38, "SHV": 0.3},
        overlay=OverlayLine(multiplier=0.5, forecast_volatility=0.09, target_volatility=0.05, derisked=True,
                            drawdown=0.12, events=("derisk",)),
        facts=facts(tier="conservative", max_drawdown=0.10, swept={"SHV": 0.3}),
    )
    assert investor_sentences(record, currency="EUR") == [
        "We sold AAPL (€3,000.00) and bought SHV (€2,800.00), €5,800.00 in all, for about €5.80 in costs.",
        "Your portfolio fell 12% from its peak, more than the 10% your conservative tier accepts: your drawdown "
        "rule moved 50% of the risky part (€3,000.00) to cash until markets recover.",
        "We put €3,000.00 of cash you do not need into SHV, a money-market fund, so it earns interest.",
    ]


def test_volatility_targeting_and_the_var_cap():
    base = dict(action="hold", total_value=Decimal("20000"), strategic_weights={"AAPL": 0.5, "BND": 0.48},
                target_weights={"AAPL": 0.4, "BND": 0.48}, facts=facts())
    vol = DecisionRecord(**base, overlay=OverlayLine(0.8, 0.125, 0.10, False, 0.0, ("exposure",)))
    var = DecisionRecord(**base, overlay=OverlayLine(0.8, 0.125, 0.10, False, 0.0, ("var_cap",)))
    assert investor_sentences(vol, currency="USD")[1:] == [
        "Markets are unusually volatile: the strategy's mix would swing about 12.5% a year, above the 10% your "
        "balanced tier aims for, so we hold 80% of its risky assets ($2,000.00 less)."]
    assert investor_sentences(var, currency="USD")[1:] == [
        "On a bad day (one in twenty) this mix could lose more than the 1.6% your balanced tier accepts, so we "
        "hold 80% of its risky assets."]


def test_the_cost_gate_that_skipped_trading_says_what_it_weighed():
    record = hold(facts={"gate": CostGate(False, benefit=4.2, trading_cost=10.4, tax_cost=2.0)},
                  triggers=(TriggerLine(kind="drift", value=0.06, threshold=0.05, symbol="AAPL"),),
                  current_weights={"AAPL": 0.31}, target_weights={"AAPL": 0.25})
    assert investor_sentences(record, currency="USD") == [
        "We checked your portfolio and left it as it is.",
        "AAPL had drifted to 31% of your portfolio against its 25% target.",
        "Some holdings have drifted, but correcting them now would cost about $12.40 ($2.00 of it in taxes) for "
        "a benefit worth about $4.20, so we waited.",
    ]


def test_a_proposal_new_cash_harvest_and_the_bad_day_loss_in_money():
    record = DecisionRecord(
        action="rebalance", total_value=Decimal("50000"),
        triggers=(TriggerLine(kind="cash", value=5000.0), TriggerLine(kind="drift", symbol="AAPL")),
        trades=(TradeLine("AAPL", "buy", Decimal("2500"), Decimal("1.25")),
                TradeLine("BND", "buy", Decimal("2500"), Decimal("1.25"))),
        var_before=0.01, var_after=0.012, harvested_loss=Decimal("310.5"), facts=facts(),
    )
    assert investor_sentences(record, currency="USD", proposal=True) == [
        "We propose to buy AAPL ($2,500.00) and BND ($2,500.00), $5,000.00 in all, for about $2.50 in costs; "
        "nothing happens until you approve.",
        "$5,000.00 of cash was waiting to be invested.",
        "We also sold holdings at a loss of $310.50 and bought similar ones, which lowers your taxes.",
        "On a bad day (one in twenty) your portfolio could now lose about $600.00, against $500.00 before.",
    ]


@pytest.mark.parametrize(("kind", "sentence"), [
    ("halted", "Our operators have paused automatic trading, so nothing was traded today."),
    ("data", "Prices of your holdings are missing or unreliable today, so we did not trade."),
    (None, "We did not trade today."),
])
def test_a_skipped_cycle_says_why_in_one_sentence(kind, sentence):
    record = DecisionRecord(action="skipped", total_value=Decimal("0"), skip_kind=kind)
    assert investor_sentences(record, currency="USD") == [sentence]


def test_a_record_without_facts_still_reads():
    # given a record stored before decisions carried their facts
    record = record_from_dict({"action": "hold", "total_value": 100.0, "triggers": [{"kind": "calendar"}]})
    assert investor_sentences(record, currency="USD") == [
        "We checked your portfolio and left it as it is.", "It was time for your quarterly review."]


# --- another language --------------------------------------------------------------------------


def test_the_german_catalogue_is_used_under_german():
    record = hold(Adjustment(kind="position_cap", symbols=("AAPL",), wanted=0.31, got=0.25, limit=0.25))
    with translation.override("de"):
        sentences = investor_sentences(record, currency="EUR")
    assert sentences == [
        "Wir haben Ihr Depot geprüft und es so gelassen, wie es ist.",
        "Ihre vierteljährliche Überprüfung stand an.",
        f"Ihr ausgewogenes Risikoprofil begrenzt jede einzelne Position auf 25{NBSP}%, also halten wir "
        f"25{NBSP}% AAPL statt der von der Strategie gewünschten 31{NBSP}%.",
    ]


# --- from the engine's own record ----------------------------------------------------------------


def test_the_engine_records_what_the_cash_buffer_did_to_the_investors_targets():
    # given the investor's own 20/30/50 % in a conservative portfolio that keeps 2 % in cash
    targets = {"AAA": 0.2, "CCC": 0.3, "DDD": 0.5}
    cfg = config(target_weights=targets, universe=("AAA", "CCC", "DDD"), limits=policy_limits(tier="conservative"))
    # when the first cycle invests a deposit in a calm market
    decision = cycle_decide(state=holdings({}, cash=100_000.0, cfg=cfg, policy=PolicyState()),
                            market=market(vol=0.002), config=cfg)
    record = record_from_dict(decision_explanation(decision))
    # then the stored record says it in numbers and the investor reads it in words
    buffer = [a for a in record.facts.adjustments if a.kind == "cash_buffer"]
    assert [(a.wanted, a.got, a.limit) for a in buffer] == [(1.0, 0.98, 0.02)]
    assert "You asked for 20% AAA, 30% CCC and 50% DDD; we keep 2% in cash, so 19.6% AAA, 29.4% CCC and 49% DDD." \
        in investor_sentences(record, currency="USD")


# --- the API ---------------------------------------------------------------------------------------


@pytest.fixture
def decided(investor):
    """A proposal in a euro portfolio whose record carries a position cap, and its notification."""
    portfolio = Portfolio.objects.create(owner=investor, name="Euro", base_currency="EUR")
    cfg = config(target_weights={"AAA": 0.6, "BBB": 0.38})
    decision = cycle_decide(state=holdings({}, cash=100_000.0, cfg=cfg, policy=PolicyState()), market=market(),
                            config=cfg)
    decision = replace(decision, trades=decision.trades[:1])
    row = Decision.objects.create(portfolio=portfolio, as_of=decision.as_of, mode="advise",
                                  status=Decision.Status.PROPOSED, explanation=decision_explanation(decision),
                                  summary=decision.summary)
    Notification.objects.create(user=investor, portfolio=portfolio, decision=row, kind=Notification.Kind.PROPOSAL,
                                title="t", body="b")
    return portfolio, row


@pytest.mark.django_db
def test_proposals_answer_in_the_request_language_with_the_portfolio_currency(investor_client, decided):
    portfolio, row = decided
    url = f"/api/v1/portfolios/{portfolio.pk}/proposals"
    english = investor_client.get(url).json()["results"][0]
    german = investor_client.get(url, HTTP_ACCEPT_LANGUAGE="de").json()["results"][0]
    with translation.override("en"):
        expected = investor_text(row.explanation, currency="EUR", proposal=True)
    assert english["explanation_text"] == expected
    assert english["explanation_text"].startswith("We propose to buy AAA (€25,012.50), €25,012.50 in all")
    assert "Your balanced tier caps any one holding at 25%, so we hold 25% of AAA instead of the 60% you " \
           "asked for." in english["explanation_text"]
    assert german["explanation_text"].startswith(f"Wir schlagen vor, AAA (25.012,50{NBSP}€) zu kaufen")
    assert english["explanation"] == german["explanation"] == row.explanation  # the record is unchanged


@pytest.mark.django_db
def test_notifications_carry_the_explanation_in_the_request_language(investor_client, decided):
    german = investor_client.get("/api/v1/notifications", HTTP_ACCEPT_LANGUAGE="de").json()["results"][0]
    assert german["body"] == "b"
    assert f"begrenzt jede einzelne Position auf 25{NBSP}%" in german["explanation_text"]
