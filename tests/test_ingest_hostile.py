"""Hostile reports (issue 9): each refused with one line and exit 2, in bounded memory, nothing
stored; NULs stored as nothing on both databases. Files from tests/hostile_files.py."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archiver.db.tables import Activity, Extraction, Link, Report
from archiver.ingest import store
from tests import hostile_files as hostile
from tests.conftest import SAMPLE_REPORT, run_cli, write_config

REPO = Path(__file__).resolve().parents[1]
MEMORY_CAP = 1 << 30  # address space for the CLI process: the bomb alone would need 3 GiB


def _cli_capped(config: Path, *args: str) -> subprocess.CompletedProcess:
    """`archiver --config CONFIG ARGS` in a child process that cannot map more than MEMORY_CAP."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "archiver", "--config", str(config), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, preexec_fn=cap, timeout=120)


def _one_line(err: str) -> bool:
    return len([ln for ln in err.splitlines() if ln.strip()]) == 1 and "Traceback" not in err


def _reports(Session) -> int:
    with Session() as s:
        return s.scalar(select(func.count()).select_from(Report))


@pytest.mark.parametrize("name, make, needle", [
    ("bomb.docx", lambda: hostile.zip_bomb_docx(), "ingest.max_unzipped_bytes"),
    ("hidden-bomb.docx", lambda: hostile.zip_bomb_docx(lie=True), "corrupt DOCX"),
    ("pages.pdf", lambda: hostile.many_pages_pdf(200_000), "ingest.max_pdf_pages"),
    ("pages-lying-count.pdf", lambda: hostile.many_pages_pdf(200_000, count=1), "ingest.max_pdf_pages"),
    ("one-page-200k-times.pdf", lambda: hostile.many_pages_pdf(200_000, shared=True), "ingest.max_pdf_pages"),
])
def test_hostile_file_is_refused_in_bounded_memory(tmp_path, config_file, Session, name, make, needle):
    path = tmp_path / name
    path.write_bytes(make())
    assert run_cli(["init"], config_file).code == 0
    r = _cli_capped(config_file, "ingest", str(path))
    assert r.returncode == 2, r.stderr
    assert _one_line(r.stderr) and needle in r.stderr and name in r.stderr, r.stderr
    assert _reports(Session) == 0


def test_the_same_bombs_are_caught_by_the_limits_not_by_luck(tmp_path):
    """A smaller bomb is refused by the declared size; one that lies about its size fails its CRC,
    never after more than the declared bytes (zipfile stops there)."""
    from archiver.errors import InputError
    from archiver.ingest import Limits, parse_report

    limits = Limits(max_report_bytes=10**8, max_unzipped_bytes=50 << 20, max_pdf_pages=100, max_activities=10,
                    max_links=10)
    with pytest.raises(InputError, match="max_unzipped_bytes"):
        parse_report(hostile.zip_bomb_docx(60 << 20), "b.docx", limits)
    with pytest.raises(InputError, match="max_pdf_pages"):
        parse_report(hostile.many_pages_pdf(101), "p.pdf", limits)


@pytest.mark.parametrize("section, data, needle", [
    ({"max_links": 10}, hostile.many_links_txt(11), "11 links, more than ingest.max_links (10)"),
    ({"max_activities": 10}, hostile.many_links_txt(11), "11 activities, more than ingest.max_activities (10)"),
    ({"max_report_bytes": 1000}, hostile.many_links_txt(50), "larger than ingest.max_report_bytes (1000)"),
    ({"max_activities": 10, "max_links": 10}, hostile.many_paragraphs_txt(100_000), "paragraphs, too many"),
])
def test_report_over_a_limit_is_one_line_exit_2_and_nothing_stored(tmp_path, db_url, section, data, needle):
    config = write_config(tmp_path, db_url, name="limits.yaml", ingest=section)
    path = tmp_path / "big.txt"
    path.write_bytes(data)
    assert run_cli(["init"], config).code == 0
    r = run_cli(["ingest", str(path)], config)
    assert r.code == 2 and _one_line(r.err) and needle in r.err, r.err
    r = run_cli(["reports", "--json"], config)
    assert r.code == 0 and r.json()["reports"] == [], r.out


def test_a_zip_of_many_files_is_refused_before_its_directory_is_read(cli, tmp_path):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("word/document.xml", "<x/>")
        for i in range(10_001):
            z.writestr(f"f{i}", "")
    path = tmp_path / "many.docx"
    path.write_bytes(buf.getvalue())
    r = cli("ingest", path)
    assert r.code == 2 and _one_line(r.err) and "10002 files" in r.err, r.err


def test_nul_bytes_are_stored_as_nothing(cli, tmp_path, Session):
    """PostgreSQL refuses NUL in text: before, a psycopg traceback. Both databases store the same."""
    path = tmp_path / "nul.txt"
    path.write_bytes(hostile.nul_report())
    r = cli("ingest", path, "--json")
    assert r.code == 0, r.err
    assert r.json()["reports"][0]["links"] == 2
    with Session() as s:
        texts = s.scalars(select(Activity.text).order_by(Activity.ordinal)).all()
        links = s.execute(select(Link.url_raw, Link.text_raw, Link.url_normalized).order_by(Link.id)).all()
    assert texts[0].startswith("On 1 May 2018 the roundtable met deputies")
    assert [tuple(l) for l in links] == [
        ("https://goo.gl/nulone", "https://goo.gl/nulone", "https://goo.gl/nulone"),
        ("https://example.org/minutes", "https://example.org/minutes", "https://example.org/minutes")]
    assert not any("\x00" in t for t in texts)


def test_extracted_text_with_nul_is_stored_on_both_databases(Session, settings):
    from archiver.extract import extract_capture
    from tests.stores import Records
    from tests.test_extract_capture import add_capture

    with Records(settings, Session) as warc:
        ref = warc.response("http://nul.example/page.txt", b"before\x00after and a title\x00",
                            headers=[("Content-Type", "text/plain; charset=utf-8")])
    with Session() as session:
        cap = add_capture(session, ref, "text/plain")
        row = extract_capture(session, cap, settings.extract, settings.storage.root)
        session.commit()
        assert row.error is None
    with Session() as session:
        assert session.scalar(select(Extraction.text)) == "beforeafter and a title"


def test_store_in_batches_gives_the_same_rows(Session, settings, monkeypatch):
    from archiver.ingest import ingest_source

    monkeypatch.setattr(store, "BATCH", 3)
    r = ingest_source(Session, str(SAMPLE_REPORT), settings)
    assert (r.activities, r.links) == (19, 20)
    with Session() as s:
        ordinals = s.scalars(select(Activity.ordinal).order_by(Activity.id)).all()
        per_act = s.execute(select(Activity.ordinal, func.count(Link.id)).join(Link).group_by(Activity.ordinal)
                            .order_by(Activity.ordinal)).all()
    assert ordinals == list(range(1, 20))
    assert sum(n for _, n in per_act) == 20
