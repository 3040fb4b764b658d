"""The German catalogue of the investor's texts: fills locale/de/LC_MESSAGES/django.po from
the template ``makemessages`` writes (``make messages``), keeping the template's order.

Run after ``makemessages``; a msgid without a German text here stays untranslated (shown
in English) and is printed, so a new sentence is never silently lost.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POT = ROOT / "locale" / "django.pot"
PO = ROOT / "locale" / "de" / "LC_MESSAGES" / "django.po"

DE = {
    "%(name)s: your broker's account needs a check": "%(name)s: Ihr Depot beim Broker muss geprüft werden",
    "Your broker's records and ours differ, so we have paused automatic trading for this portfolio until our team has checked them.":
        "Die Aufzeichnungen Ihres Brokers und unsere weichen voneinander ab. Deshalb haben wir den automatischen "
        "Handel für dieses Portfolio angehalten, bis unser Team sie geprüft hat.",
    "Holdings that differ: %(symbols)s.": "Abweichende Positionen: %(symbols)s.",
    "Cash differs by %(amount)s %(currency)s.": "Das Guthaben weicht um %(amount)s %(currency)s ab.",
    "Your money stays with your broker; nothing is traded in the meantime.":
        "Ihr Geld bleibt bei Ihrem Broker; bis dahin wird nichts gehandelt.",
    "%(name)s moved to a defensive allocation": "%(name)s wurde defensiv ausgerichtet",
    "%(name)s was rebalanced": "%(name)s wurde neu gewichtet",
    "A rebalance of %(name)s awaits your approval": "Eine Neugewichtung von %(name)s wartet auf Ihre Zustimmung",
    "%(shown)s and %(count)d more": "%(shown)s und %(count)d weitere",
    "%(first)s and %(last)s": "%(first)s und %(last)s",
    "shares": "Aktien",
    "bonds": "Anleihen",
    "alternative assets": "alternative Anlagen",
    "cash": "Bargeld",
    "investments": "Anlagen",
    "money-market funds": "Geldmarktfonds",
    "conservative": "konservatives",
    "moderate": "gemäßigtes",
    "balanced": "ausgewogenes",
    "growth": "wachstumsorientiertes",
    "aggressive": "offensives",
    "Our operators have paused automatic trading, so nothing was traded today.":
        "Unser Betriebsteam hat den automatischen Handel angehalten, daher wurde heute nichts gehandelt.",
    "Prices of your holdings are missing or unreliable today, so we did not trade.":
        "Kurse Ihrer Anlagen fehlen heute oder sind unzuverlässig, daher haben wir nicht gehandelt.",
    "Your strategy could not propose targets today, so we did not trade.":
        "Ihre Strategie konnte heute keine Zielgewichte vorschlagen, daher haben wir nicht gehandelt.",
    "Your limits cannot all be met with the assets available, so we did not trade.":
        "Mit den verfügbaren Anlagen lassen sich nicht alle Ihre Grenzen einhalten, daher haben wir nicht gehandelt.",
    "We could not work out the trades today, so we did not trade.":
        "Wir konnten die Aufträge heute nicht berechnen, daher haben wir nicht gehandelt.",
    "We did not trade today.": "Wir haben heute nicht gehandelt.",
    "No change was needed today.": "Heute war keine Änderung nötig.",
    "We checked your portfolio and left it as it is.": "Wir haben Ihr Depot geprüft und es so gelassen, wie es ist.",
    "We propose to sell %(sells)s and buy %(buys)s, %(total)s in all, for about %(cost)s in costs; nothing happens "
    "until you approve.":
        "Wir schlagen vor, %(sells)s zu verkaufen und %(buys)s zu kaufen, insgesamt %(total)s, bei Kosten von etwa "
        "%(cost)s; ohne Ihre Zustimmung geschieht nichts.",
    "We propose to sell %(sells)s, %(total)s in all, for about %(cost)s in costs; nothing happens until you approve.":
        "Wir schlagen vor, %(sells)s zu verkaufen, insgesamt %(total)s, bei Kosten von etwa %(cost)s; ohne Ihre "
        "Zustimmung geschieht nichts.",
    "We propose to buy %(buys)s, %(total)s in all, for about %(cost)s in costs; nothing happens until you approve.":
        "Wir schlagen vor, %(buys)s zu kaufen, insgesamt %(total)s, bei Kosten von etwa %(cost)s; ohne Ihre "
        "Zustimmung geschieht nichts.",
    "We sold %(sells)s and bought %(buys)s, %(total)s in all, for about %(cost)s in costs.":
        "Wir haben %(sells)s verkauft und %(buys)s gekauft, insgesamt %(total)s, bei Kosten von etwa %(cost)s.",
    "We sold %(sells)s, %(total)s in all, for about %(cost)s in costs.":
        "Wir haben %(sells)s verkauft, insgesamt %(total)s, bei Kosten von etwa %(cost)s.",
    "We bought %(buys)s, %(total)s in all, for about %(cost)s in costs.":
        "Wir haben %(buys)s gekauft, insgesamt %(total)s, bei Kosten von etwa %(cost)s.",
    "%(symbol)s had drifted to %(current)s of your portfolio against its %(target)s target.":
        "%(symbol)s machte %(current)s Ihres Depots aus, bei einem Ziel von %(target)s.",
    "%(amount)s of cash was waiting to be invested.": "%(amount)s Bargeld warteten darauf, angelegt zu werden.",
    "It was time for your quarterly review.": "Ihre vierteljährliche Überprüfung stand an.",
    "It was time for your monthly review.": "Ihre monatliche Überprüfung stand an.",
    "We reviewed your strategy's targets.": "Wir haben die Zielgewichte Ihrer Strategie überprüft.",
    "The market has entered a new phase, and your strategy follows it.":
        "Der Markt ist in eine neue Phase eingetreten, und Ihre Strategie folgt ihr.",
    "A review was requested.": "Eine Überprüfung wurde angefordert.",
    "you asked for": "wollten Sie",
    "the strategy wanted": "wollte die Strategie",
    "You asked for %(asked)s; we keep %(buffer)s in cash, so %(got)s.":
        "Sie wollten %(asked)s; wir halten %(buffer)s als Bargeld, also %(got)s.",
    "You asked for %(wanted)s invested; we keep %(buffer)s in cash, so %(got)s is invested, each holding scaled "
    "down in proportion.":
        "Sie wollten %(wanted)s anlegen; wir halten %(buffer)s als Bargeld, also sind %(got)s angelegt, jede "
        "Position anteilig verringert.",
    "The strategy wanted %(wanted)s invested; we keep %(buffer)s in cash, so %(got)s is invested, each holding "
    "scaled down in proportion.":
        "Die Strategie wollte %(wanted)s anlegen; wir halten %(buffer)s als Bargeld, also sind %(got)s angelegt, "
        "jede Position anteilig verringert.",
    "Your %(tier)s tier caps any one holding at %(cap)s, so we hold %(got)s of %(symbol)s instead of the "
    "%(wanted)s you asked for.":
        "Ihr %(tier)s Risikoprofil begrenzt jede einzelne Position auf %(cap)s, also halten wir %(got)s %(symbol)s "
        "statt der von Ihnen gewünschten %(wanted)s.",
    "Your %(tier)s tier caps any one holding at %(cap)s, so we hold %(got)s of %(symbol)s instead of the "
    "%(wanted)s the strategy wanted.":
        "Ihr %(tier)s Risikoprofil begrenzt jede einzelne Position auf %(cap)s, also halten wir %(got)s %(symbol)s "
        "statt der von der Strategie gewünschten %(wanted)s.",
    "Your %(tier)s tier and your %(years)s-year horizon allow at most %(limit)s in %(sleeve)s, so we hold "
    "%(got)s instead of the %(wanted)s %(wish)s.":
        "Ihr %(tier)s Risikoprofil und Ihr Anlagehorizont von %(years)s Jahren erlauben höchstens %(limit)s in "
        "%(sleeve)s, also halten wir %(got)s; %(wanted)s %(wish)s.",
    "Your %(tier)s tier allows at most %(limit)s in %(sleeve)s, so we hold %(got)s instead of the %(wanted)s "
    "%(wish)s.":
        "Ihr %(tier)s Risikoprofil erlaubt höchstens %(limit)s in %(sleeve)s, also halten wir %(got)s; "
        "%(wanted)s %(wish)s.",
    "Your %(tier)s tier keeps at least %(limit)s in %(sleeve)s, so we hold %(got)s instead of the %(wanted)s "
    "%(wish)s.":
        "Ihr %(tier)s Risikoprofil hält mindestens %(limit)s in %(sleeve)s, also halten wir %(got)s; "
        "%(wanted)s %(wish)s.",
    "%(symbols)s is not among your portfolio's assets, so we left it out.":
        "%(symbols)s gehört nicht zu den Anlagen Ihres Depots, daher haben wir es weggelassen.",
    "You excluded %(symbols)s in your settings, so we left it out.":
        "Sie haben %(symbols)s in Ihren Einstellungen ausgeschlossen, daher haben wir es weggelassen.",
    "The price of %(symbols)s is not reliable today, so we kept it as it is (%(weight)s of your portfolio) and did "
    "not trade it.":
        "Der Kurs von %(symbols)s ist heute unzuverlässig, daher haben wir die Position unverändert gelassen "
        "(%(weight)s Ihres Depots) und nicht gehandelt.",
    ("You allow at most %(count)d holding, so we kept the largest one.",
     "You allow at most %(count)d holdings, so we kept the largest ones."): (
        "Sie erlauben höchstens %(count)d Position, daher haben wir die größte behalten.",
        "Sie erlauben höchstens %(count)d Positionen, daher haben wir die größten behalten."),
    "Your minimum of %(limit)s in %(sleeve)s cannot be reached with the assets available, so we hold %(got)s.":
        "Ihr Minimum von %(limit)s in %(sleeve)s ist mit den verfügbaren Anlagen nicht erreichbar, also halten wir "
        "%(got)s.",
    "Holdings we cannot trade today already exceed your maximum of %(limit)s in %(sleeve)s, so we hold %(got)s.":
        "Positionen, die wir heute nicht handeln können, überschreiten bereits Ihr Maximum von %(limit)s in "
        "%(sleeve)s, also halten wir %(got)s.",
    "Your portfolio fell %(fall)s from its peak, more than the %(limit)s your %(tier)s tier accepts: your drawdown "
    "rule moved %(cut)s of the risky part (%(amount)s) to cash until markets recover.":
        "Ihr Depot ist %(fall)s unter seinen Höchststand gefallen, mehr als die %(limit)s, die Ihr %(tier)s "
        "Risikoprofil hinnimmt: Ihre Verlustregel hat %(cut)s des riskanten Teils (%(amount)s) in Bargeld "
        "umgeschichtet, bis sich die Märkte erholen.",
    "Markets have recovered since your drawdown rule cut risk, so your risky assets go back to their full share.":
        "Die Märkte haben sich erholt, seit Ihre Verlustregel das Risiko gesenkt hat; Ihre riskanten Anlagen kehren "
        "zu ihrem vollen Anteil zurück.",
    "On a bad day (one in twenty) this mix could lose more than the %(limit)s your %(tier)s tier accepts, so we "
    "hold %(share)s of its risky assets.":
        "An einem schlechten Tag (einem von zwanzig) könnte diese Mischung mehr als die %(limit)s verlieren, die Ihr "
        "%(tier)s Risikoprofil hinnimmt, daher halten wir %(share)s ihrer riskanten Anlagen.",
    "Markets have calmed, so we hold the risky assets at their full share again.":
        "Die Märkte haben sich beruhigt, daher halten wir die riskanten Anlagen wieder mit vollem Anteil.",
    "Markets are unusually volatile: the strategy's mix would swing about %(forecast)s a year, above the "
    "%(target)s your %(tier)s tier aims for, so we hold %(share)s of its risky assets (%(amount)s less).":
        "Die Märkte schwanken ungewöhnlich stark: Die Mischung der Strategie würde etwa %(forecast)s im Jahr "
        "schwanken, mehr als die %(target)s, die Ihr %(tier)s Risikoprofil anstrebt, daher halten wir %(share)s "
        "ihrer riskanten Anlagen (%(amount)s weniger).",
    "We put %(amount)s of cash you do not need into %(funds)s, a money-market fund, so it earns interest.":
        "Wir haben %(amount)s Bargeld, das Sie nicht brauchen, in %(funds)s angelegt, einen Geldmarktfonds, damit es "
        "Zinsen bringt.",
    "Some holdings have drifted, but correcting them now would cost about %(cost)s (%(tax)s of it in taxes) for a "
    "benefit worth about %(benefit)s, so we waited.":
        "Einige Positionen sind abgewichen, aber sie jetzt zu korrigieren, würde etwa %(cost)s kosten (davon %(tax)s "
        "Steuern) bei einem Nutzen von etwa %(benefit)s, daher haben wir gewartet.",
    "Some holdings have drifted, but correcting them now would cost about %(cost)s for a benefit worth about "
    "%(benefit)s, so we waited.":
        "Einige Positionen sind abgewichen, aber sie jetzt zu korrigieren, würde etwa %(cost)s kosten bei einem "
        "Nutzen von etwa %(benefit)s, daher haben wir gewartet.",
    "Your turnover limit of %(limit)s lets us move only %(step)s of the way today.":
        "Ihre Umschlagsgrenze von %(limit)s erlaubt uns heute nur %(step)s des Weges.",
    "Our operators moved every portfolio to a defensive mix for safety.":
        "Unser Betriebsteam hat zur Sicherheit alle Depots defensiv ausgerichtet.",
    "The targets did not pass our risk checks, so we moved to a defensive mix for safety.":
        "Die Zielgewichte haben unsere Risikoprüfungen nicht bestanden, daher haben wir das Depot zur Sicherheit "
        "defensiv ausgerichtet.",
    "We also sold holdings at a loss of %(amount)s and bought similar ones, which lowers your taxes.":
        "Außerdem haben wir Positionen mit %(amount)s Verlust verkauft und ähnliche gekauft, das senkt Ihre Steuern.",
    "On a bad day (one in twenty) your portfolio could now lose about %(after)s.":
        "An einem schlechten Tag (einem von zwanzig) könnte Ihr Depot jetzt etwa %(after)s verlieren.",
    "On a bad day (one in twenty) your portfolio could now lose about %(after)s, against %(before)s before.":
        "An einem schlechten Tag (einem von zwanzig) könnte Ihr Depot jetzt etwa %(after)s verlieren, "
        "gegenüber %(before)s vorher.",
}

HEADER = '''# German catalogue of the investor's texts (scripts/i18n_de.py writes it from locale/django.pot).
msgid ""
msgstr ""
"Project-Id-Version: rebalancer\\n"
"PO-Revision-Date: 2026-12-03 16:50+0000\\n"
"Last-Translator: rebalancer team\\n"
"Language-Team: German\\n"
"Language: de\\n"
"MIME-Version: 1.0\\n"
"Content-Type: text/plain; charset=UTF-8\\n"
"Content-Transfer-Encoding: 8bit\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"
'''


def _entries(text: str):
    """``(flags, msgid, msgid_plural)`` of each entry of a .pot file (the header skipped)."""
    entry: dict = {}
    key = None
    for line in text.splitlines() + [""]:
        if line.startswith("#,"):
            entry["flags"] = line
        elif line.startswith(("msgid ", "msgid_plural ", "msgstr")):
            key = line.split(" ", 1)[0]
            entry[key] = entry.get(key, "") + ast.literal_eval(line.split(" ", 1)[1])
        elif line.startswith('"') and key:
            entry[key] += ast.literal_eval(line)
        elif not line.strip():
            if entry.get("msgid"):
                yield entry.get("flags", ""), entry["msgid"], entry.get("msgid_plural")
            entry, key = {}, None


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main() -> int:
    out, missing = [HEADER], []
    for flags, msgid, plural in _entries(POT.read_text()):
        german = DE.get((msgid, plural) if plural else msgid)
        if german is None:
            missing.append(msgid)
        out.append("")
        if flags:
            out.append(flags)
        out.append(f"msgid {_q(msgid)}")
        if plural:
            out.append(f"msgid_plural {_q(plural)}")
            one, many = german or ("", "")
            out += [f"msgstr[0] {_q(one)}", f"msgstr[1] {_q(many)}"]
        else:
            out.append(f"msgstr {_q(german or '')}")
    PO.write_text("\n".join(out) + "\n")
    for msgid in missing:
        print(f"untranslated: {msgid}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
