"""A portfolio's name is text in its chart, never matplotlib mathtext (``$...$`` was a 500)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["My $$ pot", "$\\frac{1}{0", "50% $ & ^_^ {x}", "$"])
def test_performance_chart_of_a_name_with_dollars_is_a_png(investor_client, name):
    pid = investor_client.post("/api/v1/portfolios", {"name": name}, format="json").json()["id"]
    response = investor_client.get(f"/api/v1/portfolios/{pid}/performance.png")
    assert response.status_code == 200
    assert response.content[:4] == b"\x89PNG"


def test_backtest_chart_titles_are_text():
    import pandas as pd

    from rebalancer.backtests.charts import allocation_chart_png, equity_chart_png

    index = pd.date_range("2020-01-01", periods=5, freq="B")
    curves = {"$x$ and $$": pd.Series([1.0, 1.1, 1.2, 1.1, 1.3], index=index)}
    weights = pd.DataFrame({"A": [0.5] * 5}, index=index)
    assert equity_chart_png(curves, title="My $$ pot")[:4] == b"\x89PNG"
    assert allocation_chart_png(weights, title="$\\frac{1}{0")[:4] == b"\x89PNG"
