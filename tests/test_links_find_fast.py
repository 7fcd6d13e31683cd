"""links.find's shortcuts (a text with neither "http" nor "www." is skipped; the regex starts with a
lookahead naming each form's first character) find exactly what the three URL forms alone find."""
from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.ingest import links

PLAIN = re.compile(rf"{links._MD}|{links._ANGLE}|{links._BARE}", re.IGNORECASE)  # the forms, nothing added

_PIECES = st.sampled_from([
    "http://", "https://", "HTTPS://", "HtTp://", "www.", "WWW.", "Www.", "example.org", "goo.gl/x", "/p?q=1",
    "[", "]", "(", ")", "<", ">", "label", " ", "\n", "@", ".", ":", "x", "é", "ſ", "K", "\"t\"", "[a](", "](",
    "see ", "(see ", "ogp.az"])


def _spans(pattern: re.Pattern, text: str):
    return [(m.start(), m.end(), m.lastgroup, m.groupdict()) for m in pattern.finditer(text)]


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=25).map("".join))
def test_the_fast_find_matches_what_the_forms_alone_match(text):
    assert _spans(links._FIND, text) == _spans(PLAIN, text)
    if "http" not in text.lower() and "www." not in text.lower():
        assert _spans(PLAIN, text) == [] and links.find(text) == []


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=25).map("".join))
def test_the_fast_link_only_checks_answer_as_the_full_ones(text):
    """is_link_only and joins_url skip most lines before their regexes run: never with a different answer."""
    assert links.is_link_only(text) == (links.link_only(text) == "urls")
    if links._TAIL.search(text.rstrip("\n")):  # joins_url's shortcut lets every such line through to the regex
        last = text.rstrip("\n").rpartition(" ")[2]
        assert "://" in last or "www." in last.lower()
    else:
        assert not any(links.joins_url(text, nxt) for nxt in ("x1/y", "Abc", "org/p", " next", ""))
