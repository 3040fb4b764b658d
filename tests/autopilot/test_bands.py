"""The no-trade band and the cost gate: by hand on small cases."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from rebalancer.autopilot.bands import band_move, band_of, cost_gate, out_of_band
from rebalancer.autopilot.types import BandSettings, Lot, TaxConfig, TradeConfig

SETTINGS = BandSettings()


@pytest.mark.parametrize(("target", "band"), [(0.40, 0.05), (0.08, 0.04), (0.02, 0.01), (0.0, 0.005)])
def test_the_band_is_the_smaller_of_five_points_and_half_the_target(target, band):
    assert band_of(target, 0.05, SETTINGS) == pytest.approx(band)


def test_only_assets_outside_their_band_move_and_only_halfway_into_it():
    # given A 10 points over its 40 % target (band 5), B 1 point under its 20 % target (band 5)
    current = {"A": 0.50, "B": 0.19, "C": 0.29}
    targets = {"A": 0.40, "B": 0.20, "C": 0.38}
    # when
    move = band_move(current, targets, threshold=0.05, settings=SETTINGS)
    # then A goes to 40 + 2.5 = 42.5 % and C (9 points under, band 5) to 38 - 2.5 = 35.5 %
    assert [s for s, _, _ in move.out_of_band] == ["A", "C"]
    assert move.weights["A"] == pytest.approx(0.425)
    # the 7.5 points sold cover the 6.5 bought; the point left over (with the 2 points of cash
    # beyond the targets') goes to the underweights B and C in proportion to their gaps
    gaps = {"B": 0.01, "C": 0.38 - 0.355}
    spare = 1.0 - (0.425 + 0.19 + 0.355) - (1.0 - sum(targets.values()))
    assert move.weights["B"] == pytest.approx(0.19 + spare * gaps["B"] / sum(gaps.values()))
    assert move.weights["C"] == pytest.approx(0.355 + spare * gaps["C"] / sum(gaps.values()))
    assert sum(move.weights.values()) == pytest.approx(sum(targets.values()))


def test_new_cash_buys_the_underweights_before_anything_is_sold():
    # given everything in its band and 10 % new cash beyond the targets' 2 %
    current = {"A": 0.44, "B": 0.44}
    targets = {"A": 0.49, "B": 0.49}
    move = band_move(current, targets, threshold=0.05, settings=SETTINGS)
    assert move.out_of_band == ()
    assert move.weights == pytest.approx(targets)


def test_a_sliver_of_a_dropped_asset_is_left_but_a_real_position_is_sold():
    targets = {"A": 0.49, "B": 0.49}
    assert out_of_band({"A": 0.49, "B": 0.485, "X": 0.003}, targets, 0.05, SETTINGS) == ()
    move = band_move({"A": 0.45, "B": 0.45, "X": 0.08}, targets, threshold=0.05, settings=SETTINGS)
    assert "X" not in move.weights


def _gate(current, proposed, targets, lots=(), price=100.0, **tax):
    symbols = ("A", "B")
    cov = np.diag([0.02**2, 0.02**2])  # 32 % annual volatility each
    return cost_gate(current=current, proposed=proposed, targets=targets, symbols=symbols, cov=cov,
                     total_value=100_000.0, prices={"A": price, "B": price}, lots=lots, as_of=date(2024, 6, 3),
                     trade=TradeConfig(commission_rate=0.0005, slippage_bps=5.0), tax=TaxConfig(**tax),
                     risk_aversion=2.5, settings=SETTINGS)


def test_the_gate_weighs_the_risk_reduction_against_costs_and_taxes():
    targets = {"A": 0.49, "B": 0.49}
    current = {"A": 0.59, "B": 0.39}
    proposed = {"A": 0.515, "B": 0.465}
    # benefit: 2.5/2 x [(0.1^2 + 0.1^2) - (0.025^2 + 0.025^2)] x 0.02^2 x 252 x 100,000 = 2,362.5
    untaxed = _gate(current, proposed, targets, taxable=False)
    assert untaxed.benefit == pytest.approx(2.5 / 2 * (0.02 - 0.00125) * 0.0004 * 252 * 100_000)
    assert untaxed.trading_cost == pytest.approx(0.15 * 100_000 * 0.001)
    assert untaxed.passed
    # a short-term gain of 100 % on the A sold: (35 % - 15 % x 0.8) of 3,750 = 862.5 of avoidable tax
    lots = (Lot(symbol="A", quantity=1000.0, cost_per_share=50.0, acquired_on=date(2024, 1, 2)),)
    taxed = _gate(current, proposed, targets, lots=lots)
    assert taxed.tax_cost == pytest.approx(75.0 * 50.0 * (0.35 - 0.15 * 0.8))
    # a long-term gain costs only the deferral value of its tax: 15 % x 0.2
    old = (Lot(symbol="A", quantity=1000.0, cost_per_share=50.0, acquired_on=date(2022, 1, 2)),)
    assert _gate(current, proposed, targets, lots=old).tax_cost == pytest.approx(75.0 * 50.0 * 0.15 * 0.2)


def test_a_small_drift_of_a_big_winner_is_not_worth_its_tax():
    targets = {"A": 0.49, "B": 0.49}
    lots = (Lot(symbol="A", quantity=1000.0, cost_per_share=10.0, acquired_on=date(2024, 3, 1)),)
    gate = _gate({"A": 0.55, "B": 0.43}, {"A": 0.515, "B": 0.465}, targets, lots=lots)
    assert not gate.passed and gate.tax_cost > gate.benefit
    assert "not worth trading yet" in gate.message


def test_selling_a_loser_counts_the_tax_saving():
    targets = {"A": 0.49, "B": 0.49}
    lots = (Lot(symbol="A", quantity=1000.0, cost_per_share=150.0, acquired_on=date(2024, 3, 1)),)
    gate = _gate({"A": 0.55, "B": 0.43}, {"A": 0.515, "B": 0.465}, targets, lots=lots)
    assert gate.tax_cost < 0
