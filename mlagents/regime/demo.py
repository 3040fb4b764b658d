"""Demo hook: fit the detector on the demo market and record its regime history.

Called by the ``demo`` command after the market data is loaded. Idempotent: a
second run fits nothing (an active model exists) and writes no rows (every day is
already recorded). Note that the demo's model is fitted on the whole demo history,
so its early calls use parameters estimated with later data (the calls themselves
are filtered, day by day); live, the weekly refit only ever sees the past.
"""

from __future__ import annotations

from typing import TextIO


def demo_load(*, stdout: TextIO) -> None:
    from mlagents.regime.engine.hmm import FitConfig
    from mlagents.regime.models import ReferenceMarket
    from mlagents.regime.selectors import regime_model_active_get
    from mlagents.regime.services import regime_history_update, regime_model_train

    market, _ = ReferenceMarket.objects.get_or_create(
        name="default", defaults={"benchmark_symbol": "SPY", "asset_class": "equity"}
    )
    model = regime_model_active_get(market=market)
    if model is None:
        # one EM run from the volatility terciles: seconds instead of three full restarts
        model = regime_model_train(market=market.name, fit=FitConfig(n_restarts=1, n_iter=100))
        stdout.write(
            f"regime: fitted the detector on {model.n_observations} days "
            f"({model.trained_from} to {model.trained_to})\n"
        )
    written = regime_history_update(market=market.name)
    stdout.write(f"regime: recorded {written} new days of market regime history\n")
