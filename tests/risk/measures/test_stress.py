import pytest

from risk.measures import RiskInputError
from risk.measures.stress import SCENARIOS, custom_scenario, stress_recommendations, stress_test

CLASSES = {"SPY": "equity", "AGG": "bond", "BTC": "crypto", "USD": "cash"}
WEIGHTS = {"SPY": 0.6, "AGG": 0.3, "BTC": 0.05, "USD": 0.05}


def test_there_are_at_least_twenty_named_scenarios_with_the_required_episodes():
    names = set(SCENARIOS)
    assert len(names) >= 20
    for required in ["black_monday_1987", "ltcm_1998", "dotcom_2000_2002", "september_11_2001",
                     "lehman_2008", "flash_crash_2010", "euro_crisis_2011", "taper_tantrum_2013",
                     "china_devaluation_2015", "volatility_spike_2018", "covid_crash_2020",
                     "rate_shock_2022", "equity_crash_30", "rates_up_200bp", "crypto_crash_60",
                     "correlation_breakdown"]:
        assert required in names


def test_class_shocks_give_the_weighted_pnl_and_contributions():
    # when
    report = stress_test(WEIGHTS, [SCENARIOS["covid_crash_2020"]], asset_classes=CLASSES)
    # then 0.6 * -0.34 + 0.3 * 0.01 + 0.05 * -0.45 + 0.05 * 0
    result = report.results[0]
    assert result.pnl == pytest.approx(0.6 * -0.34 + 0.3 * 0.01 + 0.05 * -0.45)
    assert result.loss == pytest.approx(-result.pnl)
    assert {c.symbol: c.contribution for c in result.contributions}["USD"] == 0.0
    assert sum(c.contribution for c in result.contributions) == pytest.approx(result.pnl)


def test_historical_episodes_replay_from_data_where_the_asset_has_history(stock_returns):
    # given JPM has data through 2008; the crypto-like holding has none
    weights = {"JPM": 0.5, "BTC": 0.5}
    window = stock_returns["JPM"].loc["2008-09-13":"2008-11-20"]
    # when
    result = stress_test(weights, [SCENARIOS["lehman_2008"]], asset_classes={"JPM": "equity", "BTC": "crypto"},
                         returns=stock_returns).results[0]
    # then
    jpm = next(c for c in result.contributions if c.symbol == "JPM")
    assert jpm.source == "replay"
    assert jpm.shock == pytest.approx((1 + window).prod() - 1)
    btc = next(c for c in result.contributions if c.symbol == "BTC")
    assert (btc.source, btc.shock) == ("asset_class", SCENARIOS["lehman_2008"].shocks["crypto"])
    assert result.replayed_symbols == ["JPM"]


def test_worst_case_is_the_lowest_pnl_and_recommendations_name_the_driver():
    # when
    report = stress_test({"SPY": 1.0}, asset_classes={"SPY": "equity"})
    # then
    assert report.worst_case.name == "gfc_2007_2009"
    assert report.worst_case.pnl == pytest.approx(-0.56)
    advice = stress_recommendations(report)
    assert "SPY" in advice[0]


def test_custom_scenarios_validate_their_shocks():
    # when
    scenario = custom_scenario("my_crash", shocks={"equity": -0.5}, symbol_shocks={"AGG": 0.02})
    result = stress_test(WEIGHTS, [scenario], asset_classes=CLASSES).results[0]
    # then
    assert result.pnl == pytest.approx(0.6 * -0.5 + 0.3 * 0.02)
    with pytest.raises(RiskInputError) as info:
        custom_scenario("bad", shocks={"stocks": -0.5})
    assert info.value.field == "shocks"
    with pytest.raises(RiskInputError):
        custom_scenario("bad", shocks={"equity": -1.5})


def test_replay_needs_history_before_the_window_and_no_gap_inside():
    # given three symbols over 10 days: OK is complete, LATE lists on day 3, GAP misses day 6
    import numpy as np
    import pandas as pd

    from risk.measures.stress import ReplayHistory

    days = pd.bdate_range("2020-02-17", periods=10)
    panel = pd.DataFrame({"OK": 0.01, "LATE": 0.01, "GAP": 0.01}, index=days)
    panel.loc[days[:3], "LATE"] = np.nan
    panel.loc[days[6], "GAP"] = np.nan
    # when the window (day 1, day 8] is replayed
    shocks = ReplayHistory(panel).shocks(days[1].date(), days[8].date())
    # then only OK is replayed, with 7 compounded days
    assert shocks == {"OK": pytest.approx(1.01**7 - 1)}
    # and a window past the end of the data replays nothing
    assert ReplayHistory(panel).shocks(days[5].date(), (days[-1] + pd.Timedelta(days=30)).date()) == {}
