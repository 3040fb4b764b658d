"""Writes of the regime app: refit the detector, record the daily regime calls.

The engine (:mod:`mlagents.regime.engine`) does the numbers; these functions read the
reference index, persist the fitted model (its parameters and labels as JSON) and
the filtered regime of each day.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db import transaction

from common.errors import ApplicationError, Unprocessable
from mlagents.regime.engine.features import DEFAULT_FEATURES, regime_features
from mlagents.regime.engine.hmm import (
    FitConfig,
    RegimeDetectorError,
    RegimeModelParams,
    detector_fit,
    filter_probabilities,
)
from mlagents.regime.models import MarketRegime, ReferenceMarket, RegimeModel
from mlagents.regime.selectors import (
    market_index_get,
    reference_market_get,
    regime_model_active_get,
)

CONFIDENCE_QUANTUM = Decimal("0.0001")
logger = logging.getLogger(__name__)


def _features(market: ReferenceMarket, end: dt.date | None, params: RegimeModelParams | None = None):
    index = market_index_get(market=market, end=end)
    return regime_features(index, params.features if params else DEFAULT_FEATURES)


@transaction.atomic
def regime_model_train(
    *, market: str = "default", as_of: dt.date | None = None, seed: int = 0, fit: FitConfig | None = None
) -> RegimeModel:
    """Fit the detector on the market's last ``training_years`` up to ``as_of`` and make it
    the active model. Raises Unprocessable when there is too little data."""
    reference = reference_market_get(name=market)
    features = _features(reference, as_of)
    if not features.empty:
        first = features.index[-1] - pd.DateOffset(years=reference.training_years)
        features = features.loc[features.index > first]
    try:
        params = detector_fit(
            features, feature_config=DEFAULT_FEATURES, config=fit or FitConfig(seed=seed)
        )
    except RegimeDetectorError as exc:
        raise Unprocessable(str(exc), code="insufficient_history", field="market") from exc
    RegimeModel.objects.select_for_update().filter(market=reference, is_active=True).update(is_active=False)
    return RegimeModel.objects.create(
        market=reference,
        trained_from=dt.date.fromisoformat(params.trained_from),
        trained_to=dt.date.fromisoformat(params.trained_to),
        n_observations=params.n_observations,
        params=params.to_dict(),
        labels=list(params.labels),
        state_stats=[{"state": k, "label": label, **s.__dict__} for k, (label, s) in
                     enumerate(zip(params.labels, params.stats, strict=True))],
        log_likelihood=params.log_likelihood,
        is_active=True,
    )


def _row_features(row: pd.Series) -> dict:
    return {
        "log_return": round(float(row["ret"]), 8),
        "realized_vol": round(float(np.exp(row["vol"])), 6),
        "trend": round(float(row["trend"]), 6),
    }


@transaction.atomic
def regime_history_update(
    *, market: str = "default", as_of: dt.date | None = None, rewrite: bool = False
) -> int:
    """Record the filtered regime of every day up to ``as_of`` not yet recorded.

    Uses the active model (fitted first when there is none). Each day's call depends
    only on data up to that day. Days already recorded keep the call made then,
    unless ``rewrite``. Returns the number of rows written.
    """
    reference = reference_market_get(name=market)
    model = regime_model_active_get(market=reference)
    if model is None:
        model = regime_model_train(market=market, as_of=as_of)
    params = RegimeModelParams.from_dict(model.params)
    features = _features(reference, as_of, params)
    if features.empty:
        return 0
    probs = filter_probabilities(params, features)
    existing = set(MarketRegime.objects.filter(market=reference).values_list("date", flat=True))
    if rewrite:
        MarketRegime.objects.filter(market=reference, date__in=[d.date() for d in probs.index]).delete()
        existing = set()
    rows = []
    for day, p in probs.iterrows():
        date = day.date()
        if date in existing:
            continue
        regime = str(p.idxmax())
        rows.append(
            MarketRegime(
                market=reference,
                date=date,
                regime=regime,
                confidence=Decimal(str(float(p[regime]))).quantize(CONFIDENCE_QUANTUM),
                probabilities={k: round(float(v), 6) for k, v in p.items()},
                features=_row_features(features.loc[day]),
                model=model,
            )
        )
    MarketRegime.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return len(rows)


def regime_detect(*, market: str = "default", as_of: dt.date | None = None) -> int:
    """The daily detection: record the regime of the new days (fits a model if none)."""
    return regime_history_update(market=market, as_of=as_of)


def regime_detect_all(*, as_of: dt.date | None = None) -> dict[str, int]:
    """Daily detection of every active reference market; a market without data is skipped."""
    written = {}
    for name in ReferenceMarket.objects.filter(is_active=True).values_list("name", flat=True):
        try:
            written[name] = regime_detect(market=name, as_of=as_of)
        except ApplicationError as exc:
            written[name] = 0
            logger.warning("regime detection skipped for %s: %s", name, exc.message)
    return written


def regime_models_retrain(*, as_of: dt.date | None = None) -> dict[str, int]:
    """Refit every active market's detector (the scheduled retraining); returns model ids."""
    out = {}
    for name in ReferenceMarket.objects.filter(is_active=True).values_list("name", flat=True):
        try:
            out[name] = regime_model_train(market=name, as_of=as_of).pk
        except ApplicationError as exc:
            logger.warning("regime retraining skipped for %s: %s", name, exc.message)
    return out
