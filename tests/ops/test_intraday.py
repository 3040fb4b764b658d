"""The intraday risk monitor: a scripted price drop becomes an alert within 5 s, reaches the
investor, and requests the autopilot's cycle once per breach episode."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pandas as pd
import pytest
from django.utils import timezone

from marketdata.models import Asset, PriceBar
from portfolios.models import PortfolioLimits, PortfolioSnapshot
from portfolios.prices import latest_closes
from rebalancer.autopilot.models import CycleRun, Notification
from rebalancer.ops.models import AlertResponse, IntradayPrice
from rebalancer.ops.services.intraday import Quote, intraday_quotes_ingest, intraday_risk_evaluate
from rebalancer.ops.services.responses import alert_responses_dispatch
from risk.models import RiskAlert
from tests.ops.conftest import AS_OF

pytestmark = pytest.mark.django_db


def _value(portfolio) -> Decimal:
    from rebalancer.ops.selectors import aum_get

    return aum_get()  # one portfolio in these tests


@pytest.fixture
def watched(invested):
    """The invested portfolio with loose limits but a 10 % drawdown limit, and its value history."""
    PortfolioLimits.objects.create(portfolio=invested, max_var_95=0.5, max_drawdown=0.10, max_position=0.6,
                                   max_avg_correlation=0.99)
    value = _value(invested)
    for day in (AS_OF - dt.timedelta(days=1), AS_OF):
        PortfolioSnapshot.objects.create(portfolio=invested, date=day, value=value, cash=invested.cash,
                                         invested=value - invested.cash)
    return invested


def _quotes(factor: dict[str, float], at: dt.datetime | None = None) -> list[Quote]:
    closes = latest_closes(symbols=["AAA", "BBB", "BND", "TIP"])
    at = at or timezone.now()
    return [Quote(s, (c * Decimal(str(factor.get(s, 1.0)))).quantize(Decimal("0.0001")), at)
            for s, (c, _) in closes.items()]


def test_quotes_at_the_closes_raise_nothing(watched):
    result = intraday_quotes_ingest(quotes=_quotes({}), provider="test")
    assert (result.portfolios, result.opened) == (1, [])
    assert RiskAlert.objects.count() == 0
    assert IntradayPrice.objects.count() == 4


def test_a_scripted_drop_raises_a_drawdown_alert_within_5_seconds_that_reaches_the_investor(
    watched, django_capture_on_commit_callbacks
):
    # given quiet quotes first
    intraday_quotes_ingest(quotes=_quotes({}), provider="test")
    # when both equities drop 40 % (the portfolio about 20 %)
    started = time.perf_counter()
    with django_capture_on_commit_callbacks(execute=False):
        result = intraday_quotes_ingest(quotes=_quotes({"AAA": 0.6, "BBB": 0.6}), provider="test")
    elapsed = time.perf_counter() - started
    # then a critical drawdown alert is open, well within 5 s of the update
    alert = RiskAlert.objects.get()
    assert (alert.rule, alert.severity, alert.status) == ("drawdown", "critical", "open")
    assert alert.value == pytest.approx(0.2, abs=0.02) and alert.limit == 0.10
    assert result.opened == [alert.pk]
    assert elapsed < 5.0
    # and it reached the investor as a notification
    note = Notification.objects.get(kind="risk")
    assert (note.user_id, note.portfolio_id) == (watched.owner_id, watched.pk)
    assert "drawdown" in note.body
    # and its response is a de-risk: last night's cycle is done, so it waits for the next close
    response = AlertResponse.objects.get(alert=alert)
    assert (response.response, response.status, response.deferred_after) == ("de-risk", "deferred", AS_OF)


def test_one_response_per_episode_and_a_new_episode_after_recovery(watched):
    drop, recover = {"AAA": 0.6, "BBB": 0.6}, {}
    intraday_quotes_ingest(quotes=_quotes(drop), provider="test")
    # the same breach on the next tick: no second alert, no second notification
    later = timezone.now() + dt.timedelta(minutes=1)
    second = intraday_quotes_ingest(quotes=_quotes({"AAA": 0.58, "BBB": 0.6}, later), provider="test")
    assert second.opened == []
    assert (RiskAlert.objects.count(), Notification.objects.filter(kind="risk").count()) == (1, 1)
    # recovery resolves the episode
    intraday_quotes_ingest(quotes=_quotes(recover, later + dt.timedelta(minutes=1)), provider="test")
    assert RiskAlert.objects.get().status == "resolved"
    # a new drop is a new episode: a new alert, a new notification, a new response
    intraday_quotes_ingest(quotes=_quotes(drop, later + dt.timedelta(minutes=2)), provider="test")
    assert RiskAlert.objects.filter(status="open").count() == 1
    assert RiskAlert.objects.count() == 2
    assert Notification.objects.filter(kind="risk").count() == 2
    assert AlertResponse.objects.count() == 2


def test_an_older_quote_never_overwrites_a_newer_one(watched):
    now = timezone.now()
    intraday_quotes_ingest(quotes=_quotes({"AAA": 0.9}, now), provider="test")
    intraday_quotes_ingest(quotes=_quotes({"AAA": 0.5}, now - dt.timedelta(minutes=5)), provider="test")
    price = IntradayPrice.objects.get(asset__symbol="AAA").price
    assert price == (latest_closes(symbols=["AAA"])["AAA"][0] * Decimal("0.9")).quantize(Decimal("0.0001"))


def test_a_deferred_de_risk_runs_the_cycle_once_when_the_next_close_lands(
    watched, enqueued, django_capture_on_commit_callbacks
):
    # given a deferred de-risk (last night's cycle was done)
    intraday_quotes_ingest(quotes=_quotes({"AAA": 0.6, "BBB": 0.6}), provider="test")
    assert AlertResponse.objects.get().status == "deferred"
    assert enqueued == []
    # when the next day's bars land
    nxt = AS_OF + dt.timedelta(days=1)
    for asset in Asset.objects.all():
        last = PriceBar.objects.filter(asset=asset).latest("date")
        PriceBar.objects.create(asset=asset, date=nxt, open=last.close, high=last.close, low=last.close,
                                close=last.close, adj_close=last.close, volume=1)
    with django_capture_on_commit_callbacks(execute=True):
        alert_responses_dispatch()
        alert_responses_dispatch()  # a second pass does nothing more
    # then the portfolio's forced cycle on that close is requested, once
    assert enqueued == [("one", {"portfolio_id": watched.pk, "as_of": nxt.isoformat(), "force": True})]
    response = AlertResponse.objects.get()
    assert (response.status, response.cycle_as_of) == ("requested", nxt)


def test_a_de_risk_requests_the_cycle_at_once_when_the_latest_close_has_not_run(
    watched, enqueued, django_capture_on_commit_callbacks
):
    CycleRun.objects.filter(portfolio=watched).update(status="pending")  # tonight's cycle not run yet
    with django_capture_on_commit_callbacks(execute=True):
        intraday_quotes_ingest(quotes=_quotes({"AAA": 0.6, "BBB": 0.6}), provider="test")
    assert enqueued == [("one", {"portfolio_id": watched.pk, "as_of": AS_OF.isoformat(), "force": True})]
    assert AlertResponse.objects.get().status == "requested"


def test_a_paused_portfolio_is_only_notified(watched, enqueued, django_capture_on_commit_callbacks):
    from portfolios.models import AutonomySettings

    AutonomySettings.objects.filter(portfolio=watched).update(enabled=False)
    CycleRun.objects.filter(portfolio=watched).update(status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        intraday_quotes_ingest(quotes=_quotes({"AAA": 0.6, "BBB": 0.6}), provider="test")
    assert AlertResponse.objects.get().status == "not_managed"
    assert enqueued == []
    assert Notification.objects.filter(kind="risk").count() == 1


def test_a_concentration_alert_proposes_and_a_correlation_alert_only_notifies(invested):
    from rebalancer.ops.services.responses import RESPONSES

    assert RESPONSES == {"correlation_spike": "notify", "concentration": "propose", "var_breach": "de-risk",
                         "drawdown": "de-risk"}
    # a 10 % position cap: the two ~25 % equity holdings are concentration alerts (a bond fund
    # is bounded by its sleeve, not by the cap on one risky position)
    PortfolioLimits.objects.create(portfolio=invested, max_position=0.10, max_avg_correlation=0.99)
    intraday_quotes_ingest(quotes=_quotes({"AAA": 1.01}), provider="test")
    assert sorted(RiskAlert.objects.values_list("rule", "symbol")) == [
        ("concentration", s) for s in ("AAA", "BBB")]
    assert set(AlertResponse.objects.values_list("response", flat=True)) == {"propose"}


def test_intraday_signals_agree_with_the_nightly_view_at_the_same_prices(invested):
    # given the same prices as the nightly view (no intraday quote newer than the closes), and
    # limits tight enough to breach: a 10 % cap on one risky position and a 0.1 % VaR limit
    from risk.selectors import portfolio_risk_view_get

    PortfolioLimits.objects.create(portfolio=invested, max_position=0.10, max_var_95=0.001)
    nightly = portfolio_risk_view_get(portfolio=invested)
    # when the monitor evaluates the portfolio
    intraday_risk_evaluate()
    # then it raises exactly the nightly view's signals (rules, symbols, values)
    got = sorted((a.rule, a.symbol, round(a.value, 9)) for a in RiskAlert.objects.all())
    want = sorted((s.rule, s.symbol, round(s.value, 9)) for s in nightly.signals)
    assert got == want
    assert [rule for rule, _, _ in want] == ["concentration", "concentration", "var_breach"]


def test_unknown_symbols_and_bad_prices_are_refused(watched):
    from common.errors import ValidationFailed

    now = timezone.now()
    with pytest.raises(ValidationFailed):
        intraday_quotes_ingest(quotes=[Quote("NOPE", Decimal("1"), now)], provider="test")
    with pytest.raises(ValidationFailed):
        intraday_quotes_ingest(quotes=[Quote("AAA", Decimal("0"), now)], provider="test")
    with pytest.raises(ValidationFailed):
        intraday_quotes_ingest(quotes=[Quote("AAA", Decimal("1"), dt.datetime(2024, 1, 1))], provider="test")
    assert IntradayPrice.objects.count() == 0


def test_the_poll_ingests_the_providers_quotes_up_to_now(watched, monkeypatch):
    from rebalancer.ops.services import intraday

    now = timezone.now()
    closes = latest_closes(symbols=["AAA", "BBB", "BND", "TIP"])

    class Provider:
        name = "scripted"

        def intraday(self, symbols, day, *, interval_minutes=5):
            rows = []
            for s in symbols:
                c = float(closes[s][0])
                rows += [(now - pd.Timedelta(minutes=10), s, c), (now - pd.Timedelta(minutes=5), s, c * 0.6),
                         (now + pd.Timedelta(minutes=5), s, c)]  # the future is not read
            frame = pd.DataFrame(rows, columns=["timestamp", "symbol", "price"])
            frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
            frame["volume"] = 0
            return frame

    monkeypatch.setattr(intraday, "intraday_provider_get", lambda name=None: Provider())
    result = intraday.intraday_poll(now=now)
    assert result.portfolios == 1
    assert RiskAlert.objects.get().rule == "drawdown"
    assert IntradayPrice.objects.get(asset__symbol="AAA").provider == "scripted"


def test_the_poll_with_the_synthetic_provider_values_holdings_at_its_session_prices(investor):
    # given synthetic daily bars up to a Friday and a portfolio invested in two synthetic assets
    from marketdata.providers.synthetic import SyntheticProvider
    from marketdata.services import asset_upsert, prices_upsert
    from portfolios.services import autonomy_update, cash_deposit, portfolio_create
    from rebalancer.autopilot.services import cycle_run
    from rebalancer.ops.services.intraday import SESSION_TZ, intraday_poll

    provider = SyntheticProvider(seed=7)
    friday, monday = dt.date(2012, 3, 2), dt.date(2012, 3, 5)
    for symbol, asset_class in (("ORBT", "equity"), ("TSY10", "bond")):
        asset_upsert(symbol=symbol, asset_class=asset_class)
    prices_upsert(frame=provider.fetch(["ORBT", "TSY10"], dt.date(2011, 1, 3), friday), provider="synthetic")
    p = portfolio_create(owner=investor, name="synthetic", mode="autopilot", strategy="equal_weight")
    autonomy_update(portfolio=p, data={"calendar": "none"})
    cash_deposit(portfolio=p, amount=Decimal("50000"))
    assert cycle_run(portfolio_id=p.pk, as_of=friday).action == "rebalance"
    # when beat polls on Monday at 11:02 New York
    now = dt.datetime.combine(monday, dt.time(11, 2), tzinfo=SESSION_TZ)
    result = intraday_poll(now=now, provider="synthetic")
    # then each holding's quote is the synthetic session's 11:02 price (1-minute bars, the default)
    session = provider.intraday(["ORBT", "TSY10"], monday, interval_minutes=1)
    at_11 = session[session["timestamp"] == pd.Timestamp("2012-03-05 16:02", tz="UTC")].set_index("symbol")
    stored = {q.asset.symbol: q for q in IntradayPrice.objects.select_related("asset")}
    assert result.portfolios == 1
    for symbol in ("ORBT", "TSY10"):
        assert float(stored[symbol].price) == pytest.approx(at_11.loc[symbol, "price"], abs=1e-6)
        assert stored[symbol].at == at_11.loc[symbol, "timestamp"].to_pydatetime()


def test_the_bulk_alert_sync_writes_what_the_per_portfolio_sync_writes(invested, portfolio_make):
    from risk.measures.alerts import AlertSignal
    from risk.services import risk_alerts_sync, risk_alerts_sync_many

    other = portfolio_make()
    first = [AlertSignal("drawdown", "critical", "risk_override", 0.3, 0.2, "dd"),
             AlertSignal("concentration", "warning", "rebalance", 0.4, 0.1, "AAA big", "AAA")]
    second = [AlertSignal("drawdown", "critical", "risk_override", 0.35, 0.2, "dd deeper")]

    def rows(pid):
        return sorted(RiskAlert.objects.filter(portfolio_id=pid).values_list("rule", "symbol", "status", "value",
                                                                              "message"))

    # the same two evaluations, per portfolio on one and in bulk on the other
    risk_alerts_sync(portfolio=invested, signals=first)
    risk_alerts_sync(portfolio=invested, signals=second)
    risk_alerts_sync_many(signals={other.pk: first})
    risk_alerts_sync_many(signals={other.pk: second})
    assert rows(invested.pk) == rows(other.pk) == [
        ("concentration", "AAA", "resolved", 0.4, "AAA big"), ("drawdown", "", "open", 0.35, "dd deeper")]
