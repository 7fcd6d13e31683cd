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
