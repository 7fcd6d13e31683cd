"""Search ranks a capped candidate set (issue 10: ranking every match of a common word took 0.5 s over
100 k documents on PostgreSQL): fewer matches than the cap are ranked whole, more give the best of the cap."""
from __future__ import annotations

from archiver.db import search
from archiver.db.search import full_text_search
from tests.test_search import add_report


def test_fewer_matches_than_the_cap_are_ranked_whole(Session):
    with Session() as s, s.begin():
        acts = add_report(s, ["water " + "filler " * 40 + str(i) for i in range(8)]
                          + ["water water water fountain", "nothing here"])
    with Session() as s:
        hits = full_text_search(s, "water", 5)
    assert len(hits) == 5 and hits[0]["activity_id"] == acts[8].id  # the densest, though written last
    assert all("[water]" in h["snippet"] for h in hits)


def test_more_matches_than_the_cap_give_the_best_of_the_candidates(Session, monkeypatch):
    with Session() as s, s.begin():
        acts = add_report(s, ["water water water fountain"] + ["water " + "filler " * 40 + str(i) for i in range(12)])
    monkeypatch.setattr(search, "CANDIDATES", 4)
    with Session() as s:
        hits = full_text_search(s, "water", 20)
        rare = full_text_search(s, "fountain", 20)
    assert len(hits) == 4 and hits[0]["activity_id"] == acts[0].id  # only candidates (the first in storage order)
    assert len({h["activity_id"] for h in hits}) == 4 and {h["activity_id"] for h in hits} <= {a.id for a in acts}
    assert [h["activity_id"] for h in rare] == [acts[0].id]
