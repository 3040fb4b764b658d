"""Demo step of ``python manage.py demo``: a demo investor and an operator account."""

from __future__ import annotations

from typing import TextIO

from django.conf import settings

from users.models import User
from users.services import user_register

DEMO_INVESTOR_EMAIL = "investor@demo.local"
DEMO_OPERATOR_EMAIL = "operator@demo.local"
DEMO_PROFILE = {
    "age_band": "30_44",
    "investment_horizon": 15,
    "income_stability": "stable",
    "loss_reaction": "hold",
    "experience": "intermediate",
    "emergency_fund": "3_to_6_months",
}


def demo_passwords() -> tuple[str, str]:
    """Demo credentials; override with DEMO_INVESTOR_PASSWORD / DEMO_OPERATOR_PASSWORD."""
    investor = getattr(settings, "DEMO_INVESTOR_PASSWORD", "demo-investor-pass-2026")
    operator = getattr(settings, "DEMO_OPERATOR_PASSWORD", "demo-operator-pass-2026")
    return investor, operator


def demo_load(*, stdout: TextIO) -> None:
    investor_password, operator_password = demo_passwords()
    if not User.objects.filter(email=DEMO_INVESTOR_EMAIL).exists():
        user_register(email=DEMO_INVESTOR_EMAIL, password=investor_password, profile=DEMO_PROFILE,
                      first_name="Demo", last_name="Investor")
    if not User.objects.filter(email=DEMO_OPERATOR_EMAIL).exists():
        User.objects.create_superuser(email=DEMO_OPERATOR_EMAIL, password=operator_password,
                                      first_name="Demo", last_name="Operator")
    stdout.write(
        "Demo accounts:\n"
        f"  investor (API, POST /api/v1/auth/token): {DEMO_INVESTOR_EMAIL} / {investor_password}\n"
        f"  operator (admin, /admin/):               {DEMO_OPERATOR_EMAIL} / {operator_password}\n"
    )
