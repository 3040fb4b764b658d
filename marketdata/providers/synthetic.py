"""A seeded, regime-switching, correlated, fat-tailed daily market with known ground truth.

Model (one step per business day ``t``, asset ``i``, regime ``s_t``):

* ``s_t`` follows a Markov chain over ("bull", "bear", "sideways") with the daily
  transition matrix ``SyntheticMarketConfig.transition`` (row = today, column =
  tomorrow). The default rows give expected durations ``1 / (1 - p_ii)`` of about 4, 2
  and 3 months, so regimes are persistent enough to be detected.
* Log return ``r_ti = (mu_i(s) - sigma_i(s)**2 / 2) / 252 + sigma_i(s) / sqrt(252) * eps_ti`` with
  ``mu_i(s) = carry_i + beta_i * market_drift(s)`` and ``sigma_i(s) = vol_i * vol_multiplier(s)``.
* Shocks have a factor structure, so every regime's correlation matrix is valid:
  ``z_ti = sqrt(m_s) * a_c * F_t + sqrt(k_c * q_s) * G_tc + sqrt(1 - m_s a_c^2 - k_c q_s) * e_ti``
  with ``F`` the market factor, ``G_c`` one factor per asset class ``c``, ``a_c`` the class's
  market loading and ``k_c`` its class share. Bear regimes raise ``m_s`` and ``q_s``, so
  correlations rise in bear markets (and volatility with ``vol_multiplier``).
* Fat tails: ``eps_t = z_t * min(sqrt((df - 2) / chi2_df), 3)`` (a multivariate Student-t,
  one chi-square draw per day so extreme days hit all assets together; the scale is capped
  at 3 so no simulated day moves an asset by more than real markets do).

Every random stream (regimes, factors, chi-square, OHLC noise, volume noise) has its
own generator spawned from ``seed`` and is drawn in date order, so a longer window keeps
the earlier history bit for bit and the same config always gives the same market.

Pure module: numpy and pandas only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from marketdata.providers.base import (
    INTRADAY_COLUMNS,
    TIDY_COLUMNS,
    UnknownSymbolsError,
    intraday_frame_empty,
    tidy_frame_empty,
    window_mask,
)

REGIMES: tuple[str, ...] = ("bull", "bear", "sideways")
SESSION_OPEN = dt.time(9, 30)
SESSION_CLOSE = dt.time(16, 0)
SESSION_TZ = "America/New_York"
"""The simulated session: New York hours, so intraday quotes line up with real markets'."""
TRADING_DAYS = 252
MAX_T_SCALE = 3.0


@dataclass(frozen=True)
class SyntheticAsset:
    """One simulated asset and its return parameters (annualised, decimals)."""

    symbol: str
    name: str
    asset_class: str
    """One of equity, bond, commodity, real_estate, crypto, cash."""
    sector: str
    vol: float
    """Annualised volatility in a normal (sideways) regime."""
    beta: float
    """Exposure of the drift to the regime's market drift."""
    carry: float
    """Annual drift independent of the regime (yield, risk premium)."""
    price0: float
    """Price on the first simulated day."""
    volume0: int
    """Typical daily volume (shares/units)."""
    esg_score: float | None = None
    """ESG score 0..100 (higher is better); None when not rated."""
    esg_flags: tuple[str, ...] = ()
    """Exclusion flags such as "tobacco", "weapons", "fossil_fuels"."""
    currency: str = "USD"


@dataclass(frozen=True)
class ClassParams:
    """How an asset class loads on the market and on its own class factor."""

    market_loading: float
    """``a_c``: sign and size of the class's exposure to the market factor."""
    class_share: float
    """``k_c``: share of variance explained by the class factor in a calm regime."""


@dataclass(frozen=True)
class RegimeParams:
    """Parameters of one regime."""

    market_drift: float
    """Annual drift of a beta-1 asset in this regime."""
    vol_multiplier: float
    """Multiplies every asset's volatility."""
    market_share: float
    """``m_s``: share of variance explained by the market factor (for ``a_c = 1``)."""
    class_multiplier: float
    """``q_s``: multiplies the class factor's share."""
    volume_multiplier: float
    """Multiplies traded volume."""


DEFAULT_UNIVERSE: tuple[SyntheticAsset, ...] = (
    # equities, by sector
    SyntheticAsset("ORBT", "Orbital Software", "equity", "technology", 0.30, 1.25, 0.04, 120.0, 8_000_000, 72.0),
    SyntheticAsset("NOVA", "Nova Semiconductors", "equity", "technology", 0.38, 1.40, 0.05, 45.0, 12_000_000, 61.0),
    SyntheticAsset("MEDX", "Medix Health", "equity", "healthcare", 0.20, 0.75, 0.04, 88.0, 4_000_000, 66.0),
    SyntheticAsset("GENE", "Genera Biotech", "equity", "healthcare", 0.36, 1.05, 0.03, 30.0, 6_000_000, 58.0),
    SyntheticAsset("BNKR", "Bankers Trust Group", "equity", "financials", 0.27, 1.20, 0.02, 52.0, 15_000_000, 49.0),
    SyntheticAsset("INSR", "Insura Holdings", "equity", "financials", 0.21, 0.90, 0.03, 74.0, 3_000_000, 55.0),
    SyntheticAsset("PETR", "Petra Energy", "equity", "energy", 0.29, 0.95, 0.03, 63.0, 9_000_000, 24.0, ("fossil_fuels",)),
    SyntheticAsset("SOLR", "Solaris Renewables", "equity", "energy", 0.40, 1.15, 0.05, 22.0, 7_000_000, 83.0),
    SyntheticAsset("FOOD", "Harvest Foods", "equity", "consumer_staples", 0.16, 0.60, 0.04, 58.0, 3_500_000, 64.0),
    SyntheticAsset("SMKE", "Ember Tobacco", "equity", "consumer_staples", 0.19, 0.55, 0.05, 41.0, 5_000_000, 18.0, ("tobacco",)),
    SyntheticAsset("RETL", "Retail Avenue", "equity", "consumer_discretionary", 0.28, 1.10, 0.03, 95.0, 6_500_000, 57.0),
    SyntheticAsset("DEFN", "Aegis Defense", "equity", "industrials", 0.22, 0.85, 0.04, 150.0, 2_000_000, 31.0, ("weapons",)),
    SyntheticAsset("RAIL", "Continental Rail", "equity", "industrials", 0.23, 1.00, 0.03, 110.0, 2_500_000, 62.0),
    SyntheticAsset("UTIL", "Gridline Utilities", "equity", "utilities", 0.15, 0.45, 0.04, 67.0, 3_000_000, 59.0),
    # bonds (negative market loading: flight to quality in bear regimes)
    SyntheticAsset("TSY2", "Treasury 1-3 Year Index", "bond", "government", 0.02, -0.02, 0.020, 100.0, 1_500_000, None),
    SyntheticAsset("TSY10", "Treasury 7-10 Year Index", "bond", "government", 0.07, -0.08, 0.030, 100.0, 2_500_000, None),
    SyntheticAsset("CORP", "Investment Grade Corporate Bond Index", "bond", "corporate", 0.06, 0.05, 0.035, 100.0, 1_800_000, 60.0),
    SyntheticAsset("HYLD", "High Yield Bond Index", "bond", "high_yield", 0.09, 0.25, 0.045, 100.0, 1_200_000, 45.0),
    # commodities
    SyntheticAsset("GOLD", "Gold Bullion Trust", "commodity", "precious_metals", 0.16, -0.05, 0.030, 120.0, 4_000_000, None),
    SyntheticAsset("OILF", "Crude Oil Fund", "commodity", "energy", 0.35, 0.60, 0.010, 70.0, 5_000_000, None, ("fossil_fuels",)),
    SyntheticAsset("AGRI", "Agriculture Basket", "commodity", "agriculture", 0.18, 0.20, 0.020, 25.0, 1_000_000, None),
    # real estate
    SyntheticAsset("REIT", "Urban Office REIT", "real_estate", "commercial", 0.24, 0.90, 0.04, 80.0, 2_000_000, 63.0),
    SyntheticAsset("RESI", "Residential Homes REIT", "real_estate", "residential", 0.20, 0.80, 0.04, 55.0, 1_500_000, 68.0),
    # crypto
    SyntheticAsset("BTCX", "Bitcoin Tracker", "crypto", "digital_assets", 0.50, 1.50, 0.20, 400.0, 900_000, 30.0),
    SyntheticAsset("ETHX", "Ether Tracker", "crypto", "digital_assets", 0.60, 1.70, 0.22, 20.0, 1_400_000, 35.0),
    # cash-like
    SyntheticAsset("MMKT", "Money Market Fund", "cash", "cash", 0.004, 0.0, 0.020, 100.0, 500_000, None),
)

DEFAULT_CLASS_PARAMS: dict[str, ClassParams] = {
    "equity": ClassParams(market_loading=1.0, class_share=0.15),
    "real_estate": ClassParams(market_loading=0.85, class_share=0.25),
    "commodity": ClassParams(market_loading=0.40, class_share=0.15),
    "crypto": ClassParams(market_loading=0.60, class_share=0.45),
    "bond": ClassParams(market_loading=-0.25, class_share=0.55),
    "cash": ClassParams(market_loading=0.0, class_share=0.0),
}

DEFAULT_REGIME_PARAMS: dict[str, RegimeParams] = {
    "bull": RegimeParams(market_drift=0.18, vol_multiplier=0.55, market_share=0.20, class_multiplier=1.0, volume_multiplier=1.0),
    "bear": RegimeParams(market_drift=-0.30, vol_multiplier=1.80, market_share=0.50, class_multiplier=1.3, volume_multiplier=1.6),
    "sideways": RegimeParams(market_drift=0.01, vol_multiplier=1.00, market_share=0.25, class_multiplier=1.0, volume_multiplier=0.9),
}

# Rows: today's regime (bull, bear, sideways); columns: tomorrow's. Expected durations
# 1 / (1 - p_ii): bull ~250, bear ~83, sideways ~143 business days — regimes that last
# like real markets' (a year-long bull, a few months of bear). Shorter regimes with a
# bull barely calmer than sideways left even a detector that knows the true parameters
# at 73 % accuracy (docs/REGIME.md), i.e. regimes no investor could act on.
DEFAULT_TRANSITION: tuple[tuple[float, ...], ...] = (
    (0.996, 0.002, 0.002),
    (0.006, 0.988, 0.006),
    (0.004, 0.003, 0.993),
)


@dataclass(frozen=True)
class SyntheticMarketConfig:
    """Everything that determines a simulated market. Same config → same market."""

    seed: int = 7
    """Root seed; each random stream gets its own child generator."""
    start: dt.date = dt.date(2012, 1, 2)
    """First day (inclusive); the simulation uses business days (Mon-Fri)."""
    end: dt.date = dt.date(2023, 12, 29)
    """Last day (inclusive)."""
    universe: tuple[SyntheticAsset, ...] = DEFAULT_UNIVERSE
    """The assets, in column order of ``SyntheticMarket.prices``."""
    transition: tuple[tuple[float, ...], ...] = DEFAULT_TRANSITION
    """Daily Markov transition matrix over ``REGIMES`` (rows sum to 1)."""
    regime_params: dict[str, RegimeParams] = field(default_factory=lambda: dict(DEFAULT_REGIME_PARAMS))
    """Per-regime drift, volatility and correlation parameters."""
    class_params: dict[str, ClassParams] = field(default_factory=lambda: dict(DEFAULT_CLASS_PARAMS))
    """Per-asset-class market loading and class-factor share."""
    initial_regime: str = "bull"
    """Regime of the first day."""
    df: float = 8.0
    """Degrees of freedom of the Student-t shocks (> 2; lower = fatter tails)."""

    def __hash__(self) -> int:  # dict fields are not hashable; the repr is a faithful key
        return hash(repr(self))

    def validate(self) -> None:
        """Raise ``ValueError`` for an inconsistent config."""
        matrix = np.asarray(self.transition, dtype=float)
        if matrix.shape != (len(REGIMES), len(REGIMES)):
            raise ValueError(f"transition must be {len(REGIMES)}x{len(REGIMES)}, got {matrix.shape}")
        if (matrix < 0).any() or not np.allclose(matrix.sum(axis=1), 1.0):
            raise ValueError("transition rows must be probabilities summing to 1")
        if self.initial_regime not in REGIMES:
            raise ValueError(f"initial_regime must be one of {REGIMES}")
        if self.df <= 2:
            raise ValueError("df must be > 2 for finite variance")
        if self.end < self.start:
            raise ValueError("end is before start")
        symbols = [asset.symbol for asset in self.universe]
        if len(set(symbols)) != len(symbols) or not symbols:
            raise ValueError("universe symbols must be unique and non-empty")
        for regime in REGIMES:
            params = self.regime_params[regime]
            for asset in self.universe:
                cls = self.class_params[asset.asset_class]
                explained = params.market_share * cls.market_loading**2 + cls.class_share * params.class_multiplier
                if explained >= 1.0:
                    raise ValueError(
                        f"factor shares explain {explained:.2f} >= 1 of {asset.symbol}'s variance in {regime}"
                    )


@dataclass(frozen=True)
class SyntheticMarket:
    """A simulated market and its ground truth."""

    prices: pd.DataFrame
    """Adjusted close, business days × symbols (float64), index named "date"."""
    ohlcv: pd.DataFrame
    """Tidy frame: date, symbol, open, high, low, close, adj_close, volume."""
    regimes: pd.Series
    """Ground-truth regime ("bull"/"bear"/"sideways") of every date, index = prices.index."""
    assets: list[SyntheticAsset]
    """Metadata of the simulated assets, in column order."""
    config: SyntheticMarketConfig

    @property
    def returns(self) -> pd.DataFrame:
        """Simple daily returns (the first date dropped)."""
        return self.prices.pct_change(fill_method=None).iloc[1:]


def expected_durations(transition: Sequence[Sequence[float]]) -> dict[str, float]:
    """Expected length in days of each regime, ``1 / (1 - p_ii)``."""
    matrix = np.asarray(transition, dtype=float)
    return {regime: float(1.0 / (1.0 - matrix[k, k])) for k, regime in enumerate(REGIMES)}


def _simulate_regimes(rng: np.random.Generator, n: int, transition: np.ndarray, initial: int) -> np.ndarray:
    states = np.empty(n, dtype=np.int64)
    cumulative = np.cumsum(transition, axis=1)
    uniforms = rng.random(n)
    state = initial
    for t in range(n):
        if t > 0:
            state = int(np.searchsorted(cumulative[state], uniforms[t], side="right"))
            state = min(state, len(REGIMES) - 1)
        states[t] = state
    return states


@dataclass(frozen=True)
class _RegimeArrays:
    """The model's per-regime parameters as arrays indexed ``[regime, asset]`` (``REGIMES`` order)."""

    sigma: np.ndarray
    """Annualised volatility ``sigma_i(s)``."""
    mu: np.ndarray
    """Annual drift ``mu_i(s)``."""
    w_market: np.ndarray
    """Loading of the shock on the market factor, ``sqrt(m_s) * a_c``."""
    w_class: np.ndarray
    """Loading on the asset's class factor, ``sqrt(k_c * q_s)``."""
    w_idio: np.ndarray
    """Loading on the asset's own noise, what the factors leave of a unit variance."""
    volume_multiplier: np.ndarray
    """Per regime only (``[regime]``): multiplies traded volume."""


@dataclass(frozen=True)
class _DailyPaths:
    """The simulated days × assets arrays (prices not rounded yet)."""

    eps: np.ndarray
    """The fat-tailed shocks ``eps_ti``."""
    daily_sigma: np.ndarray
    """Daily volatility of each day's regime, ``sigma_i(s_t) / sqrt(252)``."""
    price0: np.ndarray
    close: np.ndarray


def _regime_arrays(config: SyntheticMarketConfig) -> _RegimeArrays:
    universe = config.universe
    loading = np.array([config.class_params[a.asset_class].market_loading for a in universe])
    share = np.array([config.class_params[a.asset_class].class_share for a in universe])
    vol = np.array([a.vol for a in universe])
    beta = np.array([a.beta for a in universe])
    carry = np.array([a.carry for a in universe])
    params = [config.regime_params[r] for r in REGIMES]
    w_market = np.array([np.sqrt(p.market_share) * loading for p in params])
    w_class = np.array([np.sqrt(share * p.class_multiplier) for p in params])
    return _RegimeArrays(
        sigma=np.array([vol * p.vol_multiplier for p in params]),
        mu=np.array([carry + beta * p.market_drift for p in params]),
        w_market=w_market,
        w_class=w_class,
        w_idio=np.sqrt(1.0 - w_market**2 - w_class**2),
        volume_multiplier=np.array([p.volume_multiplier for p in params]),
    )


def _shocks(
    config: SyntheticMarketConfig,
    arrays: _RegimeArrays,
    states: np.ndarray,
    rng_factor: np.random.Generator,
    rng_idio: np.random.Generator,
    rng_chi2: np.random.Generator,
) -> np.ndarray:
    """The factor-structured Student-t shocks ``eps`` (days × assets), drawn in date order
    (row-major), so a longer window keeps the prefix."""
    n_days, n_assets = len(states), len(config.universe)
    classes = sorted({asset.asset_class for asset in config.universe})
    class_index = np.array([classes.index(asset.asset_class) for asset in config.universe])
    market_factor = rng_factor.standard_normal((n_days, 1 + len(classes)))
    idio = rng_idio.standard_normal((n_days, n_assets))
    chi2 = rng_chi2.chisquare(config.df, n_days)
    z = (
        arrays.w_market[states] * market_factor[:, :1]
        + arrays.w_class[states] * market_factor[:, 1:][:, class_index]
        + arrays.w_idio[states] * idio
    )
    # the t scale is capped so that a single day stays within what real markets show
    # (the capped mixture still has kurtosis well above a normal's)
    return z * np.minimum(np.sqrt((config.df - 2.0) / chi2), MAX_T_SCALE)[:, None]


def _daily_paths(
    config: SyntheticMarketConfig, arrays: _RegimeArrays, states: np.ndarray, eps: np.ndarray
) -> _DailyPaths:
    """Closes from the log returns of the module's model (the first day is the starting price)."""
    daily_sigma = arrays.sigma[states] / np.sqrt(TRADING_DAYS)
    log_returns = (arrays.mu[states] - 0.5 * arrays.sigma[states] ** 2) / TRADING_DAYS + daily_sigma * eps
    log_returns[0] = 0.0  # the first day is the starting price
    price0 = np.array([a.price0 for a in config.universe])
    close = price0 * np.exp(np.cumsum(log_returns, axis=0))
    return _DailyPaths(eps=eps, daily_sigma=daily_sigma, price0=price0, close=close)


def _open_high_low(
    paths: _DailyPaths, rng_ohlc: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intraday: the open gaps from the previous close, high and low lie beyond open and close."""
    ohlc_noise = rng_ohlc.standard_normal((*paths.close.shape, 3))
    previous_close = np.vstack([paths.price0, paths.close[:-1]])
    open_ = previous_close * np.exp(0.25 * paths.daily_sigma * ohlc_noise[:, :, 0])
    high = np.maximum(open_, paths.close) * np.exp(0.5 * paths.daily_sigma * np.abs(ohlc_noise[:, :, 1]))
    low = np.minimum(open_, paths.close) * np.exp(-0.5 * paths.daily_sigma * np.abs(ohlc_noise[:, :, 2]))
    return open_, high, low


def _volume(
    config: SyntheticMarketConfig,
    arrays: _RegimeArrays,
    states: np.ndarray,
    paths: _DailyPaths,
    rng_volume: np.random.Generator,
) -> np.ndarray:
    """Traded volume: higher in volatile regimes and on large-shock days."""
    volume_noise = rng_volume.standard_normal(paths.close.shape)
    volume_multiplier = arrays.volume_multiplier[states]
    volume0 = np.array([a.volume0 for a in config.universe], dtype=float)
    return np.round(
        volume0 * volume_multiplier[:, None] * np.exp(0.25 * volume_noise) * (1.0 + 0.5 * np.abs(paths.eps))
    ).astype(np.int64)


def _tidy_ohlcv(
    dates: pd.DatetimeIndex, symbols: list[str], bars: dict[str, np.ndarray]
) -> pd.DataFrame:
    """The days × assets ``bars`` (open, high, low, close, volume) as the tidy frame, by date and symbol."""
    n_days, n_assets = len(dates), len(symbols)
    ohlcv = pd.DataFrame(
        {
            "date": np.repeat(dates.values, n_assets),
            "symbol": np.tile(np.array(symbols, dtype=object), n_days),
            "open": bars["open"].ravel(),
            "high": bars["high"].ravel(),
            "low": bars["low"].ravel(),
            "close": bars["close"].ravel(),
            "adj_close": bars["close"].ravel(),
            "volume": bars["volume"].ravel(),
        },
        columns=list(TIDY_COLUMNS),
    )
    return ohlcv.sort_values(["date", "symbol"], kind="stable").reset_index(drop=True)


def simulate_market(config: SyntheticMarketConfig | None = None) -> SyntheticMarket:
    """Simulate the market described by ``config`` (defaults: 26 assets, 2012-2023, seed 7)."""
    config = config or SyntheticMarketConfig()
    config.validate()
    dates = pd.bdate_range(config.start, config.end, name="date")
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(6)]
    rng_regime, rng_factor, rng_chi2, rng_idio, rng_ohlc, rng_volume = streams

    states = _simulate_regimes(
        rng_regime, len(dates), np.asarray(config.transition, dtype=float), REGIMES.index(config.initial_regime)
    )
    arrays = _regime_arrays(config)
    eps = _shocks(config, arrays, states, rng_factor, rng_idio, rng_chi2)
    paths = _daily_paths(config, arrays, states, eps)
    open_, high, low = _open_high_low(paths, rng_ohlc)
    volume = _volume(config, arrays, states, paths, rng_volume)

    # prices are stored with 6 decimals; round here so that what we hand out is what lands
    close, open_, high, low = (np.round(x, 6) for x in (paths.close, open_, high, low))
    symbols = [asset.symbol for asset in config.universe]
    prices = pd.DataFrame(close, index=dates, columns=pd.Index(symbols, name="symbol"))
    ohlcv = _tidy_ohlcv(dates, symbols, {"open": open_, "high": high, "low": low, "close": close, "volume": volume})
    regimes = pd.Series(np.array(REGIMES, dtype=object)[states], index=dates, name="regime")
    return SyntheticMarket(prices=prices, ohlcv=ohlcv, regimes=regimes, assets=list(config.universe), config=config)


@lru_cache(maxsize=8)
def _cached_market(config: SyntheticMarketConfig) -> SyntheticMarket:
    return simulate_market(config)


class SyntheticProvider:
    """The simulator behind the provider interface.

    The path is simulated from a fixed ``epoch`` with the given ``seed``, so any
    window — and a window extended day by day by the scheduled pull — shows the same
    history. ``fetch`` never looks into the future of ``end``.
    """

    name = "synthetic"
    EPOCH = dt.date(2000, 1, 3)

    def __init__(
        self,
        *,
        seed: int = 7,
        epoch: dt.date | None = None,
        universe: tuple[SyntheticAsset, ...] = DEFAULT_UNIVERSE,
    ) -> None:
        self.seed = seed
        self.epoch = epoch or self.EPOCH
        self.universe = universe
        self._by_symbol = {asset.symbol: asset for asset in universe}

    @property
    def assets(self) -> list[SyntheticAsset]:
        return list(self.universe)

    def market(self, end: dt.date) -> SyntheticMarket:
        """The simulated market from the epoch to ``end`` (cached per process)."""
        return _cached_market(
            SyntheticMarketConfig(seed=self.seed, start=self.epoch, end=end, universe=self.universe)
        )

    def fetch(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        unknown = sorted(set(symbols) - set(self._by_symbol))
        if unknown:
            raise UnknownSymbolsError(f"synthetic market has no symbols {unknown}", symbols=unknown)
        if end < self.epoch or end < start or not symbols:
            return tidy_frame_empty()
        ohlcv = self.market(end).ohlcv
        mask = window_mask(ohlcv["date"], start, end) & ohlcv["symbol"].isin(list(symbols)).to_numpy()
        return ohlcv.loc[mask].reset_index(drop=True)

    def intraday(self, symbols: Sequence[str], day: dt.date, *, interval_minutes: int = 5) -> pd.DataFrame:
        """Quotes every ``interval_minutes`` of ``day``'s session (09:30-16:00 New York), from
        the day's open to its close within its high and low (:func:`intraday_path`).

        Deterministic per (seed, day, symbol) and consistent with :meth:`fetch`: the 16:00
        quote is the daily close, the 09:30 one the open. A weekend or a day before the
        epoch has no session (empty frame).
        """
        unknown = sorted(set(symbols) - set(self._by_symbol))
        if unknown:
            raise UnknownSymbolsError(f"synthetic market has no symbols {unknown}", symbols=unknown)
        minutes = (SESSION_CLOSE.hour * 60 + SESSION_CLOSE.minute) - (SESSION_OPEN.hour * 60 + SESSION_OPEN.minute)
        if interval_minutes < 1 or minutes % interval_minutes:
            raise ValueError(f"interval_minutes must divide the {minutes}-minute session")
        if day < self.epoch or day.weekday() >= 5 or not symbols:
            return intraday_frame_empty()
        bars = self.fetch(list(symbols), day, day).set_index("symbol")
        steps = minutes // interval_minutes
        start = pd.Timestamp(dt.datetime.combine(day, SESSION_OPEN), tz=SESSION_TZ)
        stamps = (start + pd.to_timedelta(np.arange(steps + 1) * interval_minutes, unit="min")).tz_convert("UTC")
        order = {a.symbol: i for i, a in enumerate(self.universe)}
        frames = []
        for symbol in sorted(set(symbols)):
            if symbol not in bars.index:
                continue
            bar = bars.loc[symbol]
            rng = np.random.default_rng([self.seed, day.toordinal(), order[symbol]])
            prices = np.round(intraday_path(open_=float(bar["open"]), high=float(bar["high"]), low=float(bar["low"]),
                                            close=float(bar["close"]), steps=steps, rng=rng), 6)
            volume = np.full(steps + 1, int(bar["volume"]) // steps, dtype=np.int64)
            volume[0] = 0  # nothing traded before the open
            frames.append(pd.DataFrame({"timestamp": stamps, "symbol": symbol, "price": prices, "volume": volume}))
        if not frames:
            return intraday_frame_empty()
        out = pd.concat(frames, ignore_index=True).loc[:, list(INTRADAY_COLUMNS)]
        return out.sort_values(["timestamp", "symbol"], kind="stable").reset_index(drop=True)


def intraday_path(
    *, open_: float, high: float, low: float, close: float, steps: int, rng: np.random.Generator
) -> np.ndarray:
    """``steps + 1`` prices from ``open_`` to ``close`` that touch ``high`` and ``low`` and never
    leave them: a Brownian bridge in log price whose upward and downward excursions around
    the straight open-to-close line are scaled separately onto the day's high and low.

    The first price is the open and the last the close exactly, so a day's intraday path
    is consistent with its daily bar.
    """
    t = np.linspace(0.0, 1.0, steps + 1)
    walk = np.concatenate([[0.0], np.cumsum(rng.standard_normal(steps))])
    bridge = walk - t * walk[-1]  # zero at both ends
    line = np.log(open_) + t * (np.log(close) - np.log(open_))
    up, down = np.clip(bridge, 0.0, None), np.clip(bridge, None, 0.0)
    room_up, room_down = np.log(high) - line, np.log(low) - line  # >= 0 and <= 0
    scale_up = min((room_up[up > 0] / up[up > 0]).min(initial=np.inf), 1e6) if (up > 0).any() else 0.0
    scale_down = min((room_down[down < 0] / down[down < 0]).min(initial=np.inf), 1e6) if (down < 0).any() else 0.0
    path = np.exp(line + max(scale_up, 0.0) * up + max(scale_down, 0.0) * down)
    path[0], path[-1] = open_, close
    return np.clip(path, low, high)
