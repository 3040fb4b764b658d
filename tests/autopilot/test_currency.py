"""The precomputed currency format gives Babel's text, byte for byte (DB-free)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from babel import Locale
from babel.localedata import locale_identifiers
from babel.numbers import format_currency

from rebalancer.autopilot.currency import _plain, currency_formatter

EDGES = [
    Decimal("0.00"), Decimal("-0.00"), Decimal("0.01"), Decimal("0.005"), Decimal("2.50"), Decimal("-2.50"),
    Decimal("999.995"), Decimal("1000.00"), Decimal("1234567.89"), Decimal("-98765.43"), Decimal("12345678901.23"),
]


def _amounts(seed: int, n: int) -> list[Decimal]:
    rng = random.Random(seed)
    return EDGES + [Decimal(rng.randint(-10**11, 10**11)).scaleb(-2) for _ in range(n)]


@pytest.mark.parametrize("currency", ["USD", "JPY", "BHD"])
def test_every_babel_locale_formats_as_babel(currency):
    # given every locale Babel knows and amounts with 0, 2 and 3 currency digits' rounding cases
    amounts = _amounts(seed=len(currency), n=5)
    mismatches = []
    # when each is formatted both ways
    for name in locale_identifiers():
        locale = Locale.parse(name)
        fmt = currency_formatter(locale, currency)
        mismatches += [(name, a, fmt(a), format_currency(a, currency, locale=locale))
                       for a in amounts if fmt(a) != format_currency(a, currency, locale=locale)]
    # then none differs
    assert mismatches == []


@pytest.mark.parametrize("name", ["en", "en_US", "de", "de_CH", "hi_IN", "fr", "ar"])
def test_the_product_languages_and_unusual_groupings_match_babel_on_many_amounts(name):
    # given a locale (de_CH groups with ', hi_IN in 3 then 2 digits) and 500 amounts
    locale = Locale.parse(name)
    fmt = currency_formatter(locale, "USD")
    # when / then
    assert [fmt(a) for a in _amounts(seed=1, n=500)] == [
        format_currency(a, "USD", locale=locale) for a in _amounts(seed=1, n=500)
    ]


def test_the_plain_path_serves_the_product_languages():
    # given / when / then: the fast path is the one used (no fallback to Babel per call)
    assert _plain(Locale.parse("en_US"), "USD") is not None
    assert _plain(Locale.parse("de"), "EUR") is not None
    assert currency_formatter(Locale.parse("de"), "EUR")(Decimal("-1234.5")) == "-1.234,50\xa0€"
    assert currency_formatter(Locale.parse("en_US"), "USD")(Decimal("1234567.891")) == "$1,234,567.89"
