"""The regime admin pages render, and the policy is editable there."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from mlagents.regime.models import RegimePolicy

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser(email="ops@example.com", password="x-Strong-pass-1")
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", ["referencemarket", "regimemodel", "marketregime", "regimepolicy"])
def test_changelists_render(admin_client, model):
    assert admin_client.get(f"/admin/regime/{model}/").status_code == 200


def test_policy_edit_rejects_an_unknown_strategy(admin_client):
    # given the default bull row
    rule = RegimePolicy.objects.get(regime="bull", risk_tier="*")
    form = {
        "regime": "bull", "risk_tier": "*", "strategy": "optimizer:nonsense", "min_confidence": "0.6",
        "low_confidence_strategy": "optimizer:risk_parity", "cash_buffer": "0", "is_active": "on", "note": "",
    }
    # when
    response = admin_client.post(f"/admin/regime/regimepolicy/{rule.pk}/change/", form)
    # then the form is shown again with the error and nothing changed
    assert response.status_code == 200
    assert "Unknown strategy" in response.content.decode()
    rule.refresh_from_db()
    assert rule.strategy == "equal_weight"
    # and a valid edit is saved
    form["strategy"] = "optimizer:risk_parity"
    assert admin_client.post(f"/admin/regime/regimepolicy/{rule.pk}/change/", form).status_code == 302
    rule.refresh_from_db()
    assert rule.strategy == "optimizer:risk_parity"
