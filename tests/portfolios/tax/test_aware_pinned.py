"""Tax-aware targets pinned to the float (DB-free): substitutes, deferrals, the funding scale, edges.

Taken before ``tax_aware_targets`` was split into named steps (issue 22), so any change of the
order of float operations shows here (the module's own tests compare with ``approx``).
"""

from datetime import date
from decimal import Decimal as D

import pytest

from portfolios.tax import Lot
from portfolios.tax.aware import tax_aware_targets

AS_OF = date(2024, 6, 3)
CLASSES = {"A": "equity", "R": "equity", "B": "equity", "S": "equity", "T": "bond", "U": "bond"}
CORR = {"R": {"A": 0.9, "S": 0.85}, "B": {"S": 0.95, "A": 0.7}}
PRICES = {"A": 100.0, "R": 100.0, "B": 50.0, "S": 20.0, "T": 100.0, "U": 10.0}
R_SHORT = Lot(1, "R", D(30), D(80), date(2023, 7, 15))  # a short-term gain, long-term on 2024-07-16
B_SHORT = Lot(2, "B", D(60), D(40), date(2023, 7, 1))  # a short-term gain, long-term on 2024-07-02
B_MOVED = Lot(2, "B", D(60), D(40), date(2023, 7, 1), holding_from=date(2023, 12, 1))  # a wash sale moved it
R_TWO = [Lot(3, "R", D(10), D(90), date(2023, 6, 20)), Lot(4, "R", D(10), D(95), date(2023, 6, 25))]
KEPT = "did not trim {} by {}: the drift is within the band and the shares turn long-term within {} days " \
       "(a short-term gain now)"


def kept_instead(symbol, partner, weight, corr):
    return (f"kept {weight} of the portfolio in {symbol} instead of buying {partner} (correlation {corr}): "
            "selling it now would realize a short-term gain")


CASES = {
    "a substitute covers the whole trim": (
        ({"A": 0.05, "R": 0.1, "T": 0.8, "S": 0.02}, {"R": 0.13, "T": 0.78, "S": 0.0}, [R_SHORT], {}),
        ({"A": 0.020000000000000004, "R": 0.13, "T": 0.8, "S": 0.02}, [kept_instead("R", "A", "3.0%", "0.90")]),
    ),
    "two substitutes, then the rest deferred": (
        ({"A": 0.01, "S": 0.01, "R": 0.09, "T": 0.89}, {"R": 0.13, "T": 0.87}, [R_SHORT], {}),
        ({"R": 0.13, "T": 0.87}, [
            kept_instead("R", "A", "1.0%", "0.90"), kept_instead("R", "S", "1.0%", "0.85"),
            KEPT.format("R", "2.0%", 60),
        ]),
    ),
    "too little buying to fund the whole deferral": (
        ({"B": 0.26, "T": 0.605}, {"B": 0.30, "T": 0.60}, [B_SHORT], {}),
        ({"B": 0.265, "T": 0.6}, [KEPT.format("B", "0.5%", 60)]),
    ),
    "nothing bought, nothing deferred": (
        ({"B": 0.26}, {"B": 0.30, "T": 0.60}, [B_SHORT], {}),
        ({"B": 0.26}, []),
    ),
    "a moved holding period ripens too late; two lots of another symbol do not": (
        ({"B": 0.26, "R": 0.08, "T": 0.56, "U": 0.1}, {"B": 0.30, "R": 0.10, "T": 0.50, "U": 0.1}, [B_MOVED, *R_TWO],
         {}),
        ({"B": 0.26, "R": 0.1, "T": 0.54, "U": 0.1}, [KEPT.format("R", "2.0%", 60)]),
    ),
    "a longer deferral keeps both": (
        ({"B": 0.26, "R": 0.08, "T": 0.56, "U": 0.1}, {"B": 0.30, "R": 0.10, "T": 0.50, "U": 0.1}, [B_MOVED, *R_TWO],
         {"defer_days": 200}),
        ({"B": 0.3, "R": 0.1, "T": 0.5000000000000001, "U": 0.1},
         [KEPT.format("B", "4.0%", 200), KEPT.format("R", "2.0%", 200)]),
    ),
    "a stricter correlation and an excluded partner leave only the deferral": (
        ({"A": 0.05, "R": 0.1, "T": 0.8, "S": 0.02}, {"R": 0.13, "T": 0.78, "S": 0.0}, [R_SHORT],
         {"min_correlation": 0.95, "excluded": ["S"]}),
        ({"A": 0.03333333333333334, "R": 0.13, "T": 0.7933333333333333, "S": 0.013333333333333336},
         [KEPT.format("R", "3.0%", 60)]),
    ),
    "an empty portfolio changes nothing": (
        ({"A": 0.5}, {"A": 0.4}, [], {"total_value": 0.0}),
        ({"A": 0.5}, []),
    ),
    "an unpriced symbol without lots is sold and zero targets dropped": (
        ({"A": 0.1, "Z": 0.0}, {"Z": 0.3, "A": 0.2}, [], {}),
        ({"A": 0.1}, []),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_targets_and_notes_are_the_pinned_floats_and_texts(name):
    # given
    (targets, current, lots, overrides), expected = CASES[name]
    args = {"targets": targets, "current": current, "lots": lots, "prices": PRICES, "total_value": 10000.0,
            "as_of": AS_OF, "asset_classes": CLASSES, "band": 0.05, "correlations": CORR}
    # when
    result = tax_aware_targets(**(args | overrides))
    # then: exact floats, key order included
    assert result == expected
    assert list(result[0]) == list(expected[0])
