"""Price providers (pure: no Django): the interface and registry in ``base``, a
regime-switching simulator in ``synthetic``, CSV files in ``csvfile``, and Yahoo's
chart API in ``yahoo``."""

from marketdata.providers.base import (
    INTRADAY_COLUMNS,
    PRICE_COLUMNS,
    TIDY_COLUMNS,
    IntradayProvider,
    PriceProvider,
    ProviderError,
    UnknownSymbolsError,
    provider_get,
)

__all__ = [
    "INTRADAY_COLUMNS",
    "PRICE_COLUMNS",
    "TIDY_COLUMNS",
    "IntradayProvider",
    "PriceProvider",
    "ProviderError",
    "UnknownSymbolsError",
    "provider_get",
]
