"""Tax-aware trimming: keep shares whose sale would realize a short-term gain when it costs little."""

from datetime import date
from decimal import Decimal as D

import pytest

from portfolios.tax import Lot
from portfolios.tax.aware import tax_aware_targets

AS_OF = date(2024, 6, 3)
CLASSES = {"A": "equity", "R": "equity", "B": "equity", "T": "bond"}
CORR = {"R": {"A": 0.9, "B": 0.3}, "A": {"R": 0.9}, "B": {"R": 0.3}}


def run(targets, current, lots, band=0.05, **kw):
    return tax_aware_targets(
        targets=targets, current=current, lots=lots, prices={"A": 100.0, "R": 100.0, "B": 100.0, "T": 100.0},
        total_value=10000.0, as_of=AS_OF, asset_classes=CLASSES, band=band, correlations=CORR, **kw,
    )


def test_a_replacement_with_a_short_term_gain_is_kept_instead_of_buying_back_the_original():
    # given R (a harvest's replacement, bought at 80 two months ago: a short-term gain) is not in the
    # targets, and A, the original, is to be bought back to 20 %
    lots = [Lot(1, "R", D(20), D(80), date(2024, 4, 1))]
    targets, notes = run({"A": 0.2, "T": 0.7}, {"R": 0.2, "T": 0.7}, lots)
    # then R keeps its 20 % and A is not bought: no gain, no trades
    assert targets == pytest.approx({"R": 0.2, "T": 0.7})
    assert "kept 20.0% of the portfolio in R instead of buying A" in notes[0]


def test_long_term_gains_and_losses_are_sold_as_targeted():
    for lot in (Lot(1, "R", D(20), D(80), date(2023, 1, 2)), Lot(1, "R", D(20), D(120), date(2024, 4, 1))):
        targets, notes = run({"A": 0.2, "T": 0.7}, {"R": 0.2, "T": 0.7}, [lot])
        assert (targets, notes) == ({"A": 0.2, "T": 0.7}, [])


def test_a_small_trim_sells_only_the_shares_without_a_short_term_gain_and_buys_less():
    # given B at 30 % (30 shares at 100), target 27 % (a 3 % drift, within the 5 % band): 1 share is a
    # loss lot, 29 a short-term gain turning long-term on 2024-07-02 (within 60 days); T is bought from
    # 60 % to 63 %; T is a bond (no substitute)
    lots = [Lot(1, "B", D(1), D(110), date(2023, 7, 1)), Lot(2, "B", D(29), D(90), date(2023, 7, 1))]
    targets, notes = run({"B": 0.27, "T": 0.63}, {"B": 0.30, "T": 0.60}, lots)
    # then the trim of 3 shares sells the loss share (1 %) and keeps the 2 short-term gain shares (2 %);
    # T is bought 2 % less
    assert targets == pytest.approx({"B": 0.29, "T": 0.61})
    assert "did not trim B by 2.0%" in notes[0]
    # and lots far from their anniversary are trimmed as targeted
    young = [Lot(1, "B", D(1), D(110), date(2024, 3, 1)), Lot(2, "B", D(29), D(90), date(2024, 3, 1))]
    assert run({"B": 0.27, "T": 0.63}, {"B": 0.30, "T": 0.60}, young) == ({"B": 0.27, "T": 0.63}, [])


def test_a_trim_beyond_the_band_and_excluded_symbols_are_sold_whatever_the_gain():
    lots = [Lot(2, "B", D(30), D(90), date(2024, 3, 1))]  # all short-term gain
    assert run({"B": 0.20, "T": 0.70}, {"B": 0.30, "T": 0.60}, lots)[0] == pytest.approx({"B": 0.20, "T": 0.70})
    assert run({"B": 0.27, "T": 0.63}, {"B": 0.30, "T": 0.60}, lots, excluded={"B"})[0] == pytest.approx(
        {"B": 0.27, "T": 0.63}
    )


def test_short_term_gains_the_years_losses_absorb_are_realized_as_targeted():
    # given the same small trim (2 short-term gain shares: a 20 gain) in a year with 50 of net losses
    lots = [Lot(1, "B", D(1), D(110), date(2023, 7, 1)), Lot(2, "B", D(29), D(90), date(2023, 7, 1))]
    assert run({"B": 0.27, "T": 0.63}, {"B": 0.30, "T": 0.60}, lots, free_gains=50.0) == ({"B": 0.27, "T": 0.63}, [])
    # but 19 of room is not enough for the 20 gain
    assert run({"B": 0.27, "T": 0.63}, {"B": 0.30, "T": 0.60}, lots, free_gains=19.0)[0] == pytest.approx(
        {"B": 0.29, "T": 0.61}
    )
