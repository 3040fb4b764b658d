"""Intraday quotes behind one interface: the synthetic session (consistent with its daily
bars) and Yahoo's intraday chart (recorded responses, no network)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from marketdata.providers import (
    INTRADAY_COLUMNS,
    IntradayProvider,
    UnknownSymbolsError,
    provider_get,
)
from marketdata.providers.synthetic import SyntheticProvider, intraday_path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DAY = dt.date(2012, 3, 5)  # a Monday


@pytest.fixture(scope="module")
def synthetic() -> SyntheticProvider:
    return SyntheticProvider(seed=7)


def test_both_providers_offer_the_intraday_interface():
    assert isinstance(provider_get("synthetic"), IntradayProvider)
    assert isinstance(provider_get("yahoo"), IntradayProvider)


def test_a_synthetic_session_runs_from_the_daily_open_to_the_daily_close_within_high_and_low(synthetic):
    # when the session of DAY is quoted every 5 minutes
    quotes = synthetic.intraday(["ORBT", "TSY10"], DAY, interval_minutes=5)
    daily = synthetic.fetch(["ORBT", "TSY10"], DAY, DAY).set_index("symbol")
    # then 79 quotes per symbol, 09:30 to 16:00 New York, in UTC
    assert list(quotes.columns) == list(INTRADAY_COLUMNS)
    assert str(quotes["timestamp"].dt.tz) == "UTC"
    for symbol, group in quotes.groupby("symbol"):
        bar = daily.loc[symbol]
        prices = group["price"].to_numpy()
        assert len(prices) == 79
        assert group["timestamp"].iloc[0] == pd.Timestamp("2012-03-05 14:30", tz="UTC")  # 09:30 EST
        assert group["timestamp"].iloc[-1] == pd.Timestamp("2012-03-05 21:00", tz="UTC")  # 16:00 EST
        assert prices[0] == pytest.approx(bar["open"], abs=1e-6)
        assert prices[-1] == pytest.approx(bar["close"], abs=1e-6)
        assert prices.max() == pytest.approx(bar["high"], abs=1e-6)  # the path touches the day's high
        assert prices.min() == pytest.approx(bar["low"], abs=1e-6)  # and its low
        assert (prices <= bar["high"] + 1e-9).all() and (prices >= bar["low"] - 1e-9).all()


def test_a_synthetic_session_is_deterministic_and_independent_of_the_symbols_asked(synthetic):
    one = synthetic.intraday(["ORBT"], DAY)
    both = synthetic.intraday(["ORBT", "GOLD"], DAY)
    again = SyntheticProvider(seed=7).intraday(["ORBT"], DAY)
    pd.testing.assert_frame_equal(one, both[both["symbol"] == "ORBT"].reset_index(drop=True))
    pd.testing.assert_frame_equal(one, again)
    other_seed = SyntheticProvider(seed=8).intraday(["ORBT"], DAY)
    assert not np.allclose(one["price"], other_seed["price"])


def test_a_weekend_has_no_session_and_unknown_symbols_are_named(synthetic):
    assert synthetic.intraday(["ORBT"], dt.date(2012, 3, 4)).empty
    with pytest.raises(UnknownSymbolsError) as raised:
        synthetic.intraday(["ORBT", "NOPE"], DAY)
    assert raised.value.symbols == ["NOPE"]
    with pytest.raises(ValueError, match="interval_minutes must divide the"):
        synthetic.intraday(["ORBT"], DAY, interval_minutes=7)


def test_intraday_path_touches_high_and_low_exactly():
    rng = np.random.default_rng(0)
    path = intraday_path(open_=100.0, high=104.0, low=97.0, close=101.0, steps=78, rng=rng)
    assert (path[0], path[-1]) == (100.0, 101.0)
    assert path.max() == pytest.approx(104.0) and path.min() == pytest.approx(97.0)


# --- Yahoo --------------------------------------------------------------------------------------


class Response:
    def __init__(self, status_code: int, body=None) -> None:
        self.status_code, self._body, self.headers = status_code, body, {}

    def json(self):
        return self._body


class Replay:
    def __init__(self, script: dict) -> None:
        self.script = {k: list(v) for k, v in script.items()}
        self.calls: list = []

    def get(self, url, *, params, timeout, headers):
        symbol = url.rsplit("/", 1)[1]
        self.calls.append((symbol, params))
        return self.script[symbol].pop(0)


def recorded(name: str) -> dict:
    return json.loads((FIXTURES / f"yahoo_chart_{name}.json").read_text())


def test_yahoo_intraday_parses_a_recorded_session():
    from marketdata.providers.yahoo import YahooChartProvider

    session = Replay({"MSFT": [Response(200, recorded("intraday_MSFT"))]})
    quotes = YahooChartProvider(session=session, sleep=lambda s: None).intraday(["MSFT"], dt.date(2023, 11, 17))
    # one 5-minute bar had no quote: 77 of 78; each stamped at its bar's end, in UTC
    assert len(quotes) == 77
    assert list(quotes.columns) == list(INTRADAY_COLUMNS)
    assert quotes["timestamp"].iloc[0] == pd.Timestamp("2023-11-17 14:35", tz="UTC")  # 09:30 bar ends 09:35 EST
    assert quotes["timestamp"].iloc[-1] == pd.Timestamp("2023-11-17 21:00", tz="UTC")
    assert quotes["price"].iloc[-1] == pytest.approx(369.85)
    symbol, params = session.calls[0]
    assert (symbol, params["interval"], params["period1"]) == ("MSFT", "5m", 1700179200)


def test_yahoo_intraday_unknown_symbol_and_bad_interval():
    from marketdata.providers.yahoo import YahooChartProvider

    session = Replay({"MSFT": [Response(200, recorded("intraday_MSFT"))],
                      "NOPE": [Response(404, recorded("not_found"))]})
    yahoo = YahooChartProvider(session=session, sleep=lambda s: None)
    with pytest.raises(UnknownSymbolsError) as raised:
        yahoo.intraday(["MSFT", "NOPE"], dt.date(2023, 11, 17))
    assert raised.value.symbols == ["NOPE"]
    with pytest.raises(ValueError, match="Yahoo's intraday intervals are"):
        yahoo.intraday(["MSFT"], dt.date(2023, 11, 17), interval_minutes=3)
