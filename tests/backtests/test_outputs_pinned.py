"""The backtest's report, its JSON and the evidence page pinned on real data (issue 22).

Written by the code before ``backtest_report``, ``report_serialize`` and
``evidence_write`` were split into named steps; the split must reproduce them. Strings,
integers and structure must match exactly, floats to 1e-12 relative. Regenerate (only on a
deliberate behaviour change) with ``python tests/backtests/test_outputs_pinned.py``.
"""

from __future__ import annotations

import gzip
import json
import math
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

PINS = Path(__file__).resolve().parent / "engine" / "pins"
SYMBOLS = ["AAPL", "GE", "WMT", "XOM", "JPM", "PFE"]
TIERS = ("conservative", "balanced")


def assert_same(got, expected, path="$"):
    """Exact, except floats: 1e-12 relative (NaN only where NaN was)."""
    if isinstance(expected, float) and isinstance(got, float):
        assert (math.isnan(got) and math.isnan(expected)) or math.isclose(got, expected, rel_tol=1e-12,
                                                                          abs_tol=1e-12), path
    elif isinstance(expected, dict):
        assert isinstance(got, dict) and list(got) == list(expected), path
        for key in expected:
            assert_same(got[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), path
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_same(g, e, f"{path}[{i}]")
    else:
        assert type(got) is type(expected) and got == expected, path


def _report_outputs() -> dict:
    """A report with taxes, baselines and the benchmark, its table, JSON and progress."""
    from rebalancer.autopilot.types import TaxConfig, TradeConfig
    from rebalancer.backtests.engine.config import BacktestConfig
    from rebalancer.backtests.engine.report import backtest_report
    from rebalancer.backtests.services import report_serialize
    from tests.backtests.conftest import SPY, stock_prices

    prices = stock_prices(SYMBOLS, "2007-01-01", "2010-12-31")
    spy = pd.read_csv(SPY, parse_dates=["date"], index_col="date").iloc[:, 0]
    config = BacktestConfig(
        symbols=tuple(SYMBOLS), start=date(2008, 1, 2), end=date(2010, 12, 31), strategies=("equal_weight",),
        benchmark="SPY", tax=TaxConfig(enabled=True, loss_threshold=0.05),
        trade=TradeConfig(commission_rate=0.001, slippage_bps=5.0),
    )
    fractions: list[float] = []
    report = backtest_report(config, prices, benchmark=spy, asset_classes=dict.fromkeys(SYMBOLS, "equity"),
                             progress=fractions.append)
    results, series, trades = report_serialize(report)
    outcomes = [[o.name, o.kind, o.final_value, o.turnover, o.annual_turnover, o.rebalances, o.trades,
                 None if o.weights is None else list(o.weights.shape)] for o in report.outcomes]
    return json.loads(json.dumps({"results": results, "series": series, "trades": trades, "outcomes": outcomes,
                                  "table": report.table(), "progress": fractions[-3:]}))


def _evidence_inputs(tmp: Path) -> list[dict]:
    """Three pages: everything (EVIDENCE.md), one with a 60/40 baseline, one with sets missing."""
    rng = np.random.default_rng(5)
    rows = []
    for set_, day in (("tuning", 1), ("confirmation", 2)):
        for year in range(2010, 2014):
            start = f"{year}-01-0{day}"
            rows.append(dict(strategy="equal_weight_monthly", kind="baseline", set=set_, tier="balanced",
                             window_start=start, sharpe=rng.normal()))
            rows += [dict(strategy=s, kind="strategy", set=set_, tier=t, window_start=start, sharpe=rng.normal())
                     for t in TIERS for s in ("optimizer:min_volatility", "equal_weight")]
    runs = pd.DataFrame(rows)
    summary = pd.DataFrame([
        dict(strategy=s, tier=t, set=set_, windows=4, sharpe=0.5123, delta_sharpe_median=0.01, delta_sharpe_p10=-0.2,
             delta_sharpe_p90=float("nan"), delta_sharpe_ci_lo=None, delta_sharpe_ci_hi=0.3, beats_baseline=0.5,
             max_drawdown=-0.21, delta_max_drawdown=0.02, volatility=vol + (s == "equal_weight") * 0.01,
             annual_turnover=1234.5, rebalances_per_month=1.2, max_rebalances_per_month=3.0, mean_cash=0.02,
             costs=150.0, taxes=99.0, taxes_baseline=101.0, random_p_median=0.4, windows_sat_out=0)
        for set_ in ("tuning", "confirmation")
        for t, vol in (("conservative", 0.08), ("balanced", 0.12 if set_ == "tuning" else 0.07))
        for s in ("optimizer:min_volatility", "equal_weight")
    ])

    def baselines(name: str) -> pd.DataFrame:
        return pd.DataFrame([dict(set="tuning", baseline=name, windows=4, sharpe=0.4, max_drawdown=-0.3,
                                  volatility=0.2, annual_turnover=0.5, taxes=120.0)])

    days = pd.bdate_range("2010-01-01", periods=30)
    example = {"dates": days, "strategy": np.linspace(1, 2, 30), "baseline": np.linspace(1, 1.5, 30),
               "exposure": np.linspace(1, 0.5, 30), "title": "the worst window"}
    common = dict(runs=runs, summary=summary, command="python manage.py evaluate --windows 8", tiers=TIERS)
    return [
        {**common, "path": tmp / "EVIDENCE.md", "notes": ["A note.", "Another."], "goal": ["The goal."],
         "elapsed_s": 125.0, "example": example, "baselines": baselines("equal_weight_monthly")},
        {**common, "path": tmp / "other.md", "baselines": baselines("sixty_forty")},
        {**common, "path": tmp / "third.md", "baselines": baselines("equal_weight_monthly"),
         "runs": runs[runs.set == "tuning"], "summary": summary[summary.set == "confirmation"]},
    ]


def _evidence_pages(tmp: Path) -> dict:
    from rebalancer.backtests.evidence import evidence_write

    pages = {}
    for kwargs in _evidence_inputs(tmp):
        evidence_write(**kwargs)
        pictures = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*.png"))
        pages[kwargs["path"].name] = {"text": kwargs["path"].read_text(), "pictures": pictures}
    return pages


def test_the_report_and_its_json_reproduce_the_pin():
    # given
    expected = json.loads(gzip.decompress((PINS / "report_outputs.json.gz").read_bytes()))
    # when
    got = _report_outputs()
    # then
    assert_same(got, expected)
    assert [o[1] for o in expected["outcomes"]] == ["strategy", "baseline", "baseline", "benchmark"]
    assert len(expected["trades"]["equal_weight"]) > 50 and expected["results"]["strategies"]["equal_weight"]["taxes"]


def test_the_evidence_pages_reproduce_the_pin(tmp_path):
    # given
    expected = json.loads((PINS / "evidence_pages.json").read_text())
    # when
    got = _evidence_pages(tmp_path)
    # then
    assert got == expected
    assert "No 60/40 baseline" in expected["EVIDENCE.md"]["text"] and "## Pictures" in expected["third.md"]["text"]


if __name__ == "__main__":  # regenerate the pins
    import os
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rebalancer.settings.test")
    import django

    django.setup()
    from rebalancer.autopilot.strategies import strategies_register

    strategies_register()
    outputs = _report_outputs()
    (PINS / "report_outputs.json.gz").write_bytes(gzip.compress(json.dumps(outputs).encode(), mtime=0))
    with tempfile.TemporaryDirectory() as tmp:
        pages = _evidence_pages(Path(tmp))
    (PINS / "evidence_pages.json").write_text(json.dumps(pages, indent=1, ensure_ascii=False) + "\n")
    print(len(outputs["trades"]["equal_weight"]), "fills;", {k: len(v["text"]) for k, v in pages.items()})
