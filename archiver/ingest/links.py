"""Find cited URLs in text, strip what is not part of them, and normalise them (pure).

A URL is found in angle brackets (``<https://goo.gl/x>``), in a markdown link
(``[label](https://...)``) or bare (``https://...``, ``www.example.org``).
A link's ``text_raw`` is what the report showed for it: the token around a
written URL, the label of a markdown link or of a format's hyperlink.
Trailing punctuation is not part of a URL (``.,;:!?)]}>"'`` and typographic
quotes) unless a closing bracket balances an opening one inside the URL
(``https://en.wikipedia.org/wiki/Baku_(city)`` keeps its ``)``).

The same URL written twice in one activity gives two links (one per position):
a link is an *occurrence* as written, and the auditor must find each one; both
point at the same Target, so the work is done once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence
from urllib.parse import quote, urlsplit, urlunsplit

from ..model import CitedLink

_URL_CHARS = r"[^\s<>\"“”‘’«»\[\]{}|\\^`]"
_MD = r"\[(?P<md_label>[^\]\n]*)\]\(\s*<?(?P<md>(?:https?://|www\.)[^\s<>]*?)>?\s*(?:\"[^\"]*\")?\)"
_ANGLE = r"<(?P<angle>(?:https?://|www\.)[^\s<>]+)>"
_BARE = rf"(?P<bare>(?:(?<![\w@.])https?://|(?<![\w@./:])www\.){_URL_CHARS}*)"
# the lookahead names the first character each form can start with: the regex engine then skips other
# positions in C (3x faster over an activity's text) and matches exactly what the forms alone match
_FIND = re.compile(rf"(?=[\[<hw])(?:{_MD}|{_ANGLE}|{_BARE})", re.IGNORECASE)

_TRAILING = ".,;:!?)]}>\"'”’»“‘…"
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_DEFAULT_PORTS = {"http": 80, "https": 443}
# characters left as they are when the path/query are percent-encoded (RFC 3986 reserved + unreserved + %)
_SAFE = "/:@!$&'()*+,;=-._~%?#[]"


@dataclass(frozen=True)
class Found:
    """One URL occurrence in a text: what was written and where."""

    url_raw: str
    url_normalized: str
    text_raw: str
    start: int
    end: int
    label: str | None = None  # a markdown link's label
    token: tuple[int, int] = (0, 0)  # where the whole written link lies in the text (a markdown label included)


def strip_trailing(url: str) -> str:
    """Drop trailing punctuation that belongs to the sentence, keeping balanced brackets."""
    while url and url[-1] in _TRAILING:
        ch = url[-1]
        opener = _CLOSERS.get(ch)
        if opener and url.count(opener) >= url.count(ch):
            break
        url = url[:-1]
    return url


def normalize(url: str) -> str:
    """Scheme and host lower-case, default port and fragment dropped, path case kept.

    Path case matters: goo.gl codes are case-sensitive. Non-ASCII characters are
    percent-encoded (UTF-8) so that a URL written with Cyrillic letters and its
    encoded form are one target.
    """
    if url.lower().startswith("www."):
        url = "http://" + url
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host.lower()
    except UnicodeError:
        host = host.lower()
    netloc = host
    if ":" in host:  # IPv6 literal
        netloc = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    if parts.username is not None:
        auth = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{auth}@{netloc}"
    path = quote(parts.path or "/", safe=_SAFE)
    query = quote(parts.query, safe=_SAFE)
    return urlunsplit((scheme, netloc, path, query, ""))


def host_key(normalized: str) -> str:
    """``host`` or ``host:port`` of a normalized URL, as `resolver.shorteners` lists them."""
    return urlsplit(normalized).netloc.rsplit("@", 1)[-1].lower()


def is_short(normalized: str, shorteners: Iterable[str]) -> bool:
    key = host_key(normalized)
    hosts = set(shorteners)
    return key in hosts or key.split(":", 1)[0] in hosts


def _token_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def find(text: str) -> list[Found]:
    """Every URL occurrence in ``text``, in order."""
    low = text.lower()
    if "http" not in low and "www." not in low:
        return []  # every form _FIND knows holds one of them: most of a report's text is skipped at C speed
    out: list[Found] = []
    for m in _FIND.finditer(text):
        group = "md" if m.group("md") is not None else "angle" if m.group("angle") is not None else "bare"
        raw = m.group(group)
        start, end = m.start(group), m.end(group)
        if group == "bare":
            raw = strip_trailing(raw)
            end = start + len(raw)
        else:
            raw = raw.strip()
        if not _has_host(raw):
            continue
        ts, te = _token_span(text, m.start(), m.end() if group != "bare" else end)
        shown = label(m.group("md_label")) if group == "md" else None
        out.append(Found(raw, normalize(raw), text[ts:te], start, end, shown, (ts, te)))
    return out


def _has_host(raw: str) -> bool:
    try:
        parts = urlsplit(raw if "://" in raw else "http://" + raw)
        return bool(parts.hostname) and "." in parts.hostname or parts.hostname == "localhost"
    except ValueError:
        return False


_LEFTOVER = re.compile(r"[\s\-–—•*·●▪◦>()\[\]<.,;:]+")
_TEXT_LABEL_WORDS = 6
_TEXT_LABEL_END = re.compile(r"(?:[:–—]|\s-)\s*$")  # "Minutes of the hearing: https://…"


def _squash(text: str) -> str:
    return " ".join(_LEFTOVER.sub(" ", text).split())


def link_only(text: str, labels: Sequence[str | None] = ()) -> str | None:
    """Does ``text`` hold nothing but links?

    ``"urls"``: only URLs (and bullet marks, brackets, punctuation). ``"labelled"``:
    only links and the words that name them: a markdown link's label, the ``labels``
    a format's hyperlinks showed (HTML, DOCX, PDF), or a plain-text label of a few
    words before the first URL, ending in ``:`` or followed by ``(URL)`` / ``<URL>``.
    None: the text says something else too.
    """
    found = find(text)
    rest, pos, labelled = [], 0, False
    for f in found:
        rest.append(text[pos:f.token[0]])
        pos = f.token[1]
        labelled = labelled or bool(f.label and normalize(f.label) != f.url_normalized)
    rest.append(text[pos:])
    left = _squash(" ".join(rest))
    for shown in (_squash(x) for x in labels if x):
        if shown and f" {shown} " in f" {left} ":
            left, labelled = _squash(f" {left} ".replace(f" {shown} ", " ", 1)), True
    if not left:
        return ("labelled" if labelled else "urls") if (found or labelled) else None
    before = rest[0].strip()
    if found and _squash(before) == left and len(before.split()) <= _TEXT_LABEL_WORDS \
            and not re.search(r"[.!?]", before) \
            and (_TEXT_LABEL_END.search(before) or text[found[0].token[0]] in "(<"):
        return "labelled"
    return None


def is_link_only(text: str) -> bool:
    """True when ``text`` holds nothing but URLs (and bullet marks, brackets, punctuation)."""
    low = text.lower()
    if "http" not in low and "www." not in low:  # no URL (as find's own check): a PDF asks this of every line
        return False
    return link_only(text) == "urls"


def label(text: str | None) -> str | None:
    """A hyperlink's visible label, whitespace collapsed; None when it shows nothing."""
    return (" ".join(text.split()) or None) if text else None


def cited_links(text: str, attached: Sequence[str] = (), labels: Sequence[str | None] = ()) -> list[CitedLink]:
    """Links of one activity: URLs written in ``text`` merged with ``attached`` ones.

    ``attached`` are hyperlink targets the document format carries (PDF link
    annotations, DOCX relationships, HTML anchors). An attached URL whose
    normalized form is also written in the text is that same occurrence, not a
    second link; attached URLs not visible in the text are kept in their order
    among the written ones, with ``labels[k]`` (parallel to ``attached``, the text
    the document showed for the link) as their ``text_raw``.
    """
    written = find(text)
    out: list[CitedLink] = []
    i = 0
    for n, href in enumerate(attached):
        href = href.strip()
        if not _has_host(href):
            continue
        norm = normalize(href)
        j = next((k for k in range(i, len(written)) if written[k].url_normalized == norm), None)
        if j is None:
            out.append(CitedLink(url_raw=href, url_normalized=norm,
                                 text_raw=label(labels[n]) if n < len(labels) else None))
            continue
        out.extend(_cited(w) for w in written[i:j + 1])
        i = j + 1
    out.extend(_cited(w) for w in written[i:])
    return out


def _cited(f: Found) -> CitedLink:
    return CitedLink(url_raw=f.url_raw, url_normalized=f.url_normalized, text_raw=f.label or f.text_raw)


# ---- URLs wrapped across lines (PDFs) --------------------------------------------------

_TAIL = re.compile(r"(<?)((?:https?://|www\.)\S*)$", re.IGNORECASE)
_BREAK_CHARS = "/-_?=&%#~+"
_ENDING = re.compile(r"^(?:pdf|html?|php|aspx?|jsp|docx?|xlsx?|pptx?|jpe?g|png|gif|txt|zip|org|com|net|gov|edu|int|info|az|ru|ge|am|ua|kz|uk|eu)(?:[/?#]\S*)?$", re.I)


def joins_url(prev_line: str, next_line: str, known: Iterable[str] = (), heuristic: bool = True) -> bool:
    """Whether ``next_line`` continues a URL that ``prev_line`` ends with (no space between).

    Exact when the document tells us the whole URL (``known``: link annotations):
    the join must be a prefix of one. Otherwise a heuristic: an unclosed ``<``, a
    URL cut after a separator (``/``, ``-``, ``=``...), or a next token that looks
    like URL material (digits, ``/``, mixed case as in goo.gl codes). ``heuristic=False``
    allows only the exact case (the next line looks like a bullet of its own).
    """
    last = prev_line.rstrip("\n").rpartition(" ")[2]
    if "://" not in last and "www." not in last.lower():  # _TAIL needs one in the last token: most lines
        return False                                      # are skipped before the regex runs
    m = _TAIL.search(prev_line.rstrip("\n"))
    nxt = next_line.lstrip()
    if not m or not nxt or prev_line.endswith((" ", "\t")):
        return False
    token = nxt.split(None, 1)[0]
    tail = m.group(2)
    if (m.group(1) == "<" and ">" in tail) or re.match(r"<?(?:https?://|www\.)", token, re.IGNORECASE):
        return False  # a closed <URL>, or the next line starts a URL of its own
    tail_url = strip_trailing(tail)
    for k in (k for k in known if k):
        if k == tail_url:
            return False  # the line ends with a whole URL
        cand = strip_trailing(tail + token).rstrip(">")
        if k.startswith(tail_url) and (k.startswith(cand) or cand.startswith(k)):
            return True
    if not heuristic:
        return False
    if m.group(1) == "<" and ">" not in tail:
        return True
    core = strip_trailing(token)
    if not core:
        return False
    if tail[-1] in _TRAILING:  # the URL seems closed by punctuation: only a file or domain ending goes on
        return tail[-1] == "." and bool(_ENDING.match(core))
    if tail.endswith(("://", "/")) or tail[-1] in _BREAK_CHARS:
        return any(c.isdigit() or c in "/?=&%#_." for c in core) or core.islower() and tail.endswith("/")
    return (any(c.isdigit() or c in "/?=&%#_" for c in core)
            or (any(c.isupper() for c in core[1:]) and any(c.islower() for c in core)))


def join_lines(lines: Sequence[str], known: Iterable[str] = ()) -> str:
    """Join wrapped lines of one paragraph with spaces, rejoining URLs broken across them."""
    known = list(known)
    out = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if not out:
            out = line
        elif joins_url(out, line, known):
            out += line
        elif out.endswith("-") and len(out) > 1 and out[-2].isalpha() and line[:1].islower():
            out += line  # a word hyphenated at the line end: keep the hyphen, drop the space
        else:
            out += " " + line
    return out
