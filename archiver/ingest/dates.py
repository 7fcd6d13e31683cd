"""When an activity happened: find date expressions in its text and pick one (pure).

Expressions are located with our own regular expressions over a month-name
table (English, Azerbaijani, Russian with their case forms), so that what is
matched is exactly what the report wrote (``date_text``). Two classes:

* *event* dates: a day (``On 16 June 2017``, ``July 28, 2018``, ``16 июня 2017 г.``,
  ``16.06.2017``), a day range (``07-10 May 2018``) or a month (``In May 2018``,
  ``в мае 2018``, ``In March and May``);
* *periods*: a month range (``during February – September, 2017``) or a year
  (``in 2017``). Used only when the activity names no event date.

Year ranges (``2016-2018``, ``2017-2020 years``) are never dates: in these reports
they name plans and strategies, not when something happened. ``for 2016``
(a reporting period) is not matched either.

The first event date in the text wins (a bullet that names several dates
describes its first event first). A day or month written without a year gets
one from its neighbours, see `infer_years`.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from typing import Sequence

from ..model import ActivityDate

_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
       "October", "November", "December"]
_EN_ABBR = ["Jan", "Feb", "Mar", "Apr", None, "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
# Azerbaijani (Latin): nominative, locative (-da/-də) and genitive (-ın/-in/-un/-ün) forms
_AZ = ["yanvar", "fevral", "mart", "aprel", "may", "iyun", "iyul", "avqust", "sentyabr", "oktyabr",
       "noyabr", "dekabr"]
_AZ_LOC = ["yanvarda", "fevralda", "martda", "apreldə", "mayda", "iyunda", "iyulda", "avqustda",
           "sentyabrda", "oktyabrda", "noyabrda", "dekabrda"]
_AZ_GEN = ["yanvarın", "fevralın", "martın", "aprelin", "mayın", "iyunun", "iyulun", "avqustun",
           "sentyabrın", "oktyabrın", "noyabrın", "dekabrın"]
# Russian: nominative, genitive (16 июня), prepositional (в июне)
_RU = [("январь", "января", "январе"), ("февраль", "февраля", "феврале"), ("март", "марта", "марте"),
       ("апрель", "апреля", "апреле"), ("май", "мая", "мае"), ("июнь", "июня", "июне"),
       ("июль", "июля", "июле"), ("август", "августа", "августе"), ("сентябрь", "сентября", "сентябре"),
       ("октябрь", "октября", "октябре"), ("ноябрь", "ноября", "ноябре"), ("декабрь", "декабря", "декабре")]


def _month_table() -> dict[str, int]:
    table: dict[str, int] = {}
    for i in range(12):
        n = i + 1
        # English month names only capitalised: lower-case "may" is a verb in English prose
        for name in (_EN[i], _EN[i].upper(), _EN_ABBR[i]):
            if name:
                table[name] = n
        for name in (_AZ[i], _AZ_LOC[i], _AZ_GEN[i], *_RU[i]):
            table[name] = n
            table[name[0].upper() + name[1:]] = n
    return table


MONTHS = _month_table()
# month-only words that are a date on their own without a preposition (Azerbaijani locative)
_SELF_STANDING = {w for w in MONTHS if w.lower() in _AZ_LOC}

_M = "(?:" + "|".join(sorted(map(re.escape, MONTHS), key=len, reverse=True)) + r")(?![\w])\.?"
_D = r"(?<![\d.])(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th|-?(?:ci|cı|cu|cü|da|də))?(?![\d])"
_Y = r"(?<!\d)(?:19[89]\d|20\d\d)(?!\d)"
_YSUF = r"(?:\s*-?\s*c[iıuü]\s+il(?:in|də|i)?|\s*г\.|\s*года|\s*году|\s*г(?![\w]))?"
_DASH = r"\s*[-–—]\s*"
_AND = r"\s*(?:,|\band\b|\bи\b|\bvə\b|&)\s*"
# a month without a day is a date only after one of these ("In May", "в мае", "during March")
_PREP = re.compile(r"(?:\b(?:[Ii]n|IN|[Dd]uring|[Ss]ince|[Bb]y|[Ee]arly|[Ll]ate|[Mm]id|[Вв]о?|[Сс])[\s-]+)$")

_PATTERNS = [
    # 07-10 May 2018 | 14 and 17 May 2018
    ("dayrange", rf"(?P<d1>{_D})(?P<sep>{_DASH}|{_AND})(?P<d2>{_D})\s+(?P<m>{_M}),?\s*(?:(?P<y>{_Y}){_YSUF})?"),
    # 16 June 2017 | 05 July, 2017 | 16 iyun 2017-ci il | 16 июня 2017 г. | 14 May
    ("dmy", rf"(?P<d>{_D})\s+(?P<m>{_M}),?\s*(?:(?P<y>{_Y}){_YSUF})?"),
    # July 28, 2018 | February 5, 2018 | May 14
    ("mdy", rf"(?P<m>{_M})\s+(?P<d>{_D})(?:,?\s*(?P<y>{_Y}){_YSUF})?"),
    # 2017-ci il 16 iyun | 2017-ci ilin 16 iyun
    ("ydm", rf"(?P<y>{_Y}){_YSUF}\s+(?P<d>{_D})\s+(?P<m>{_M})"),
    # 16.06.2017 | 2017-06-16
    ("dotted", rf"(?<![\d.])(?P<d>0?[1-9]|[12]\d|3[01])\.(?P<mn>0?[1-9]|1[0-2])\.(?P<y>{_Y}){_YSUF}"),
    ("iso", rf"(?<![\d-])(?P<y>{_Y})-(?P<mn>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01])(?![\d-])"),
    # February – September, 2017 (a period) | March and May [2018] | May 2018 | в мае 2018 года
    ("months", rf"(?P<m>{_M})(?:(?P<sep>{_DASH}|{_AND})(?P<m2>{_M}))*,?\s*(?:(?P<y>{_Y}){_YSUF})?"
               r"(?P<ay>\s*ay(?:lar)?[ıi]nda)?"),
    # 2017-ci ilin may ayında
    ("ym", rf"(?P<y>{_Y}){_YSUF}\s+(?P<m>{_M})"),
    # in 2017 | в 2017 году | 2017-ci ildə  (a year; never a range of years)
    ("year", rf"(?:\b(?:[Ii]n|[Dd]uring|[Вв])\s+(?P<y>{_Y})(?!{_DASH}\d)(?:\s*году|\s*г\.)?"
             rf"|(?P<y2>{_Y})(?!{_DASH}\d)\s*-?\s*c[iıuü]\s+ildə)"),
]
_ALTERNATIVES = "|".join(f"(?P<{name}>{pat.replace('(?P<', f'(?P<{name}_')})" for name, pat in _PATTERNS)
# every expression starts a word with a digit or a month's first letter: checking that first
# skips most positions cheaply (8x faster on long reports)
_FIRST = "".join(sorted({w[0] for w in MONTHS} | set("0123456789IiDdВв")))  # + the "year" prepositions
_FIND = re.compile(rf"(?<!\w)(?=[{re.escape(_FIRST)}])(?:{_ALTERNATIVES})")


@dataclass(frozen=True)
class Found:
    """One date expression; ``year`` is None when the text did not say."""

    kind: str  # event | period
    precision: str  # day | month | year
    text: str
    year: int | None
    month: int | None = None
    day: int | None = None
    end_month: int | None = None
    end_day: int | None = None
    end_year: int | None = None

    def resolve(self, year: int | None = None, inferred: bool = False) -> ActivityDate | None:
        """The ISO start/end for this expression, with ``year`` when it had none."""
        y = self.year if self.year is not None else year
        if y is None:
            return None
        try:
            if self.precision == "year":
                start, end = date(y, 1, 1), date(y, 12, 31)
            elif self.precision == "month":
                em, ey = self.end_month or self.month, self.end_year or y
                start = date(y, self.month, 1)
                end = date(ey, em, calendar.monthrange(ey, em)[1])
            else:
                start = date(y, self.month, self.day)
                end = date(self.end_year or y, self.end_month or self.month, self.end_day or self.day)
        except ValueError:  # 31 June, 29 February of a common year
            return None
        if end < start:
            end = start
        return ActivityDate(start, end, self.text, self.precision, inferred)


def _int(s: str | None) -> int | None:
    if not s:
        return None
    return int(re.match(r"\d+", s).group())


def _month(word: str) -> int:
    return MONTHS[word.rstrip(".")]


def find_dates(text: str) -> list[Found]:
    """Every date expression in ``text``, in order."""
    out = []
    for m in _FIND.finditer(text):
        name = m.lastgroup
        g = {k[len(name) + 1:]: v for k, v in m.groupdict().items() if k.startswith(name + "_")}
        written = text[m.start(name):m.end(name)].strip().rstrip(",")
        if written.endswith(".") and not written.endswith("г."):
            written = written[:-1]  # the sentence's full stop, not an abbreviation's
        g["prep"] = bool(_PREP.search(text[max(0, m.start(name) - 12):m.start(name)]))
        f = _build(name, g, written)
        if f is not None:
            out.append(f)
    return out


def _build(name: str, g: dict, written: str) -> Found | None:
    y = _int(g.get("y") or g.get("y2"))
    if name == "dayrange":
        mo = _month(g["m"])
        ranged = bool(re.fullmatch(_DASH, g["sep"]))
        return Found("event", "day", written, y, mo, _int(g["d1"]),
                     end_month=mo, end_day=_int(g["d2"]) if ranged else _int(g["d1"]))
    if name in ("dmy", "mdy", "ydm"):
        return Found("event", "day", written, y, _month(g["m"]), _int(g["d"]))
    if name in ("dotted", "iso"):
        return Found("event", "day", written, y, int(g["mn"]), int(g["d"]))
    if name == "ym":
        return Found("event", "month", written, y, _month(g["m"]))
    if name == "year":
        return Found("period", "year", written, y)
    # months: one month, a list of months, or a range of months
    words = re.findall(_M, written)
    first = _month(g["m"])
    if y is None and not g.get("prep") and not g.get("ay") and g["m"] not in _SELF_STANDING:
        return None  # a bare month word ("May") is not a date without "in", "в", "-da"
    if g.get("m2") and re.fullmatch(_DASH, g["sep"] or ""):
        last = _month(words[-1])
        return Found("period", "month", written, y, first, end_month=last)
    return Found("event", "month", written, y, first)


def choose(found: Sequence[Found]) -> Found | None:
    """The activity's date: its first event date, else its first period, else none."""
    for f in found:
        if f.kind == "event":
            return f
    return found[0] if found else None


def infer_years(chosen: Sequence[Found | None]) -> list[ActivityDate | None]:
    """Resolve each activity's chosen expression, filling in missing years from context.

    Rule: a date without a year takes the year of the nearest activities before
    and after it that state a year, when those two agree. At either end of the
    report (dated activities only on one side) the two nearest on that side must
    agree. Otherwise the year is ambiguous and the activity gets no date.
    """
    years = [f.year if f is not None else None for f in chosen]
    out: list[ActivityDate | None] = []
    for i, f in enumerate(chosen):
        if f is None:
            out.append(None)
        elif f.year is not None:
            out.append(f.resolve())
        else:
            before = [y for y in reversed(years[:i]) if y is not None][:2]
            after = [y for y in years[i + 1:] if y is not None][:2]
            if before and after:
                pick = before[0] if before[0] == after[0] else None
            else:
                side = before or after
                pick = side[0] if len(side) == 2 and side[0] == side[1] else None
            out.append(f.resolve(pick, inferred=True) if pick else None)
    return out


def activity_dates(texts: Sequence[str]) -> list[ActivityDate]:
    """Dates for a report's activities, in order (an empty ActivityDate when none)."""
    resolved = infer_years([choose(find_dates(t)) for t in texts])
    none = ActivityDate(None, None, None, None, False)
    return [d if d is not None else none for d in resolved]
