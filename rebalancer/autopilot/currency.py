"""Amounts in a locale's standard currency format: Babel's output, its lookups done once.

``babel.numbers.format_currency`` looks up the pattern, the currency's digits, the
locale's symbols and the currency's sign on every call (a few hundred dictionary
lookups through Babel's locale data): ~0.1 ms an amount, a fifth of a trading
portfolio's cycle when every decision's notification names ten amounts (profiled,
issue 21). :func:`currency_formatter` does those lookups once per (locale, currency)
and renders the number the way ``NumberPattern.apply`` does for a plain pattern
(no scientific notation, no significant digits, no scaling, no quoted text, no
plural currency names); for any other pattern it returns Babel itself, so the text
is Babel's in every case (``tests/autopilot/test_currency.py`` compares the two over
many locales, currencies and amounts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache, partial

from babel import Locale
from babel.numbers import (
    format_currency,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
)

NUMBERING = "latn"
"""The digits ``format_currency`` uses by default (Latin), and so do we."""


@dataclass(frozen=True)
class _PlainCurrencyPattern:
    """One locale's standard currency pattern for one currency, every lookup done."""

    prefix: tuple[str, str]
    """Before the number: (positive, negative), the currency sign in place."""
    suffix: tuple[str, str]
    grouping: tuple[int, int]
    """Digits in the first group left of the decimal sign, then in every further one."""
    min_int: int
    group: str
    decimal: str
    digits: int
    """The currency's decimal digits (2 for USD, 0 for JPY)."""

    def __call__(self, amount: Decimal) -> str:
        negative = int(amount.is_signed())
        # As Babel: quantized with the context's rounding (half even) to the currency's digits.
        integer, _, fraction = f"{abs(amount).quantize(Decimal(10) ** -self.digits):f}".partition(".")
        integer = integer.rjust(self.min_int, "0")
        size, groups = self.grouping[0], ""
        while len(integer) > size:
            groups = self.group + integer[-size:] + groups
            integer = integer[:-size]
            size = self.grouping[1]
        number = integer + groups
        if self.digits:
            number += self.decimal + fraction.ljust(self.digits, "0")
        return self.prefix[negative] + number + self.suffix[negative]


def _plain(locale: Locale, currency: str) -> _PlainCurrencyPattern | None:
    """The pattern's parts when :class:`_PlainCurrencyPattern` renders it as Babel does, else ``None``."""
    pattern = locale.currency_formats["standard"]
    group = get_group_symbol(locale, numbering_system=NUMBERING)
    decimal = get_decimal_symbol(locale, numbering_system=NUMBERING)
    affixes = "".join(pattern.prefix + pattern.suffix)
    if (pattern.exp_prec or "@" in pattern.pattern or pattern.scale or not pattern.number_pattern
            or "'" in affixes + group + decimal or "¤" in group + decimal or "¤¤¤" in affixes):
        return None
    sign = get_currency_symbol(currency, locale)
    if "'" in sign:  # Babel strips quotes from the whole text, the sign's included
        return None

    def placed(text: str) -> str:
        return text.replace("¤¤", currency.upper()).replace("¤", sign)

    return _PlainCurrencyPattern(
        prefix=(placed(pattern.prefix[0]), placed(pattern.prefix[1])),
        suffix=(placed(pattern.suffix[0]), placed(pattern.suffix[1])),
        grouping=pattern.grouping, min_int=pattern.int_prec[0], group=group, decimal=decimal,
        digits=get_currency_precision(currency),
    )


@lru_cache(maxsize=256)
def currency_formatter(locale: Locale, currency: str) -> Callable[[Decimal], str]:
    """``format_currency(amount, currency, locale=locale)`` as a function of ``amount`` (a ``Decimal``)."""
    plain = _plain(locale, currency)
    return plain if plain is not None else partial(_babel, currency=currency, locale=locale)


def _babel(amount: Decimal, *, currency: str, locale: Locale) -> str:
    return format_currency(amount, currency, locale=locale)
