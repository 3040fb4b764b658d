"""Fuzz POST optimize with real symbols in the database (the global fuzz mostly meets 404s):
no 5xx, responses as documented, whatever the constraints, objectives and numbers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

SYMBOLS = ["AAPL", "AMZN", "JPM", "XOM"]
DATA = Path("/work/shared/data/stock_prices.csv")
if not DATA.exists():  # pragma: no cover - another checkout layout
    DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "stock_prices.csv"


def _schema():
    from django.core.wsgi import get_wsgi_application

    return schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


schema = _schema()


@pytest.fixture
def fuzz_market(db, investor):
    from rest_framework_simplejwt.tokens import RefreshToken

    from marketdata.services import asset_upsert, prices_upsert

    prices = pd.read_csv(DATA, parse_dates=["date"], index_col="date").loc["2017-01-01":, SYMBOLS]
    for symbol in SYMBOLS:
        asset_upsert(
            symbol=symbol, sector="energy" if symbol == "XOM" else "other", esg_flags=["x"]
        )
    tidy = prices.stack().rename("adj_close").reset_index()
    tidy.columns = ["date", "symbol", "adj_close"]
    for column in ("open", "high", "low", "close"):
        tidy[column] = tidy["adj_close"]
    tidy["volume"] = 1
    prices_upsert(
        frame=tidy[["date", "symbol", "open", "high", "low", "close", "adj_close", "volume"]],
        provider="t",
    )
    return {"Authorization": f"Bearer {RefreshToken.for_user(investor).access_token}"}


@schema.include(path="/api/v1/optimize").parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_optimize_with_real_symbols_never_fails(case, fuzz_market):
    if isinstance(case.body, dict):
        case.body["universe"] = SYMBOLS
        for key in ("start", "end"):
            if case.body.get(key) is not None and str(case.body[key]) < "2017-03-01":
                case.body[key] = None
    response = case.call_and_validate(
        headers=fuzz_market,
        checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
    )
    STATUSES.append(response.status_code)


STATUSES: list[int] = []
