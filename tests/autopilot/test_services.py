"""The DB shell: cycle runs executed once, advise mode, kill switch, failures isolated."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from common.errors import Conflict
from marketdata.models import PriceBar
from portfolios.models import Decision, Trade
from rebalancer.autopilot import bulk
from rebalancer.autopilot.models import CycleRun, Notification
from rebalancer.autopilot.services import cycle_run, cycle_run_all, cycle_run_many, kill_switch_set

from .conftest import AS_OF

pytestmark = pytest.mark.django_db


def test_autopilot_cycle_executes_explained_trades_once(portfolio_make):
    # given a funded autopilot portfolio with equal-weight targets
    p = portfolio_make()
    # when the cycle runs
    result = cycle_run(portfolio_id=p.pk, as_of=AS_OF)
    # then four buys are executed, explained and notified
    assert (result.status, result.action, result.trades_count) == ("done", "rebalance", 4)
    decision = Decision.objects.get(pk=result.decision_id)
    assert decision.status == Decision.Status.EXECUTED
    assert [t["kind"] for t in decision.triggers] == ["review", "cash", "drift"]
    assert decision.strategy == "equal_weight"
    assert {c["name"] for c in decision.checks} >= {"position", "var"}
    assert decision.before["cash_weight"] == pytest.approx(1.0)
    assert decision.after["cash_weight"] == pytest.approx(0.02, abs=0.002)
    assert "cash is available to invest" in decision.summary
    trades = Trade.objects.filter(portfolio=p, decision=decision)
    assert trades.count() == 4 and {t.side for t in trades} == {"buy"}
    assert all(t.reason for t in trades)
    p.refresh_from_db()
    assert p.cash == Decimal("100000") + sum(t.cash_flow for t in trades)
    note = Notification.objects.get(decision=decision)
    assert note.kind == "rebalanced" and note.user_id == p.owner_id
    run = CycleRun.objects.get(portfolio=p, as_of=AS_OF)
    assert (run.status, run.attempt, run.trades_count) == ("done", 1, 4)


def test_second_run_same_day_is_a_no_op(portfolio_make):
    # given a cycle already done
    p = portfolio_make()
    first = cycle_run(portfolio_id=p.pk, as_of=AS_OF)
    cash = type(p).objects.get(pk=p.pk).cash
    # when beat fires again
    second = cycle_run(portfolio_id=p.pk, as_of=AS_OF)
    # then nothing changes
    assert second.status == "already_done"
    assert second.decision_id == first.decision_id
    assert Trade.objects.filter(portfolio=p).count() == 4
    assert Decision.objects.filter(portfolio=p).count() == 1
    assert type(p).objects.get(pk=p.pk).cash == cash


def test_quiet_day_records_the_run_but_no_decision(portfolio_make, market_history):
    # given a portfolio rebalanced the day before
    p = portfolio_make()
    yesterday = market_history[-2]
    cycle_run(portfolio_id=p.pk, as_of=yesterday)
    # when today's cycle finds no trigger
    result = cycle_run(portfolio_id=p.pk, as_of=AS_OF)
    # then it holds, with no decision row and no trade
    assert (result.status, result.action, result.decision_id) == ("done", "hold", None)
    assert Decision.objects.filter(portfolio=p).count() == 1
    assert CycleRun.objects.get(portfolio=p, as_of=AS_OF).reason.startswith("No change was needed")


def test_advise_mode_proposes_then_approve_executes(portfolio_make):
    from portfolios.services import decision_approve

    # given an advise-mode portfolio
    p = portfolio_make(mode="advise")
    # when the cycle runs
    result = cycle_run(portfolio_id=p.pk, as_of=AS_OF)
    # then it stops at a proposal, nothing traded
    assert (result.status, result.action) == ("done", "proposed")
    proposal = Decision.objects.get(pk=result.decision_id)
    assert proposal.status == Decision.Status.PROPOSED and len(proposal.trades) == 4
    assert Trade.objects.filter(portfolio=p).count() == 0
    assert Notification.objects.get(decision=proposal).kind == "proposal"
    # when the investor approves
    decision_approve(decision=proposal.pk, user=p.owner)
    # then the stored trades execute
    proposal.refresh_from_db()
    assert proposal.status == Decision.Status.EXECUTED
    assert Trade.objects.filter(portfolio=p, decision=proposal).count() == 4


def test_advise_mode_reject_trades_nothing(portfolio_make):
    from portfolios.services import decision_reject

    # given a proposal
    p = portfolio_make(mode="advise")
    result = cycle_run(portfolio_id=p.pk, as_of=AS_OF)
    # when rejected
    decision_reject(decision=result.decision_id, user=p.owner, reason="not now")
    # then nothing traded, cash untouched
    assert Decision.objects.get(pk=result.decision_id).status == Decision.Status.REJECTED
    assert Trade.objects.filter(portfolio=p).count() == 0
    assert type(p).objects.get(pk=p.pk).cash == Decimal("100000")


def test_kill_switch_halt_skips_and_blocks_approvals(portfolio_make):
    from portfolios.services import decision_approve

    # given a pending proposal and an autopilot portfolio
    advised = portfolio_make(mode="advise")
    proposal = cycle_run(portfolio_id=advised.pk, as_of=AS_OF).decision_id
    auto = portfolio_make()
    # when the operator halts trading
    kill_switch_set(mode="halt", reason="exchange outage")
    result = cycle_run(portfolio_id=auto.pk, as_of=AS_OF)
    # then the cycle is skipped with its reason and nothing trades
    assert (result.status, result.action) == ("done", "skipped")
    skipped = Decision.objects.get(pk=result.decision_id)
    assert skipped.status == Decision.Status.SKIPPED
    assert "kill switch" in skipped.status_reason
    assert Trade.objects.count() == 0
    with pytest.raises(Conflict) as exc:
        decision_approve(decision=proposal, user=advised.owner)
    assert exc.value.code == "kill_switch_halt"
    assert Decision.objects.get(pk=proposal).status == Decision.Status.PROPOSED


def test_kill_switch_defensive_moves_to_half_cash(portfolio_make, market_history):
    # given a portfolio invested yesterday
    p = portfolio_make()
    cycle_run(portfolio_id=p.pk, as_of=market_history[-2])
    # when the operator switches to defensive
    kill_switch_set(mode="defensive")
    result = cycle_run(portfolio_id=p.pk, as_of=AS_OF)
    # then the portfolio sells down to the defensive allocation
    decision = Decision.objects.get(pk=result.decision_id)
    assert decision.explanation["override"]["source"] == "kill_switch"
    assert decision.after["cash_weight"] == pytest.approx(0.5, abs=0.01)
    assert Notification.objects.get(decision=decision).kind == "risk"


def test_a_stale_asset_is_left_out_and_the_rest_is_invested(portfolio_make, market_history):
    # given BND has no bar for the last five trading days (one stale asset of the universe)
    p = portfolio_make()
    PriceBar.objects.filter(asset__symbol="BND", date__gt=market_history[-6]).delete()
    # when
    result = cycle_run(portfolio_id=p.pk, as_of=AS_OF)
    # then the other three are bought, BND is not, and the decision says why
    assert result.action == "rebalance"
    decision = Decision.objects.get(pk=result.decision_id)
    assert set(Trade.objects.values_list("asset__symbol", flat=True)) == {"AAA", "BBB", "TIP"}
    assert any("BND is stale" in note for note in decision.explanation["notes"])


def test_one_failing_portfolio_does_not_stop_the_others_and_a_rerun_finishes(portfolio_make, monkeypatch):
    # given two portfolios, the first one's decision blows up
    bad, good = portfolio_make(), portfolio_make()
    real = bulk.cycle_decide

    def flaky(*, state, **kwargs):
        if state.portfolio_id == bad.pk:
            raise RuntimeError("boom")
        return real(state=state, **kwargs)

    monkeypatch.setattr(bulk, "cycle_decide", flaky)  # the one engine call of both paths
    # when the chunk runs
    results = cycle_run_many(portfolio_ids=[bad.pk, good.pk], as_of=AS_OF)
    # then the failure is recorded and the other portfolio traded
    assert [r.status for r in results] == ["failed", "done"]
    run = CycleRun.objects.get(portfolio=bad, as_of=AS_OF)
    assert run.status == "failed" and "boom" in run.error
    assert Trade.objects.filter(portfolio=bad).count() == 0
    assert Trade.objects.filter(portfolio=good).count() == 4
    # when the cause is fixed and the cycle reruns
    monkeypatch.setattr(bulk, "cycle_decide", real)
    rerun = cycle_run_many(portfolio_ids=[bad.pk, good.pk], as_of=AS_OF)
    # then the failed one finishes and the done one is untouched
    assert [r.status for r in rerun] == ["done", "already_done"]
    assert CycleRun.objects.get(portfolio=bad, as_of=AS_OF).attempt == 2
    assert Trade.objects.filter(portfolio=good).count() == 4


def test_the_per_portfolio_path_decides_through_the_same_engine_call_as_the_chunk(portfolio_make, monkeypatch):
    # given one portfolio (the per-portfolio ORM path) whose decision blows up at the one engine call
    portfolio = portfolio_make()

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(bulk, "cycle_decide", broken)
    # when it runs
    result = cycle_run(portfolio_id=portfolio.pk, as_of=AS_OF)
    # then the failure is recorded and nothing was written
    assert (result.status, result.error) == ("failed", "RuntimeError: boom")
    assert CycleRun.objects.get(portfolio=portfolio, as_of=AS_OF).status == "failed"
    assert not Decision.objects.filter(portfolio=portfolio).exists()
    assert not Trade.objects.filter(portfolio=portfolio).exists()


def test_cycle_run_all_skips_paused_portfolios(portfolio_make):
    from portfolios.services import autonomy_pause

    # given two portfolios, one paused
    active, paused = portfolio_make(), portfolio_make()
    autonomy_pause(portfolios=[paused], reason="investor asked")
    # when the whole cycle runs
    summary = cycle_run_all(as_of=AS_OF, chunk_size=1)
    # then only the active one ran
    assert [r.portfolio_id for r in summary.results] == [active.pk]
    assert summary.by_action == {"rebalance": 1}
    assert not CycleRun.objects.filter(portfolio=paused).exists()


def test_fan_out_enqueues_one_task_per_chunk(portfolio_make, django_capture_on_commit_callbacks):
    # given three portfolios
    ids = [portfolio_make().pk for _ in range(3)]
    # when the beat task fans out in chunks of two (Celery runs eagerly in tests)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        summary = cycle_run_all(as_of=AS_OF, chunk_size=2, enqueue=True)
    # then two chunk tasks ran every portfolio once
    assert (summary.chunks, len(callbacks)) == (2, 2)
    assert CycleRun.objects.filter(portfolio_id__in=ids, status="done").count() == 3


def test_management_command_prints_a_summary(portfolio_make, capsys):
    # given a portfolio
    p = portfolio_make()
    # when
    call_command("autopilot", "--as-of", AS_OF.isoformat(), "--portfolio", str(p.pk))
    # then
    out = capsys.readouterr().out
    assert f"Autopilot cycle for {AS_OF.isoformat()}: 1 portfolio(s)" in out
    assert "rebalance: 1" in out
    assert Trade.objects.filter(portfolio=p).count() == 4


def test_an_as_of_earlier_than_the_last_trade_is_refused_and_trades_nothing(portfolio_make, market_history):
    # given a portfolio the cycle invested on AS_OF
    p = portfolio_make()
    call_command("autopilot", "--as-of", AS_OF.isoformat(), "--portfolio", str(p.pk))
    trades = Trade.objects.filter(portfolio=p).count()
    earlier = market_history[-10]
    # when a cycle is asked for an older day, forced or not
    for force in ([], ["--force"]):
        with pytest.raises(CommandError, match=f"as-of {earlier.isoformat()} is earlier than the last trade"):
            call_command("autopilot", "--as-of", earlier.isoformat(), "--portfolio", str(p.pk), *force)
    # then nothing executes at the old close; the service's own answer is a failed run saying why
    assert Trade.objects.filter(portfolio=p).count() == trades
    result = cycle_run(portfolio_id=p.pk, as_of=earlier)
    assert (result.status, "earlier than the portfolio's last trade" in result.error) == ("failed", True)
    assert Trade.objects.filter(portfolio=p).count() == trades


def test_beat_entry_runs_after_the_data_pull():
    from marketdata.beat import BEAT_SCHEDULE as PULL
    from rebalancer.autopilot.beat import BEAT_SCHEDULE

    entry = BEAT_SCHEDULE["autopilot: daily rebalancing cycle"]
    pull = PULL["marketdata: pull daily bars"]["schedule"]
    assert entry["task"] == "autopilot.cycle_run_all_task"
    assert entry["schedule"].day_of_week == pull.day_of_week
    assert (min(entry["schedule"].hour), min(entry["schedule"].minute)) > (min(pull.hour), min(pull.minute))


def test_unknown_date_without_prices_skips(portfolio_make):
    # given a date after the last bar
    p = portfolio_make()
    # when
    result = cycle_run(portfolio_id=p.pk, as_of=date(2024, 5, 16))
    # then no close → skipped, nothing traded
    assert result.action == "skipped"
    assert Trade.objects.count() == 0


@pytest.mark.parametrize("strategy", ["optimizer:max_sharpe", "optimizer:min_volatility"])
def test_the_nightly_risk_alerts_agree_with_what_the_autopilot_just_bought(portfolio_make, strategy):
    # given a portfolio the autopilot has just invested with a concentrating strategy
    from risk.selectors import portfolio_risk_view_get, risk_limits_get

    p = portfolio_make(strategy=strategy)
    result = cycle_run(portfolio_id=p.pk, as_of=AS_OF)
    assert result.action == "rebalance"
    # when the nightly risk view reads the same holdings
    view = portfolio_risk_view_get(portfolio=p, as_of=AS_OF)
    # then no concentration alert asks the investor to undo a purchase: every risky holding
    # is within the position cap the autopilot traded to, and the view used those limits
    cap = risk_limits_get(portfolio=p).max_position
    risky = {s: w for s, w in view.weights.items() if view.asset_classes[s] == "equity"}
    assert max(risky.values()) == pytest.approx(cap, abs=1e-3)  # the cap binds: a real test
    assert [s for s in view.signals if s.rule == "concentration"] == []
