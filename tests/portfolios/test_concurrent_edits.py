"""ETag / If-Match on portfolios, targets and autonomy: a stale edit is a 412 and changes nothing."""

from __future__ import annotations

import pytest
from django.test import override_settings

from portfolios.models import AutonomySettings, Portfolio, TargetAllocation

BASE = "/api/v1/portfolios"


@pytest.fixture
def mine(investor_client, market):
    response = investor_client.post(BASE, {"name": "Mine", "mode": "advise"}, format="json")
    assert response.status_code == 201, response.json()
    return Portfolio.objects.get(pk=response.json()["id"])


def _targets(weight: str) -> dict:  # within the default tier's 25 % position cap
    return {"targets": [{"symbol": "AAA", "weight": weight}]}


def test_a_stale_if_match_on_targets_is_412_and_the_first_edit_stays(investor_client, mine):
    # given two phones that read the same targets
    url = f"{BASE}/{mine.pk}/targets"
    read = investor_client.get(url)
    etag = read["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    # when the first edits, then the second edits with the tag it read
    first = investor_client.put(url, _targets("0.2"), format="json", HTTP_IF_MATCH=etag)
    second = investor_client.put(url, _targets("0.15"), format="json", HTTP_IF_MATCH=etag)
    # then the first applied and returned the new tag, the second is a 412 and changed nothing
    assert first.status_code == 200 and first["ETag"] != etag
    assert second.status_code == 412
    assert second.json()["errors"] == [{
        "code": "precondition_failed",
        "detail": "this was changed since you read it; read it again and redo your edit",
        "attr": "If-Match",
    }]
    assert [str(t.weight) for t in TargetAllocation.objects.filter(portfolio=mine)] == ["0.200000"]
    # and the tag of the new state lets the second phone edit
    retry = investor_client.put(url, _targets("0.15"), format="json", HTTP_IF_MATCH=first["ETag"])
    assert retry.status_code == 200
    assert investor_client.get(url)["ETag"] == retry["ETag"]


def test_a_stale_if_match_on_autonomy_is_412(investor_client, mine):
    url = f"{BASE}/{mine.pk}/autonomy"
    etag = investor_client.get(url)["ETag"]
    assert investor_client.put(url, {"rebalance_threshold": "0.07"}, format="json", HTTP_IF_MATCH=etag).status_code == 200
    stale = investor_client.put(url, {"rebalance_threshold": "0.2"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert str(AutonomySettings.objects.get(portfolio=mine).rebalance_threshold) == "0.0700"


def test_a_stale_if_match_on_the_portfolio_is_412_for_put_and_patch(investor_client, mine):
    url = f"{BASE}/{mine.pk}"
    etag = investor_client.get(url)["ETag"]
    assert investor_client.patch(url, {"name": "Renamed"}, format="json", HTTP_IF_MATCH=etag).status_code == 200
    assert investor_client.patch(url, {"name": "Again"}, format="json", HTTP_IF_MATCH=etag).status_code == 412
    put = {"name": "Put", "base_currency": "USD", "benchmark_symbol": "SPY", "lot_method": "fifo"}
    assert investor_client.put(url, put, format="json", HTTP_IF_MATCH=etag).status_code == 412
    assert Portfolio.objects.get(pk=mine.pk).name == "Renamed"
    # the value moving with prices or cash is not an edit: the tag holds across a deposit
    fresh = investor_client.get(url)["ETag"]
    investor_client.post(f"{url}/cash", {"operation": "deposit", "amount": "10"}, format="json")
    assert investor_client.get(url)["ETag"] == fresh


def test_without_if_match_the_edit_applies_and_star_matches_anything(investor_client, mine):
    url = f"{BASE}/{mine.pk}/targets"
    assert investor_client.put(url, _targets("0.2"), format="json").status_code == 200
    assert investor_client.put(url, _targets("0.1"), format="json", HTTP_IF_MATCH="*").status_code == 200


@override_settings(API_REQUIRE_IF_MATCH=True)
def test_when_required_a_missing_if_match_is_428(investor_client, mine):
    response = investor_client.put(f"{BASE}/{mine.pk}/targets", _targets("0.2"), format="json")
    assert (response.status_code, response.json()["errors"][0]["code"]) == (428, "precondition_required")
    assert not TargetAllocation.objects.filter(portfolio=mine).exists()


def test_the_schema_documents_etag_if_match_412_and_428(api_client):
    schema = api_client.get("/api/v1/schema/", {"format": "json"}).json()
    put = schema["paths"]["/api/v1/portfolios/{id}/targets"]["put"]
    assert {"412", "428"} <= set(put["responses"])
    assert "If-Match" in [p["name"] for p in put["parameters"] if p["in"] == "header"]
    get = schema["paths"]["/api/v1/portfolios/{id}/autonomy"]["get"]
    assert "ETag" in get["responses"]["200"]["headers"]
