"""A big PDF's pages read by several processes (ingest.pdf_processes): the same blocks as one process,
whichever way the helpers are started (forked from a single-threaded command, or from a fork server
where the process runs threads, as the web UI does)."""
from __future__ import annotations

import dataclasses
import hashlib
import pickle
import subprocess
import sys
import threading

import pytest

from archiver.ingest import parse_report, pdf
from archiver.ingest.limits import UNLIMITED
from tests.data.make_reports import Item, make_pdf

MONTHS = ["January", "March", "May", "July", "September", "November"]


def _items(n: int) -> list[Item]:
    return [Item(f"On {1 + i % 27} {MONTHS[i % 6]} 2018 the Platform held meeting number {i} with "
                 "representatives of ministries and civil society on the open budget. " * 3,
                 [f"https://goo.gl/p{i:04d}", f"https://example.org/reports/{i}/minutes.pdf"],
                 split_url=(i % 5 == 0))
            for i in range(n)]


@pytest.fixture(scope="module")
def big_pdf(tmp_path_factory) -> bytes:
    data = make_pdf("Parallel report", "An introduction to the report. " * 4, _items(260))
    return data


def _read(data: bytes, processes: int):
    return pdf.read(data, "big.pdf", dataclasses.replace(UNLIMITED, pdf_processes=processes))


def _digest(blocks) -> str:
    return hashlib.sha256(pickle.dumps([dataclasses.astuple(b) for b in blocks])).hexdigest()


def test_page_processes_decision():
    assert pdf.page_processes(99, 0, 4) == 1  # auto: small PDFs in this process
    assert pdf.page_processes(pdf.PARALLEL_PAGES, 0, 4) == 4  # auto: one per core
    assert pdf.page_processes(1000, 0, 1) == 1  # one core: no helpers
    assert pdf.page_processes(30, 3, 2) == 2  # never more helpers than chunks of pages
    assert pdf.page_processes(500, 1, 8) == 1  # configured: one process


def test_helpers_from_a_fork_server_read_the_same_blocks(big_pdf):
    """This process runs a thread: the helpers come from a fork server and open the PDF themselves."""
    one = _read(big_pdf, 1)
    assert len({ln for b in one for ln in b.links}) >= 500 and sum(b.kind == "break" for b in one) > 40
    hold = threading.Event()
    t = threading.Thread(target=hold.wait, daemon=True)
    t.start()
    try:
        assert threading.active_count() > 1  # (processes.start_context: a fork server then)
        assert _read(big_pdf, 3) == one
    finally:
        hold.set()
        t.join()


def test_helpers_forked_from_a_single_threaded_command_read_the_same_blocks(big_pdf, tmp_path):
    path = tmp_path / "big.pdf"
    path.write_bytes(big_pdf)
    code = ("import dataclasses, threading, sys; from archiver.ingest import pdf; "
            "from archiver.ingest.limits import UNLIMITED; from archiver.processes import start_context; "
            "from tests.test_pdf_pages_parallel import _digest; "
            "assert threading.active_count() == 1 and start_context([]).get_start_method() == 'fork'; "
            f"print(_digest(pdf.read(open({str(path)!r}, 'rb').read(), 'big.pdf', "
            "dataclasses.replace(UNLIMITED, pdf_processes=2))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == _digest(_read(big_pdf, 1))


def test_parallel_read_gives_the_same_report_with_an_empty_user_password():
    from reportlab.lib import pdfencrypt

    enc = pdfencrypt.StandardEncryption("", ownerPassword="owner", canPrint=1)
    data = make_pdf("Locked for editing", "An introduction to the report. " * 4, _items(120), encrypt=enc)
    one = parse_report(data, "a.pdf", dataclasses.replace(UNLIMITED, pdf_processes=1))
    many = parse_report(data, "a.pdf", dataclasses.replace(UNLIMITED, pdf_processes=2))
    assert many == one and len(one.activities) == 120


def test_helpers_that_cannot_start_leave_the_pages_to_this_process(big_pdf, monkeypatch):
    """No semaphores (some containers) or a process limit: the report is still read, the same, with a
    warning naming why."""
    import concurrent.futures
    import logging

    class NoProcesses:
        def __init__(self, *args, **kwargs):
            raise OSError(38, "Function not implemented")

    class Lines(logging.Handler):
        def __init__(self):
            super().__init__(logging.WARNING)
            self.lines: list[str] = []

        def emit(self, record):
            self.lines.append(record.getMessage())

    one = _read(big_pdf, 1)
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", NoProcesses)
    seen = Lines()
    logger = logging.getLogger("archiver.ingest.pdf")  # (the CLI stops archiver's records at its own handler)
    logger.addHandler(seen)
    try:
        assert _read(big_pdf, 2) == one
    finally:
        logger.removeHandler(seen)
    assert any("page readers failed (OSError" in line for line in seen.lines), seen.lines
