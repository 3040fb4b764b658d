"""One model of limit overrides on top of the risk tier (issue 14).

Copies ``AutonomySettings.constraints``/``limits`` (JSON) and the risk app's ``RiskLimit``
rows into ``PortfolioLimits``, then drops the old fields (the risk app drops RiskLimit
in its 0002, after this copy). New autonomy settings default to the strategy and the
review calendar the walk-forward evaluation chose (risk parity, monthly reviews).
"""

import django.core.validators
import django.db.models.deletion
from decimal import Decimal
from django.db import migrations, models


NUMBER_KEYS = ("max_position", "max_asset_class", "max_var_95", "max_drawdown", "max_turnover")


def _number(value):
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def copy_limits(apps, schema_editor):
    AutonomySettings = apps.get_model("portfolios", "AutonomySettings")
    PortfolioLimits = apps.get_model("portfolios", "PortfolioLimits")
    RiskLimit = apps.get_model("risk", "RiskLimit")
    rows: dict[int, dict] = {}
    for risk_limit in RiskLimit.objects.all():
        rows[risk_limit.portfolio_id] = {
            "max_var_95": risk_limit.max_var if risk_limit.var_confidence == 0.95 else None,
            "max_drawdown": risk_limit.max_drawdown,
            "max_position": risk_limit.max_position,
            "max_avg_correlation": risk_limit.max_avg_correlation,
        }
    for settings in AutonomySettings.objects.all():
        merged = {**(settings.constraints or {}), **(settings.limits or {})}
        if not merged:
            continue
        row = rows.setdefault(settings.portfolio_id, {})
        for key in NUMBER_KEYS:
            if _number(merged.get(key)) is not None:
                row[key] = _number(merged[key])
        holdings = merged.get("max_holdings")
        if isinstance(holdings, int) and not isinstance(holdings, bool) and holdings >= 1:
            row["max_holdings"] = holdings
        bounds = merged.get("asset_class_bounds")
        if isinstance(bounds, dict):
            row["asset_class_bounds"] = bounds
    for portfolio_id, fields in rows.items():
        PortfolioLimits.objects.update_or_create(portfolio_id=portfolio_id, defaults=fields)


class Migration(migrations.Migration):

    dependencies = [
        ('portfolios', '0004_ledger_truth_wash_sales_and_corporate_actions'),
        ('risk', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='autonomysettings',
            name='hybrid_agent',
            field=models.CharField(blank=True, help_text="The hybrid strategy's agent (agent:ppo, agent:primal_dual, agent:dqn); empty: any promoted one.", max_length=32),
        ),
        migrations.AddField(
            model_name='autonomysettings',
            name='hybrid_alpha',
            field=models.DecimalField(decimal_places=3, default=Decimal('0.5'), help_text="The hybrid strategy's weight on technical signals (the agent gets the rest).", max_digits=4, validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(1)]),
        ),
        migrations.CreateModel(
            name='PortfolioLimits',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('max_position', models.FloatField(blank=True, help_text='Largest weight of one asset.', null=True, validators=[django.core.validators.MinValueValidator(0.01), django.core.validators.MaxValueValidator(1)])),
                ('max_asset_class', models.FloatField(blank=True, help_text='Largest weight of any sleeve or asset class.', null=True, validators=[django.core.validators.MinValueValidator(0.01), django.core.validators.MaxValueValidator(1)])),
                ('max_holdings', models.PositiveSmallIntegerField(blank=True, null=True, validators=[django.core.validators.MinValueValidator(1)])),
                ('asset_class_bounds', models.JSONField(blank=True, default=dict, help_text='Lowest and highest weight per asset class or sleeve, e.g. {"equity": [0.2, 0.8]}.')),
                ('max_var_95', models.FloatField(blank=True, help_text='One-day 95 % VaR forecast, fraction of value.', null=True, validators=[django.core.validators.MinValueValidator(0.001), django.core.validators.MaxValueValidator(1)])),
                ('max_drawdown', models.FloatField(blank=True, help_text='A fall this far below the peak de-risks the portfolio once.', null=True, validators=[django.core.validators.MinValueValidator(0.01), django.core.validators.MaxValueValidator(1)])),
                ('max_turnover', models.FloatField(blank=True, null=True, validators=[django.core.validators.MinValueValidator(0.01), django.core.validators.MaxValueValidator(2)])),
                ('volatility_target', models.FloatField(blank=True, help_text='Annualised volatility the risk overlay scales toward.', null=True, validators=[django.core.validators.MinValueValidator(0.01), django.core.validators.MaxValueValidator(1)])),
                ('max_avg_correlation', models.FloatField(blank=True, help_text='Average pairwise correlation of the holdings above which the risk alerts warn.', null=True, validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(1)])),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('portfolio', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='limit_overrides', to='portfolios.portfolio')),
            ],
            options={
                'verbose_name': 'limit overrides',
                'verbose_name_plural': 'limit overrides',
            },
        ),
        migrations.RunPython(copy_limits, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='autonomysettings',
            name='constraints',
        ),
        migrations.RemoveField(
            model_name='autonomysettings',
            name='limits',
        ),
        migrations.AlterField(
            model_name='autonomysettings',
            name='calendar',
            field=models.CharField(choices=[('none', 'None'), ('monthly', 'Monthly'), ('quarterly', 'Quarterly')], default='monthly', help_text="How often the strategy's targets are reviewed (trades only follow the no-trade bands).", max_length=10),
        ),
        migrations.AlterField(
            model_name='autonomysettings',
            name='rebalance_threshold',
            field=models.DecimalField(decimal_places=4, default=Decimal('0.05'), help_text='The no-trade band: an asset trades when it is more than min(this, half its target) away from its target.', max_digits=6, validators=[django.core.validators.MinValueValidator(Decimal('0.001')), django.core.validators.MaxValueValidator(Decimal('0.5'))]),
        ),
        migrations.AlterField(
            model_name='autonomysettings',
            name='strategy',
            field=models.CharField(default='optimizer:risk_parity', max_length=80),
        ),
    ]
