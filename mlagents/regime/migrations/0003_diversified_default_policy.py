"""Replace the first default regime policy by the one the walk-forward evaluation chose.

Stored rows that still hold the first default (written by 0002) are changed to the new
one: equal weight in bull markets, risk parity sideways, minimum volatility in bear ones,
no extra cash (the risk overlay scales exposure). Rows an operator edited are kept. The
values are written out here so this migration keeps meaning what it meant.
"""

from decimal import Decimal

from django.db import migrations

FIRST = {
    ("bull", "*"): ("optimizer:max_sharpe", "0"),
    ("bull", "conservative"): ("optimizer:risk_parity", "0"),
    ("sideways", "*"): ("optimizer:risk_parity", "0"),
    ("bear", "*"): ("optimizer:min_volatility", "0.20"),
    ("bear", "conservative"): ("optimizer:min_volatility", "0.30"),
    ("bear", "moderate"): ("optimizer:min_volatility", "0.25"),
    ("bear", "growth"): ("optimizer:min_volatility", "0.15"),
    ("bear", "aggressive"): ("optimizer:min_volatility", "0.10"),
}
NEW = {
    ("bull", "*"): "equal_weight",
    ("sideways", "*"): "optimizer:risk_parity",
    ("bear", "*"): "optimizer:min_volatility",
}


def forward(apps, schema_editor):
    RegimePolicy = apps.get_model("regime", "RegimePolicy")
    for (regime, tier), (strategy, buffer) in FIRST.items():
        row = RegimePolicy.objects.filter(regime=regime, risk_tier=tier).first()
        untouched = (
            row is not None and row.strategy == strategy and row.cash_buffer == Decimal(buffer)
            and row.low_confidence_strategy == "optimizer:risk_parity" and row.min_confidence == Decimal("0.6")
        )
        if not untouched:
            continue
        if (regime, tier) in NEW:
            row.strategy, row.cash_buffer = NEW[(regime, tier)], Decimal("0")
            row.save(update_fields=["strategy", "cash_buffer"])
        else:  # the tier-specific rows of the first default: the "*" row now covers them
            row.delete()


class Migration(migrations.Migration):
    dependencies = [("regime", "0002_default_policy")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
