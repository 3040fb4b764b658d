"""The Yahoo chart provider against recorded responses (no network)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
import requests

from marketdata.providers.base import ProviderError, UnknownSymbolsError, provider_get
from marketdata.providers.yahoo import YahooChartProvider

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def recorded(name: str) -> dict:
    return json.loads((FIXTURES / f"yahoo_chart_{name}.json").read_text())


class Response:
    def __init__(self, status_code: int, body: object = None, headers: dict | None = None) -> None:
        self.status_code = status_code
        self._body = body
        self.headers = headers or {}

    def json(self):
        if isinstance(self._body, Exception):
            raise self._body
        return self._body


class ReplaySession:
    """Answers each GET with the next scripted response (or exception) for that symbol."""

    def __init__(self, script: dict[str, list]) -> None:
        self.script = {k: list(v) for k, v in script.items()}
        self.calls: list[tuple[str, dict]] = []

    def get(self, url, *, params, timeout, headers):
        symbol = url.rsplit("/", 1)[1]
        self.calls.append((symbol, params))
        item = self.script[symbol].pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def provider(script, **kwargs):
    sleeps: list[float] = []
    return YahooChartProvider(session=ReplaySession(script), sleep=sleeps.append, **kwargs), sleeps


def test_parses_a_recorded_response_into_the_tidy_frame():
    # given
    yahoo, _ = provider({"MSFT": [Response(200, recorded("MSFT"))]})

    # when
    frame = yahoo.fetch(["MSFT"], dt.date(2023, 11, 8), dt.date(2023, 11, 17))

    # then: New York dates of the session opens, values as sent
    assert frame["date"].dt.date.tolist() == [
        dt.date(2023, 11, d) for d in (8, 9, 10, 13, 14, 15, 16, 17)
    ]
    first = frame.iloc[0]
    assert first["open"] == pytest.approx(361.67999267578125)
    assert first["close"] == pytest.approx(363.20001220703125)
    assert first["adj_close"] == pytest.approx(359.8800048828125)
    assert first["volume"] == 22828100
    assert (frame["symbol"] == "MSFT").all()
    _symbol, params = yahoo.session.calls[0]
    assert params["interval"] == "1d"
    assert params["period1"] == int(pd.Timestamp("2023-11-08", tz="UTC").timestamp())
    assert params["period2"] == int(pd.Timestamp("2023-11-18", tz="UTC").timestamp())


def test_window_is_applied_and_null_sessions_dropped_in_the_exchange_time_zone():
    # given: VOD.L has a null row on 2023-11-15
    yahoo, _ = provider({"VOD.L": [Response(200, recorded("VOD.L"))]})

    # when
    frame = yahoo.fetch(["VOD.L"], dt.date(2023, 11, 14), dt.date(2023, 11, 30))

    # then
    assert frame["date"].dt.date.tolist() == [dt.date(2023, 11, 14), dt.date(2023, 11, 16), dt.date(2023, 11, 17)]
    assert frame["adj_close"].tolist() == pytest.approx([73.2099990844726, 72.5299987792969, 72.8600006103515])


def test_unknown_symbol_404_raises_unknown_symbols_after_fetching_the_others():
    # given
    yahoo, _ = provider(
        {"MSFT": [Response(200, recorded("MSFT"))], "NOPE": [Response(404, recorded("not_found"))]}
    )

    # when / then
    with pytest.raises(UnknownSymbolsError) as caught:
        yahoo.fetch(["NOPE", "MSFT"], dt.date(2023, 11, 1), dt.date(2023, 11, 30))
    assert caught.value.symbols == ["NOPE"]


def test_transient_failures_are_retried_with_exponential_backoff():
    # given: a rate limit, a 503 and a dropped connection before the answer
    yahoo, sleeps = provider(
        {
            "MSFT": [
                Response(429),
                Response(503),
                requests.ConnectionError("reset by peer"),
                Response(200, recorded("MSFT")),
            ]
        },
        backoff=0.5,
    )

    # when
    frame = yahoo.fetch(["MSFT"], dt.date(2023, 11, 8), dt.date(2023, 11, 17))

    # then
    assert len(frame) == 8
    assert sleeps == [0.5, 1.0, 2.0]


def test_retry_after_is_honoured():
    yahoo, sleeps = provider({"MSFT": [Response(429, headers={"Retry-After": "7"}), Response(200, recorded("MSFT"))]})
    yahoo.fetch(["MSFT"], dt.date(2023, 11, 8), dt.date(2023, 11, 17))
    assert sleeps == [7.0]


def test_gives_up_after_max_retries():
    # given
    yahoo, sleeps = provider({"MSFT": [Response(502)] * 3}, max_retries=2, backoff=1.0)

    # when / then
    with pytest.raises(ProviderError, match=r"after 3 attempts \(HTTP 502\)"):
        yahoo.fetch(["MSFT"], dt.date(2023, 11, 8), dt.date(2023, 11, 17))
    assert sleeps == [1.0, 2.0]


def test_client_errors_are_not_retried():
    yahoo, sleeps = provider({"MSFT": [Response(401)]})
    with pytest.raises(ProviderError, match="HTTP 401"):
        yahoo.fetch(["MSFT"], dt.date(2023, 11, 8), dt.date(2023, 11, 17))
    assert sleeps == []


@pytest.mark.parametrize(
    "body",
    [
        {"chart": {"result": [{"meta": {}, "timestamp": [1], "indicators": {}}], "error": None}},
        {"unexpected": True},
        ValueError("not json"),
        {"chart": {"result": None, "error": {"code": "Internal", "description": "boom"}}},
    ],
)
def test_malformed_payloads_raise_provider_error(body):
    yahoo, _ = provider({"MSFT": [Response(200, body)]})
    with pytest.raises(ProviderError):
        yahoo.fetch(["MSFT"], dt.date(2023, 11, 8), dt.date(2023, 11, 17))


def test_registered_as_yahoo():
    assert isinstance(provider_get("yahoo", session=ReplaySession({})), YahooChartProvider)
    with pytest.raises(KeyError, match="unknown price provider 'bloomberg'"):
        provider_get("bloomberg")


def test_dividends_and_splits_in_the_window_are_reported_as_actions():
    # given: the recorded MSFT dividend, plus a 4:1 split added on 2023-11-16
    payload = recorded("MSFT")
    payload["chart"]["result"][0]["events"]["splits"] = {
        "1700145000": {"date": 1700145000, "numerator": 4, "denominator": 1, "splitRatio": "4:1"}
    }
    yahoo, _ = provider({"MSFT": [Response(200, payload)], "VOD.L": [Response(200, recorded("VOD.L"))]})

    # when
    yahoo.fetch(["MSFT", "VOD.L"], dt.date(2023, 11, 8), dt.date(2023, 11, 17))

    # then
    assert yahoo.actions[["date", "symbol", "kind", "ratio"]].to_dict("records") == [
        {"date": pd.Timestamp("2023-11-15"), "symbol": "MSFT", "kind": "dividend", "ratio": 0.75},
        {"date": pd.Timestamp("2023-11-16"), "symbol": "MSFT", "kind": "split", "ratio": 4.0},
    ]
    split = yahoo.actions.iloc[1]
    assert (split["numerator"], split["denominator"]) == (4.0, 1.0)


def test_actions_outside_the_window_are_left_out():
    yahoo, _ = provider({"MSFT": [Response(200, recorded("MSFT"))]})
    yahoo.fetch(["MSFT"], dt.date(2023, 11, 16), dt.date(2023, 11, 17))
    assert yahoo.actions.empty
