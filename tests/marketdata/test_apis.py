"""market/assets and market/data/{symbol}: filters, pagination, intervals and errors."""

from __future__ import annotations

import pytest

from marketdata.models import Asset

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(priced):
    Asset.objects.create(symbol="SMKE", name="Ember Tobacco", sector="consumer_staples", esg_score=18.0, esg_flags=["tobacco"])
    return priced


def test_assets_require_authentication(api_client):
    response = api_client.get("/api/v1/market/assets")
    assert response.status_code == 401


def test_assets_are_listed_paginated(investor_client, catalogue):
    # when
    response = investor_client.get("/api/v1/market/assets", {"page_size": 2})

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    assert [a["symbol"] for a in body["results"]] == ["AAA", "BBB"]
    assert body["next"] is not None


def test_assets_filter_by_class_sector_and_search(investor_client, catalogue):
    # when
    bonds = investor_client.get("/api/v1/market/assets", {"asset_class": "bond"}).json()
    staples = investor_client.get("/api/v1/market/assets", {"sector": "Consumer_Staples"}).json()
    search = investor_client.get("/api/v1/market/assets", {"search": "bank"}).json()

    # then
    assert [a["symbol"] for a in bonds["results"]] == ["CCC"]
    assert staples["results"] == [
        {
            "symbol": "SMKE",
            "name": "Ember Tobacco",
            "asset_class": "equity",
            "sector": "consumer_staples",
            "currency": "USD",
            "esg_score": 18.0,
            "esg_flags": ["tobacco"],
            "is_active": True,
        }
    ]
    assert [a["symbol"] for a in search["results"]] == ["BBB"]


def test_assets_reject_an_unknown_class(investor_client, catalogue):
    response = investor_client.get("/api/v1/market/assets", {"asset_class": "art"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "asset_class"


def test_daily_bars(investor_client, priced):
    # when
    response = investor_client.get("/api/v1/market/data/AAA", {"start": "2024-01-03", "end": "2024-01-04"})

    # then
    assert response.status_code == 200
    assert response.json() == {
        "symbol": "AAA",
        "currency": "USD",
        "interval": "daily",
        "start": "2024-01-03",
        "end": "2024-01-04",
        "bars": [
            {"date": "2024-01-03", "open": "110.000000", "high": "110.000000", "low": "110.000000",
             "close": "110.000000", "adj_close": "110.000000", "volume": 100},
            {"date": "2024-01-04", "open": "99.000000", "high": "99.000000", "low": "99.000000",
             "close": "99.000000", "adj_close": "99.000000", "volume": 100},
        ],
    }


def test_default_window_ends_at_the_last_bar(investor_client, priced):
    body = investor_client.get("/api/v1/market/data/AAA").json()
    assert (body["start"], body["end"], len(body["bars"])) == ("2023-01-05", "2024-01-05", 4)


def test_weekly_bars(investor_client, priced):
    body = investor_client.get("/api/v1/market/data/AAA", {"interval": "weekly"}).json()
    assert [(b["date"], b["open"], b["high"], b["close"], b["volume"]) for b in body["bars"]] == [
        ("2024-01-05", "100.000000", "110.000000", "99.000000", 400)
    ]


def test_unknown_symbol_is_404(investor_client, priced):
    response = investor_client.get("/api/v1/market/data/NOPE")
    assert response.status_code == 404
    assert response.json()["errors"][0]["attr"] == "symbol"


@pytest.mark.parametrize(
    ("params", "attr"),
    [
        ({"start": "2024-13-01"}, "start"),
        ({"end": "yesterday"}, "end"),
        ({"start": "2024-02-01", "end": "2024-01-01"}, "end"),
        ({"interval": "hourly"}, "interval"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(investor_client, priced, params, attr):
    response = investor_client.get("/api/v1/market/data/AAA", params)
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert body["errors"][0]["attr"] == attr
