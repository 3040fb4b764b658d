import datetime as dt

import pytest

from common.errors import Conflict
from portfolios.models import PortfolioLimits
from risk.measures.alerts import AlertSignal
from risk.models import RiskAlert, RiskSnapshot
from risk.services import risk_alert_acknowledge, risk_alerts_sync, risk_snapshot_take
from tests.risk.conftest import make_portfolio


def _signal(rule="var_breach", value=0.05, symbol=""):
    return AlertSignal(rule, "critical", "reduce_risk", value, 0.03, f"{rule} {value}", symbol)


def test_snapshot_stores_brief_001_metrics_once_per_day(portfolio, market):
    # when
    first = risk_snapshot_take(portfolio=portfolio)
    second = risk_snapshot_take(portfolio=portfolio)
    # then
    assert first.pk == second.pk and RiskSnapshot.objects.filter(portfolio=portfolio).count() == 1
    assert first.date == market.index[-1].date()
    assert 0 < first.var_1d < first.var_5d
    assert first.expected_shortfall >= first.var_1d
    for name in ["beta", "tracking_error", "max_drawdown", "sharpe_ratio", "sortino_ratio"]:
        assert getattr(first, name) is not None, name
    components = sum(a["component_var"] for a in first.attribution["by_asset"])
    assert first.attribution["method"] == "parametric"
    assert len(first.stress_summary["worst"]) == 5
    assert components > 0


def test_snapshot_raises_alerts_and_resolves_them_when_the_breach_ends(portfolio, market):
    # given the portfolio's VaR limit overridden far below its VaR forecast
    PortfolioLimits.objects.create(portfolio=portfolio, max_var_95=0.001, max_position=0.9)
    # when
    risk_snapshot_take(portfolio=portfolio)
    # then the alert compares the autopilot's measure (the overlay's EWMA forecast) with the limit
    open_alerts = RiskAlert.objects.filter(portfolio=portfolio, status="open")
    assert [(a.rule, a.severity, a.action) for a in open_alerts] == [("var_breach", "critical", "reduce_risk")]
    assert open_alerts[0].limit == pytest.approx(0.001)
    assert open_alerts[0].value > 0.001
    # when the limit is relaxed, the next snapshot resolves the alert
    PortfolioLimits.objects.filter(portfolio=portfolio).update(max_var_95=0.5)
    risk_snapshot_take(portfolio=portfolio)
    alert = RiskAlert.objects.get(portfolio=portfolio)
    assert alert.status == "resolved" and alert.resolved_at is not None


def test_a_continuing_breach_refreshes_its_alert_and_keeps_the_acknowledgement(portfolio, investor):
    # given
    [alert] = risk_alerts_sync(portfolio=portfolio, signals=[_signal(value=0.05)])
    risk_alert_acknowledge(alert=alert, user=investor)
    # when
    risk_alerts_sync(portfolio=portfolio, signals=[_signal(value=0.07)])
    # then
    alert.refresh_from_db()
    assert RiskAlert.objects.count() == 1
    assert (alert.status, alert.value, alert.acknowledged_by) == ("acknowledged", 0.07, investor)


def test_acknowledging_a_resolved_alert_is_a_conflict_and_changes_nothing(portfolio, investor):
    # given
    [alert] = risk_alerts_sync(portfolio=portfolio, signals=[_signal()])
    risk_alerts_sync(portfolio=portfolio, signals=[])
    alert.refresh_from_db()
    # when / then
    with pytest.raises(Conflict):
        risk_alert_acknowledge(alert=alert, user=investor)
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == ("resolved", None)


def test_drawdown_rule_uses_the_portfolios_value_history(portfolio, market):
    # given a value history 25 % below its peak (limit 20 %)
    from portfolios.models import PortfolioSnapshot

    for i, value in enumerate([10000, 12000, 9000]):
        PortfolioSnapshot.objects.create(portfolio=portfolio, date=dt.date(2023, 1, 2) + dt.timedelta(days=i),
                                         value=value, cash=value, invested=0)
    # when
    risk_snapshot_take(portfolio=portfolio)
    # then
    alert = RiskAlert.objects.get(portfolio=portfolio, rule="drawdown")
    assert (alert.severity, alert.action) == ("critical", "risk_override")
    assert alert.value == pytest.approx(0.25)


def test_nightly_task_snapshots_every_portfolio_with_positions(portfolio, investor, market):
    # given a second, empty portfolio that is skipped
    make_portfolio(investor, {})
    from risk.beat import BEAT_SCHEDULE
    from risk.tasks import risk_snapshots_take_task

    entry = BEAT_SCHEDULE["risk: nightly snapshots and alerts"]
    assert entry["task"] == risk_snapshots_take_task.name
    # when
    stored = risk_snapshots_take_task.delay().get()
    # then
    assert stored == 1
    assert list(RiskSnapshot.objects.values_list("portfolio_id", flat=True)) == [portfolio.pk]
