"""Seed the default regime policy and the default reference market (editable in the admin).

The rows are written out here (not imported from the engine) so this migration keeps
meaning what it meant when it was written.
"""

from decimal import Decimal

from django.db import migrations

DEFAULT_RULES = [
    # regime, risk tier, strategy, cash buffer
    ("bull", "*", "optimizer:max_sharpe", "0"),
    ("bull", "conservative", "optimizer:risk_parity", "0"),
    ("sideways", "*", "optimizer:risk_parity", "0"),
    ("bear", "*", "optimizer:min_volatility", "0.20"),
    ("bear", "conservative", "optimizer:min_volatility", "0.30"),
    ("bear", "moderate", "optimizer:min_volatility", "0.25"),
    ("bear", "growth", "optimizer:min_volatility", "0.15"),
    ("bear", "aggressive", "optimizer:min_volatility", "0.10"),
]


def seed(apps, schema_editor):
    RegimePolicy = apps.get_model("regime", "RegimePolicy")
    ReferenceMarket = apps.get_model("regime", "ReferenceMarket")
    for regime, tier, strategy, buffer in DEFAULT_RULES:
        RegimePolicy.objects.get_or_create(
            regime=regime,
            risk_tier=tier,
            defaults={
                "strategy": strategy,
                "min_confidence": Decimal("0.6"),
                "low_confidence_strategy": "optimizer:risk_parity",
                "cash_buffer": Decimal(buffer),
            },
        )
    ReferenceMarket.objects.get_or_create(
        name="default", defaults={"benchmark_symbol": "SPY", "asset_class": "equity", "training_years": 10}
    )


def unseed(apps, schema_editor):
    RegimePolicy = apps.get_model("regime", "RegimePolicy")
    for regime, tier, _, _ in DEFAULT_RULES:
        RegimePolicy.objects.filter(regime=regime, risk_tier=tier).delete()


class Migration(migrations.Migration):
    dependencies = [("regime", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
