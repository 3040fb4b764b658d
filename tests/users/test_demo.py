import io

import pytest

from users.demo import DEMO_INVESTOR_EMAIL, DEMO_OPERATOR_EMAIL, demo_load
from users.models import User

pytestmark = pytest.mark.django_db


def test_demo_accounts_are_created_once_and_can_log_in(client):
    out = io.StringIO()
    demo_load(stdout=out)
    demo_load(stdout=out)
    assert User.objects.filter(email=DEMO_INVESTOR_EMAIL).count() == 1
    operator = User.objects.get(email=DEMO_OPERATOR_EMAIL)
    assert operator.is_staff and operator.is_superuser
    assert "demo-investor-pass-2026" in out.getvalue()
    token = client.post("/api/v1/auth/token", {"email": DEMO_INVESTOR_EMAIL, "password": "demo-investor-pass-2026"},
                        content_type="application/json")
    assert token.status_code == 200
    assert client.login(email=DEMO_OPERATOR_EMAIL, password="demo-operator-pass-2026")
    assert client.get("/admin/").status_code == 200
