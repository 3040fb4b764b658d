"""Words an investor understands: a decision's record as sentences, in the active language.

:func:`investor_sentences` turns the stored record of a decision (the JSON of
:func:`rebalancer.autopilot.explain.decision_explanation`, read back as a typed
:class:`DecisionRecord` by :func:`record_from_dict`) into plain sentences: what we did,
why, and what the investor's own settings did to the strategy's wish ("you asked for
30 %; we keep 2 % in cash, so 29.4 %"). Amounts are formatted from ``Decimal`` in the
portfolio's currency and percentages are rounded to one decimal, both by the active
locale's rules (Babel, CLDR data). Every sentence is marked for translation
(``gettext``), so the API answers in the request's language (``LocaleMiddleware``,
``Accept-Language``); the catalogues are in ``locale/``.

Pure: no database, no I/O; the same record, currency and active language give the same
sentences. Records written before the decision carried its facts (``facts`` is null)
get the sentences that need no facts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.numbers import format_percent
from django.utils.translation import get_language, gettext_noop, ngettext, to_locale
from django.utils.translation import gettext as _

from portfolios.policy.projection import Adjustment
from rebalancer.autopilot.currency import currency_formatter
from rebalancer.autopilot.types import CostGate, DecisionFacts

LIST_MAX = 3
"""Assets named in one sentence before "and N more"."""
OWN_TARGETS = "target_allocation"
"""The strategy that is the investor's own target allocation ("you asked for")."""


# --- the typed record ------------------------------------------------------------------------


@dataclass(frozen=True)
class TradeLine:
    symbol: str
    side: str
    value: Decimal
    est_cost: Decimal


@dataclass(frozen=True)
class TriggerLine:
    kind: str
    value: float | None = None
    threshold: float | None = None
    symbol: str | None = None


@dataclass(frozen=True)
class OverlayLine:
    multiplier: float
    forecast_volatility: float
    target_volatility: float
    derisked: bool
    drawdown: float
    events: tuple[str, ...] = ()


@dataclass(frozen=True)
class DecisionRecord:
    """What :func:`investor_sentences` reads: the stored record of one decision, typed."""

    action: str
    total_value: Decimal
    triggers: tuple[TriggerLine, ...] = ()
    trades: tuple[TradeLine, ...] = ()
    current_weights: Mapping[str, float] = field(default_factory=dict)
    target_weights: Mapping[str, float] = field(default_factory=dict)
    strategic_weights: Mapping[str, float] = field(default_factory=dict)
    override_source: str | None = None
    overlay: OverlayLine | None = None
    var_before: float | None = None
    var_after: float | None = None
    harvested_loss: Decimal = Decimal("0")
    partial_step: float | None = None
    skip_kind: str | None = None
    facts: DecisionFacts | None = None


def _money(x: Any) -> Decimal:
    return Decimal(str(x if x is not None else 0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _facts_from_dict(data: Mapping[str, Any] | None) -> DecisionFacts | None:
    if not data:
        return None
    gate = data.get("gate")
    return DecisionFacts(
        strategy=str(data.get("strategy") or ""), tier=str(data.get("tier") or ""),
        horizon_years=float(data.get("horizon_years") or 10), horizon_factor=float(data.get("horizon_factor") or 1),
        calendar=str(data.get("calendar") or "none"), rebalance_threshold=float(data.get("rebalance_threshold") or 0),
        cash_buffer=float(data.get("cash_buffer") or 0), max_position=float(data.get("max_position") or 1),
        volatility_target=float(data.get("volatility_target") or 0), max_var_95=float(data.get("max_var_95") or 0),
        max_drawdown=float(data.get("max_drawdown") or 0), derisk_exposure=float(data.get("derisk_exposure") or 1),
        max_turnover=None if data.get("max_turnover") is None else float(data["max_turnover"]),
        sleeve_ranges={k: (float(v[0]), float(v[1])) for k, v in (data.get("sleeve_ranges") or {}).items()},
        sleeves=dict(data.get("sleeves") or {}),
        adjustments=tuple(
            Adjustment(
                kind=str(a["kind"]), symbols=tuple(a.get("symbols") or ()), sleeve=a.get("sleeve"),
                wanted=a.get("wanted"), got=a.get("got"), limit=a.get("limit"),
                pairs=tuple((str(p[0]), float(p[1]), float(p[2])) for p in a.get("pairs") or ()),
            )
            for a in data.get("adjustments") or ()
        ),
        swept={str(s): float(w) for s, w in (data.get("swept") or {}).items()},
        gate=None if not gate else CostGate(bool(gate["passed"]), float(gate["benefit"]),
                                            float(gate["trading_cost"]), float(gate["tax_cost"])),
    )


def record_from_dict(data: Mapping[str, Any]) -> DecisionRecord:
    """The typed record of a stored explanation (``Decision.explanation`` or predict's)."""
    overlay = data.get("overlay")
    partial = [c for c in data.get("checks") or () if c.get("name") == "turnover_partial"]
    return DecisionRecord(
        action=str(data.get("action") or "hold"),
        total_value=_money(data.get("total_value")),
        triggers=tuple(
            TriggerLine(kind=str(t.get("kind")), value=t.get("value"), threshold=t.get("threshold"),
                        symbol=t.get("symbol"))
            for t in data.get("triggers") or ()
        ),
        trades=tuple(
            TradeLine(symbol=str(t["symbol"]), side=str(t["side"]), value=_money(t.get("value")),
                      est_cost=_money(t.get("est_cost")))
            for t in data.get("trades") or ()
        ),
        current_weights=dict(data.get("current_weights") or {}),
        target_weights=dict(data.get("target_weights") or {}),
        strategic_weights=dict(data.get("strategic_weights") or {}),
        override_source=(data.get("override") or {}).get("source"),
        overlay=None if not overlay else OverlayLine(
            multiplier=float(overlay["multiplier"]), forecast_volatility=float(overlay["forecast_volatility"]),
            target_volatility=float(overlay["target_volatility"]), derisked=bool(overlay["derisked"]),
            drawdown=float(overlay["drawdown"]), events=tuple(overlay.get("events") or ()),
        ),
        var_before=(data.get("before") or {}).get("var_95"),
        var_after=(data.get("after") or {}).get("var_95"),
        harvested_loss=_money(data.get("harvested_loss")),
        partial_step=float(partial[0]["value"]) if partial and partial[0].get("value") is not None else None,
        skip_kind=data.get("skip_kind"),
        facts=_facts_from_dict(data.get("facts")),
    )


# --- numbers in the active locale ------------------------------------------------------------


def _locale() -> Locale:
    return _babel_locale(to_locale(get_language() or "en"))


@lru_cache(maxsize=32)
def _babel_locale(name: str) -> Locale:
    """Babel's locale, parsed once: given a name, every formatting call parses it again (and
    again inside, per symbol it looks up), a third of a formatting's time."""
    return Locale.parse(name)


def money(amount: Decimal | float, currency: str) -> str:
    """``amount`` in ``currency``, two decimals, by the active locale ("$1,234.50", "1.234,50 €")."""
    return currency_formatter(_locale(), currency)(_money(amount))


def percent(fraction: float) -> str:
    """A weight or rate as a percentage: one decimal, none when whole ("30%", "29.4%"), two
    below 0.1 % so a small number does not read as zero."""
    value = Decimal(str(float(fraction))) * 100
    places = Decimal("0.01") if Decimal("0") < abs(value) < Decimal("0.1") else Decimal("0.1")
    value = value.quantize(places, rounding=ROUND_HALF_UP).normalize()
    if value == value.to_integral():
        value = value.quantize(Decimal("1"))
    return _percent_text(str(value), _locale())


@lru_cache(maxsize=8192)
def _percent_text(value: str, locale: Locale) -> str:
    """Babel's text of a rounded percentage (a few thousand distinct ones: 0.1 % steps).

    Keyed on the number's text, not its value: ``-0`` and ``0`` are equal as numbers but
    Babel writes "-0%" for the one and "0%" for the other."""
    return format_percent(Decimal(value) / 100, locale=locale, decimal_quantization=False)


def _names(items: Sequence[Any], name: Callable[[Any], str] = str) -> str:
    """The items as a list in words ("A, B and C", "A, B, C and 4 more"); ``name`` words an item.

    Only the items shown are worded: a trade's amount costs a locale formatting, and a
    rebalance names three of its twenty trades (a third of the cycle's CPU was formatting
    amounts nobody reads, profiled)."""
    items = list(items)
    if len(items) > LIST_MAX:
        shown = ", ".join(name(i) for i in items[:LIST_MAX])
        return _("%(shown)s and %(count)d more") % {"shown": shown, "count": len(items) - LIST_MAX}
    names = [name(i) for i in items]
    if len(names) <= 1:
        return "".join(names)
    return _("%(first)s and %(last)s") % {"first": ", ".join(names[:-1]), "last": names[-1]}


SLEEVE_WORDS = {
    "equity": gettext_noop("shares"), "bonds": gettext_noop("bonds"),
    "alternatives": gettext_noop("alternative assets"), "cash": gettext_noop("cash"),
    "equity sleeve": gettext_noop("shares"), "bonds sleeve": gettext_noop("bonds"),
    "alternatives sleeve": gettext_noop("alternative assets"), "non-cash assets": gettext_noop("investments"),
    "money-market funds": gettext_noop("money-market funds"), "portfolio": gettext_noop("investments"),
}
"""A sleeve's or node's name in words (marked here, translated when used: one lookup, not ten)."""
TIER_WORDS = {
    "conservative": gettext_noop("conservative"), "moderate": gettext_noop("moderate"),
    "balanced": gettext_noop("balanced"), "growth": gettext_noop("growth"), "aggressive": gettext_noop("aggressive"),
}


def _sleeve(name: str | None) -> str:
    if name in SLEEVE_WORDS:
        return _(SLEEVE_WORDS[name])
    return (name or "").removesuffix(" class").replace("_", " ")


def _tier(facts: DecisionFacts) -> str:
    return _(TIER_WORDS[facts.tier]) if facts.tier in TIER_WORDS else facts.tier


# --- sentences -------------------------------------------------------------------------------


def _what_we_did(record: DecisionRecord, currency: str, proposal: bool) -> list[str]:
    if record.action == "skipped":
        return [{
            "halted": _("Our operators have paused automatic trading, so nothing was traded today."),
            "data": _("Prices of your holdings are missing or unreliable today, so we did not trade."),
            "strategy": _("Your strategy could not propose targets today, so we did not trade."),
            "infeasible": _("Your limits cannot all be met with the assets available, so we did not trade."),
            "trades": _("We could not work out the trades today, so we did not trade."),
        }.get(record.skip_kind or "", _("We did not trade today."))]
    if not record.trades:
        if not record.triggers:
            return [_("No change was needed today.")]
        return [_("We checked your portfolio and left it as it is.")]
    sells = [t for t in record.trades if t.side == "sell"]
    buys = [t for t in record.trades if t.side == "buy"]
    total = money(sum((t.value for t in record.trades), Decimal("0")), currency)
    cost = money(sum((t.est_cost for t in record.trades), Decimal("0")), currency)
    def line(t: TradeLine) -> str:
        return f"{t.symbol} ({money(t.value, currency)})"

    parts = {"sells": _names(sells, line), "buys": _names(buys, line), "total": total, "cost": cost}
    if proposal:
        if sells and buys:
            text = _("We propose to sell %(sells)s and buy %(buys)s, %(total)s in all, for about %(cost)s in costs; "
                     "nothing happens until you approve.")
        elif sells:
            text = _("We propose to sell %(sells)s, %(total)s in all, for about %(cost)s in costs; "
                     "nothing happens until you approve.")
        else:
            text = _("We propose to buy %(buys)s, %(total)s in all, for about %(cost)s in costs; "
                     "nothing happens until you approve.")
    elif sells and buys:
        text = _("We sold %(sells)s and bought %(buys)s, %(total)s in all, for about %(cost)s in costs.")
    elif sells:
        text = _("We sold %(sells)s, %(total)s in all, for about %(cost)s in costs.")
    else:
        text = _("We bought %(buys)s, %(total)s in all, for about %(cost)s in costs.")
    return [text % parts]


def _why(record: DecisionRecord, currency: str) -> list[str]:
    out = []
    facts = record.facts
    cash = any(t.kind == "cash" for t in record.triggers)
    for t in record.triggers:
        if t.kind == "drift" and t.symbol and not cash:  # new money explains the gaps itself
            out.append(_("%(symbol)s had drifted to %(current)s of your portfolio against its %(target)s target.") % {
                "symbol": t.symbol, "current": percent(record.current_weights.get(t.symbol, 0.0)),
                "target": percent(record.target_weights.get(t.symbol, 0.0))})
        elif t.kind == "cash" and t.value is not None:
            out.append(_("%(amount)s of cash was waiting to be invested.") % {"amount": money(t.value, currency)})
        elif t.kind == "calendar":
            out.append(_("It was time for your quarterly review.") if facts is None or facts.calendar == "quarterly"
                       else _("It was time for your monthly review."))
        elif t.kind == "review":
            out.append(_("We reviewed your strategy's targets."))
        elif t.kind == "regime_change":
            out.append(_("The market has entered a new phase, and your strategy follows it."))
        elif t.kind == "manual":
            out.append(_("A review was requested."))
    return out


def _wish(facts: DecisionFacts) -> str:
    return _("you asked for") if facts.strategy == OWN_TARGETS else _("the strategy wanted")


def _adjustment(a: Adjustment, facts: DecisionFacts) -> str | None:
    own = facts.strategy == OWN_TARGETS
    tier = _tier(facts)
    if a.kind == "cash_buffer":
        if own and 0 < len(a.pairs) <= LIST_MAX:
            asked = _names([f"{percent(w)} {s}" for s, w, _g in a.pairs])
            got = _names([f"{percent(g)} {s}" for s, _w, g in a.pairs])
            return _("You asked for %(asked)s; we keep %(buffer)s in cash, so %(got)s.") % {
                "asked": asked, "buffer": percent(a.limit or 0), "got": got}
        text = (_("You asked for %(wanted)s invested; we keep %(buffer)s in cash, so %(got)s is invested, "
                  "each holding scaled down in proportion.") if own else
                _("The strategy wanted %(wanted)s invested; we keep %(buffer)s in cash, so %(got)s is invested, "
                  "each holding scaled down in proportion."))
        return text % {"wanted": percent(a.wanted or 0), "buffer": percent(a.limit or 0), "got": percent(a.got or 0)}
    if a.kind == "position_cap":
        text = (_("Your %(tier)s tier caps any one holding at %(cap)s, so we hold %(got)s of %(symbol)s instead of "
                  "the %(wanted)s you asked for.") if own else
                _("Your %(tier)s tier caps any one holding at %(cap)s, so we hold %(got)s of %(symbol)s instead of "
                  "the %(wanted)s the strategy wanted."))
        return text % {"tier": tier, "cap": percent(a.limit or 0), "got": percent(a.got or 0),
                       "symbol": a.symbols[0], "wanted": percent(a.wanted or 0)}
    if a.kind in ("sleeve_lowered", "sleeve_raised"):
        values = {"tier": tier, "sleeve": _sleeve(a.sleeve), "limit": percent(a.limit or 0),
                  "got": percent(a.got or 0), "wanted": percent(a.wanted or 0), "wish": _wish(facts),
                  "years": f"{facts.horizon_years:g}"}
        if a.limit is None:  # moved only to take up what another limit removed: that one is explained
            return None
        horizon = abs(facts.horizon_factor - 1.0) > 1e-9 and a.sleeve in ("equity", "alternatives")
        if a.kind == "sleeve_lowered":
            text = (_("Your %(tier)s tier and your %(years)s-year horizon allow at most %(limit)s in %(sleeve)s, "
                      "so we hold %(got)s instead of the %(wanted)s %(wish)s.") if horizon else
                    _("Your %(tier)s tier allows at most %(limit)s in %(sleeve)s, so we hold %(got)s instead of "
                      "the %(wanted)s %(wish)s."))
        else:
            text = _("Your %(tier)s tier keeps at least %(limit)s in %(sleeve)s, so we hold %(got)s instead of "
                     "the %(wanted)s %(wish)s.")
        return text % values
    if a.kind == "not_in_universe":
        return _("%(symbols)s is not among your portfolio's assets, so we left it out.") % {
            "symbols": _names(a.symbols)}
    if a.kind == "excluded":
        return _("You excluded %(symbols)s in your settings, so we left it out.") % {"symbols": _names(a.symbols)}
    if a.kind == "frozen":
        return _("The price of %(symbols)s is not reliable today, so we kept it as it is (%(weight)s of your "
                 "portfolio) and did not trade it.") % {"symbols": _names(a.symbols), "weight": percent(a.got or 0)}
    if a.kind == "max_holdings":
        count = int(a.limit or 0)
        return ngettext("You allow at most %(count)d holding, so we kept the largest one.",
                        "You allow at most %(count)d holdings, so we kept the largest ones.", count) % {"count": count}
    if a.kind == "relaxed_floor":
        return _("Your minimum of %(limit)s in %(sleeve)s cannot be reached with the assets available, so we "
                 "hold %(got)s.") % {"limit": percent(a.limit or 0), "sleeve": _sleeve(a.sleeve),
                                     "got": percent(a.got or 0)}
    if a.kind == "relaxed_ceiling":
        return _("Holdings we cannot trade today already exceed your maximum of %(limit)s in %(sleeve)s, so we "
                 "hold %(got)s.") % {"limit": percent(a.limit or 0), "sleeve": _sleeve(a.sleeve),
                                     "got": percent(a.got or 0)}
    return None


def _risky_cut(record: DecisionRecord) -> Decimal:
    """Money taken out of the risky assets by the overlay (strategic minus final targets)."""
    facts = record.facts
    if facts is None:
        return Decimal("0")
    risky = ("equity", "alternatives")
    before = sum(w for s, w in record.strategic_weights.items() if facts.sleeves.get(s) in risky)
    after = sum(w for s, w in record.target_weights.items() if facts.sleeves.get(s) in risky)
    return _money(max(0.0, before - after) * float(record.total_value))


def _overlay(record: DecisionRecord, currency: str) -> list[str]:
    overlay, facts = record.overlay, record.facts
    if overlay is None or facts is None:
        return []
    tier = _tier(facts)
    out = []
    if "derisk" in overlay.events:
        out.append(_("Your portfolio fell %(fall)s from its peak, more than the %(limit)s your %(tier)s tier "
                     "accepts: your drawdown rule moved %(cut)s of the risky part (%(amount)s) to cash until "
                     "markets recover.") % {
            "fall": percent(overlay.drawdown), "limit": percent(facts.max_drawdown), "tier": tier,
            "cut": percent(1.0 - facts.derisk_exposure), "amount": money(_risky_cut(record), currency)})
    elif "reenter" in overlay.events:
        out.append(_("Markets have recovered since your drawdown rule cut risk, so your risky assets go back to "
                     "their full share."))
    elif "var_cap" in overlay.events:
        out.append(_("On a bad day (one in twenty) this mix could lose more than the %(limit)s your %(tier)s tier "
                     "accepts, so we hold %(share)s of its risky assets.") % {
            "limit": percent(facts.max_var_95), "tier": tier, "share": percent(overlay.multiplier)})
    elif "exposure" in overlay.events:
        if overlay.multiplier >= 0.999:
            out.append(_("Markets have calmed, so we hold the risky assets at their full share again."))
        else:
            out.append(_("Markets are unusually volatile: the strategy's mix would swing about %(forecast)s a year, "
                         "above the %(target)s your %(tier)s tier aims for, so we hold %(share)s of its risky "
                         "assets (%(amount)s less).") % {
                "forecast": percent(overlay.forecast_volatility), "target": percent(overlay.target_volatility),
                "tier": tier, "share": percent(overlay.multiplier), "amount": money(_risky_cut(record), currency)})
    if facts.swept and sum(facts.swept.values()) > 0:
        amount = _money(sum(facts.swept.values()) * float(record.total_value))
        out.append(_("We put %(amount)s of cash you do not need into %(funds)s, a money-market fund, so it earns "
                     "interest.") % {"amount": money(amount, currency), "funds": _names(sorted(facts.swept))})
    return out


def _gate(facts: DecisionFacts | None, currency: str) -> list[str]:
    gate = facts.gate if facts is not None else None
    if gate is None or gate.passed:
        return []
    values = {"cost": money(gate.trading_cost + gate.tax_cost, currency), "benefit": money(gate.benefit, currency),
              "tax": money(gate.tax_cost, currency)}
    if gate.tax_cost > 0.005:
        return [_("Some holdings have drifted, but correcting them now would cost about %(cost)s (%(tax)s of it in "
                  "taxes) for a benefit worth about %(benefit)s, so we waited.") % values]
    return [_("Some holdings have drifted, but correcting them now would cost about %(cost)s for a benefit worth "
              "about %(benefit)s, so we waited.") % values]


def _after(record: DecisionRecord, currency: str) -> list[str]:
    out = []
    facts = record.facts
    if record.partial_step is not None and facts is not None and facts.max_turnover:
        out.append(_("Your turnover limit of %(limit)s lets us move only %(step)s of the way today.") % {
            "limit": percent(facts.max_turnover), "step": percent(record.partial_step)})
    if record.override_source == "kill_switch":
        out.append(_("Our operators moved every portfolio to a defensive mix for safety."))
    elif record.override_source == "pre_trade":
        out.append(_("The targets did not pass our risk checks, so we moved to a defensive mix for safety."))
    if record.harvested_loss > 0:
        out.append(_("We also sold holdings at a loss of %(amount)s and bought similar ones, which lowers your "
                     "taxes.") % {"amount": money(record.harvested_loss, currency)})
    if record.trades and record.var_before is not None and record.var_after is not None:
        total = float(record.total_value)
        if record.var_before * total < 0.005:
            out.append(_("On a bad day (one in twenty) your portfolio could now lose about %(after)s.") % {
                "after": money(record.var_after * total, currency)})
            return out
        out.append(_("On a bad day (one in twenty) your portfolio could now lose about %(after)s, against "
                     "%(before)s before.") % {"after": money(record.var_after * total, currency),
                                              "before": money(record.var_before * total, currency)})
    return out


def investor_sentences(record: DecisionRecord, *, currency: str, proposal: bool = False) -> list[str]:
    """The decision in plain sentences, in the active language (see the module docstring).

    ``currency``: the portfolio's ISO 4217 code; ``proposal``: the trades await the
    investor's approval (advise mode) rather than having been made.
    """
    sentences = _what_we_did(record, currency, proposal)
    if record.action == "skipped":
        return sentences
    sentences += _why(record, currency)
    if record.facts is not None and record.override_source is None:
        sentences += [s for a in record.facts.adjustments if (s := _adjustment(a, record.facts))]
    if record.override_source is None:
        sentences += _overlay(record, currency)
    sentences += _gate(record.facts, currency)
    sentences += _after(record, currency)
    return sentences


def investor_text(explanation: Mapping[str, Any] | None, *, currency: str, proposal: bool = False) -> str:
    """:func:`investor_sentences` of a stored explanation, as one paragraph ("" for none)."""
    if not explanation:
        return ""
    return " ".join(investor_sentences(record_from_dict(explanation), currency=currency, proposal=proposal))


def decision_text(decision: Any) -> str:
    """A stored ``portfolios.Decision`` in plain words (registered as the portfolios' renderer)."""
    text = investor_text(decision.explanation, currency=decision.portfolio.base_currency,
                         proposal=decision.mode == "advise" and decision.status == "proposed")
    return text or decision.summary
