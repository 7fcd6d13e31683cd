"""KnownUrls: the filter that spares a first capture its revisit query must never hide an earlier one."""
from __future__ import annotations

import hashlib

from hypothesis import given, settings as hsettings, strategies as st

from archiver.capture.known_urls import KnownUrls


def h(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


@hsettings(max_examples=60, deadline=None)
@given(loaded=st.sets(st.text(max_size=12), max_size=40), added=st.sets(st.text(max_size=12), max_size=20),
       others=st.sets(st.text(max_size=12), max_size=20))
def test_no_url_captured_before_is_ever_called_new(loaded, added, others):
    known = KnownUrls(lambda: [h(u) for u in loaded], lambda: len(loaded), after=1)
    known.may_have(h("warm-up"))  # (after=1: the first look-up loads the prefixes)
    for u in added:
        known.add(h(u))
    for u in loaded | added:
        assert known.may_have(h(u))
    # (others may collide on 64 bits only by astronomically small chance: they are new)
    assert all(not known.may_have(h(u)) for u in others - loaded - added)


def test_nothing_is_loaded_before_enough_look_ups_and_a_huge_database_is_never_loaded():
    loads, counts = [], []
    # a database past ``small``: loaded only once the pass has asked ``after`` times, counted once
    known = KnownUrls(lambda: loads.append(1) or [h("a")], lambda: counts.append(1) or 50, after=3, small=49)
    assert known.may_have(h("x")) and known.may_have(h("y")) and not loads  # small pass: plain queries
    assert known.may_have(h("z")) is False and loads == [1] and counts == [1]
    huge = KnownUrls(lambda: loads.append(2) or [], lambda: 10, after=1, max_loaded=5)
    assert huge.may_have(h("x")) and huge.may_have(h("y")) and 2 not in loads


def test_a_small_database_is_loaded_at_the_first_look_up():
    loads = []
    known = KnownUrls(lambda: loads.append(1) or [h("a")], lambda: 50, after=200, small=50)
    assert known.may_have(h("x")) is False and loads == [1]  # the first look-up asks nothing
    assert known.may_have(h("a"))
    empty = KnownUrls(lambda: [], lambda: 0)  # a new store, the shipped thresholds: no query at all
    assert empty.may_have(h("x")) is False


def test_past_its_bound_the_filter_stands_aside():
    known = KnownUrls(lambda: [], lambda: 0, after=1, max_added=3)
    assert known.may_have(h("first")) is False
    for i in range(4):
        known.add(h(str(i)))
    assert known.may_have(h("never seen"))  # off: every look-up asks the database


def test_the_pass_revisit_lookup_finds_an_earlier_capture_through_the_filter(tmp_path, settings, Session):
    """Through the real look-up over Capture rows, with the filter loaded from the first call on."""
    import archiver.capture.known_urls as ku
    from archiver.capture.recorder import db_revisit_lookup
    from tests.stores import Records, capture_row

    with Records(settings, Session) as recs:
        ref = recs.response("http://127.0.0.1:9/page", b"<html>same payload</html>")
        with Session() as s:
            s.add(capture_row(ref))
            s.commit()
    real = ku.KnownUrls.__init__

    def eager(self, load, count, **kw):
        real(self, load, count, **{**kw, "after": 1})

    ku.KnownUrls.__init__ = eager
    try:
        lookup = db_revisit_lookup(Session)
        assert lookup("http://127.0.0.1:9/other", ref.sha256) is None
        hit = lookup("http://127.0.0.1:9/page", ref.sha256)
        assert hit is not None and hit.record_id == ref.record_id
    finally:
        ku.KnownUrls.__init__ = real

