import pytest
from django.test import Client

from risk.measures.alerts import AlertSignal
from risk.models import RiskAlert
from risk.services import risk_alerts_sync


@pytest.fixture
def admin_client(db):
    from users.models import User

    admin = User.objects.create_superuser(email="ops@example.com", password="pw-123456789")
    client = Client()
    client.force_login(admin)
    return client, admin


def test_operators_see_alerts_and_acknowledge_them_from_the_list(admin_client, portfolio):
    # given
    client, admin = admin_client
    signal = AlertSignal("concentration", "warning", "rebalance", 0.4, 0.1, "AAA is 40 %", "AAA")
    [alert] = risk_alerts_sync(portfolio=portfolio, signals=[signal])
    # when
    listing = client.get("/admin/risk/riskalert/?severity__exact=warning")
    response = client.post("/admin/risk/riskalert/", {"action": "acknowledge", "_selected_action": [alert.pk]})
    # then
    assert listing.status_code == 200 and b"concentration" in listing.content
    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == ("acknowledged", admin)
    for page in ["/admin/risk/risksnapshot/", f"/admin/risk/riskalert/{alert.pk}/change/"]:
        assert client.get(page).status_code == 200, page
    assert RiskAlert.objects.count() == 1
