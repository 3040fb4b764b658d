"""optimization_run takes one typed, frozen request instead of 20 keywords."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from portfolios.services.optimization import OptimizationRequest, optimization_run


def test_the_service_takes_one_request():
    params = inspect.signature(optimization_run).parameters
    assert list(params) == ["request"]
    assert params["request"].kind is inspect.Parameter.KEYWORD_ONLY


def test_the_request_is_frozen_with_the_old_defaults():
    # given
    request = OptimizationRequest(symbols=("AAA",))
    # then
    assert (request.objective, request.expected_returns, request.risk_model) == (
        "max_sharpe",
        "mean_historical",
        "sample_cov",
    )
    assert (request.risk_free_rate, request.frontier_plot, dict(request.options)) == (0.0, False, {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.objective = "hrp"  # type: ignore[misc]


def test_a_misspelt_request_field_is_a_type_error():
    with pytest.raises(TypeError, match="kelly_fracton"):
        OptimizationRequest(symbols=("AAA",), kelly_fracton=0.1)  # type: ignore[call-arg]
