"""Telling people what a pass changed: the webhook (a local HTTP receiver on 127.0.0.1) and email (a
real SMTP server, aiosmtpd), read back with the standard library's json and email parsers."""
from __future__ import annotations

import email
import json
import signal
from datetime import timedelta
from email import policy

import pytest
from sqlalchemy import update

from archiver.config import load_settings
from archiver.db.base import utcnow
from archiver.db.session import make_engine, make_sessionmaker
from archiver.db.tables import Run, Target
from archiver.resolve import ratelimit
from tests.conftest import run_cli, write_config
from tests.servers.receivers import HookReceiver, Mailbox, closed_port, self_signed
from tests.servers.unreachable import Unreachable
from tests.servers.wayback import WaybackServer
from tests.test_watch import Site

SECRET_PATH = "/hooks/T0KEN-s3cret-path"
FROM, TO = "archiver <archiver@example.org>", "auditor@example.org"


@pytest.fixture
def site():
    s = Site()
    yield s
    s.close()


@pytest.fixture
def hook():
    h = HookReceiver()
    yield h
    h.close()


@pytest.fixture
def box():
    b = Mailbox()
    yield b
    b.close()


def _report(tmp_path, name, urls):
    path = tmp_path / name
    path.write_text("Report\n\n" + "".join(f"{i}. Activity {i} of {name} (see {u}).\n" for i, u in enumerate(urls, 1)),
                    encoding="utf-8")
    return path


def _runs(cfg):
    settings = load_settings(cfg, env={})
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as s:
            return [(r.kind, r.status, dict(r.counts)) for r in s.query(Run).order_by(Run.id)]
    finally:
        engine.dispose()


def _make_watch_due(cfg):
    engine = make_engine(load_settings(cfg, env={}))
    try:
        with make_sessionmaker(engine)() as s:
            s.execute(update(Target).where(Target.status == "captured")
                      .values(next_check_at=utcnow() - timedelta(hours=1)))
            s.commit()
    finally:
        engine.dispose()


def test_a_pass_that_changed_things_is_sent_by_webhook_and_email(tmp_path, db_url, site, hook, box):
    ratelimit.reset()
    with WaybackServer("ia") as ia:
        cfg = write_config(tmp_path, db_url, resolver={"archives": [ia.config("ia")], "archive_retry_after_s": 0},
                           notify={"webhook": {"url": hook.url(SECRET_PATH), "backoff_s": 0,
                                               "headers": {"Authorization": "Bearer hook-t0ken"}},
                                   "email": {"host": "127.0.0.1", "port": box.port, "starttls": False,
                                             "from_address": FROM, "to": [TO], "backoff_s": 0}})
        for p in ("/same", "/changes", "/dies", "/gone-archived"):
            site.page(p, f"page {p}")
        assert run_cli(["init"], cfg).code == 0
        assert run_cli(["ingest", _report(tmp_path, "first.txt", [site.url(p) for p in (
            "/same", "/changes", "/dies", "/gone-archived")])], cfg).code == 0
        first = run_cli(["run", "--json"], cfg)
        assert first.code == 0 and first.json()["captured"] == 4 and "notify" not in first.json()
        assert hook.posts == [] and box.messages == []  # not asked to notify

        # the web changes; a second report cites a page that never existed and a host that is down
        site.page("/changes", "another text altogether")
        del site.pages["/dies"]
        site.pages["/gone-archived"] = (410, [], b"gone")
        ia.add(site.url("/gone-archived"), "20250101000000", 200, headers=[("Content-Type", "text/html")],
               body=b"<html><body><p>the archived copy of the evidence</p></body></html>")
        down = f"http://127.0.0.1:{closed_port()}/statement"
        assert run_cli(["ingest", _report(tmp_path, "second.txt", [site.url("/never"), down])], cfg).code == 0
        _make_watch_due(cfg)
        second = run_cli(["run", "--notify", "--json"], cfg)

    # the pass's exit code is its own (an item failed); both targets took the summary at the first try
    assert second.code == 1, second.err
    sent = second.json()["notify"]
    assert sent["webhook"]["ok"] and sent["webhook"]["tries"] == 1 and sent["email"]["ok"], sent
    [(path, headers, body)] = hook.posts
    assert path == SECRET_PATH and headers["Authorization"] == "Bearer hook-t0ken"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    doc = json.loads(body)
    assert doc["schema"] == headers["X-Archiver-Schema"] == "archiver.pass-summary/1"
    assert doc["run"]["id"] == second.json()["run_id"] and doc["run"]["status"] == "partial"
    assert {(i["url"], i["found_by"]) for i in doc["newly_lost"]} == {(site.url("/never"), "capture"),
                                                                       (site.url("/dies"), "watch")}
    assert [(i["url"], i["state"]) for i in doc["changed"]] == [(site.url("/changes"), "changed")]
    [rec] = doc["recovered"]
    assert rec["url"] == site.url("/gone-archived") and rec["archive"] == "ia" and rec["archived_at"].startswith("2025")
    [failure] = doc["failures"]
    assert failure["url"] == down and failure["stage"] == "capture" and "connection" in failure["message"]
    assert doc["totals"] == {"newly_lost": 2, "changed": 1, "recovered": 1, "failures": 1}
    assert doc["counts"]["watch"]["checked"] == 4 and doc["truncated"] is False

    # the email: a readable text part and the same document attached, as a mail client reads them
    [(mail_from, rcpts, raw)] = box.messages
    assert mail_from == "archiver@example.org" and rcpts == [TO]
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["From"] == FROM and msg["To"] == TO and msg["Message-ID"] and msg["Date"]
    assert msg["Subject"] == (f"[archiver] pass {doc['run']['id']}: 2 newly lost, 1 changed, 1 recovered, "
                              "1 failed")
    text = msg.get_body(("plain",)).get_content()
    for url in (site.url("/never"), site.url("/dies"), site.url("/changes"), site.url("/gone-archived"), down):
        assert url in text
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "summary.json" and attachment.get_content_type() == "application/json"
    assert json.loads(attachment.get_content()) == doc

    # recorded on the run row (what /metrics counts)
    assert _runs(cfg)[-1][2]["notify"]["email"]["ok"] is True


def test_a_quiet_pass_sends_nothing_unless_always(tmp_path, db_url, hook):
    cfg = write_config(tmp_path, db_url, notify={"webhook": {"url": hook.url()}})
    assert run_cli(["init"], cfg).code == 0
    r = run_cli(["run", "--notify", "--json"], cfg)
    assert r.code == 0 and "changed nothing" in r.json()["notify"]["skipped"] and hook.posts == []
    r = run_cli(["run", "--notify"], cfg, env={"ARCHIVER__NOTIFY__ALWAYS": "true"})
    assert r.code == 0 and "notify: webhook sent" in r.out
    [(_, _, body)] = hook.posts
    doc = json.loads(body)
    assert doc["totals"] == {"newly_lost": 0, "changed": 0, "recovered": 0, "failures": 0}
    assert doc["run"]["status"] == "ok"


def test_nothing_configured_sends_nothing_and_run_notify_says_so(cli, hook):
    r = cli("run", "--json")
    assert r.code == 0 and "notify" not in r.json()
    r = cli("run", "--notify")
    assert r.code == 2 and r.err.count("\n") == 1 and "notify.webhook.url" in r.err


@pytest.mark.parametrize("answer, tries, error", [
    ("500", 3, "HTTP 500"),
    ("404", 1, "HTTP 404"),  # not worth another try
    ("302", 1, "redirects are not followed"),
    ("reset", 3, "connection failed"),
    ("closed", 3, "connection failed"),
])
def test_a_failing_webhook_logs_one_line_and_leaves_the_exit_code(tmp_path, db_url, answer, tries, error):
    servers = []
    if answer.isdigit():
        servers.append(HookReceiver([int(answer)]))
        url = servers[0].url(SECRET_PATH + "?key=qu3ry-s3cret")
    elif answer == "reset":
        servers.append(Unreachable("reset").__enter__())
        url = servers[0].base + SECRET_PATH + "?key=qu3ry-s3cret"
    else:
        url = f"http://127.0.0.1:{closed_port()}{SECRET_PATH}?key=qu3ry-s3cret"
    try:
        cfg = write_config(tmp_path, db_url, notify={"always": True, "webhook": {
            "url": url, "retries": 2, "backoff_s": 0.01, "headers": {"Authorization": "Bearer hdr-s3cret"}}})
        assert run_cli(["init"], cfg).code == 0
        r = run_cli(["run", "--notify", "--json"], cfg)
    finally:
        for s in servers:
            s.close() if hasattr(s, "close") else s.__exit__(None, None, None)
    assert r.code == 0  # the pass was fine: a notification failing does not change that
    got = r.json()["notify"]["webhook"]
    assert got["ok"] is False and got["tries"] == tries and error in got["error"]
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: notify: webhook to http://127.0.0.1:")
    assert f"failed after {tries} tr" in lines[0] and error in lines[0]
    recorded = _runs(cfg)[-1][2]["notify"]
    assert recorded["webhook"] == got
    for secret in ("T0KEN-s3cret-path", "qu3ry-s3cret", "hdr-s3cret"):
        assert secret not in r.err and secret not in json.dumps(recorded) and secret not in r.out
    if answer == "500":
        assert len(servers[0].posts) == 3


def test_a_webhook_that_recovers_is_sent_on_a_retry(tmp_path, db_url):
    hook = HookReceiver([503, 200])
    try:
        cfg = write_config(tmp_path, db_url, notify={"always": True, "webhook": {"url": hook.url(), "backoff_s": 0}})
        assert run_cli(["init"], cfg).code == 0
        r = run_cli(["run", "--notify", "--json"], cfg)
    finally:
        hook.close()
    assert r.code == 0 and r.json()["notify"]["webhook"] == {**r.json()["notify"]["webhook"], "ok": True, "tries": 2}
    assert len(hook.posts) == 2 and hook.posts[0][2] == hook.posts[1][2]


def test_the_webhook_is_held_to_the_address_policy(tmp_path, db_url, hook):
    cfg = write_config(tmp_path, db_url, fetch={"allow_private_addresses": False},
                       notify={"always": True, "webhook": {"url": hook.url(SECRET_PATH), "backoff_s": 0}})
    assert run_cli(["init"], cfg).code == 0
    r = run_cli(["run", "--notify", "--json"], cfg)
    got = r.json()["notify"]["webhook"]
    assert r.code == 0 and got["ok"] is False and got["tries"] == 1 and "loopback" in got["error"]
    assert hook.posts == [] and "T0KEN" not in r.err
    # the notify section may allow it on its own (an intranet webhook), without opening fetching
    r = run_cli(["run", "--notify", "--json"], cfg, env={"ARCHIVER__NOTIFY__ALLOW_PRIVATE_ADDRESSES": "true"})
    assert r.json()["notify"]["webhook"]["ok"] is True and len(hook.posts) == 1


def test_email_over_starttls_with_a_login_and_the_password_from_the_environment(tmp_path, db_url):
    cert, key = self_signed(tmp_path)
    box = Mailbox(tls=(cert, key), users={"archiver": "pa ss: 123"})
    try:
        cfg = write_config(tmp_path, db_url, notify={"always": True, "email": {
            "host": "127.0.0.1", "port": box.port, "ca_file": str(cert), "username": "archiver",
            "from_address": FROM, "to": [TO, "second@example.org"], "backoff_s": 0}})
        assert run_cli(["init"], cfg).code == 0
        r = run_cli(["run", "--notify", "--json"], cfg, env={"ARCHIVER_SMTP_PASSWORD": "pa ss: 123"})
        assert r.code == 0 and r.json()["notify"]["email"]["ok"] is True, r.err
        assert box.logins == ["archiver"]
        [(_, rcpts, raw)] = box.messages
        assert rcpts == [TO, "second@example.org"]
        assert email.message_from_bytes(raw, policy=policy.default)["Subject"].endswith("0 failed")
        # without the password: one line naming the variable, nothing sent, the pass unaffected
        r = run_cli(["run", "--notify", "--json"], cfg)
        assert r.code == 0 and "ARCHIVER_SMTP_PASSWORD" in r.json()["notify"]["email"]["error"]
        assert len(box.messages) == 1 and "pa ss" not in r.err
    finally:
        box.close()


def test_email_is_never_sent_in_clear_when_starttls_is_not_offered(tmp_path, db_url, box):
    cfg = write_config(tmp_path, db_url, notify={"always": True, "email": {
        "host": "127.0.0.1", "port": box.port, "from_address": FROM, "to": [TO], "backoff_s": 0}})
    assert run_cli(["init"], cfg).code == 0
    r = run_cli(["run", "--notify", "--json"], cfg)
    got = r.json()["notify"]["email"]
    assert r.code == 0 and got["ok"] is False and got["tries"] == 1 and "STARTTLS" in got["error"]
    assert box.messages == []


@pytest.mark.parametrize("answers, ok, tries", [(["451 4.3.0 try again later"], True, 2),
                                                (["554 5.7.1 rejected"], False, 1)])
def test_email_retries_a_temporary_refusal_only(tmp_path, db_url, answers, ok, tries):
    box = Mailbox(answers=answers)
    try:
        cfg = write_config(tmp_path, db_url, notify={"always": True, "email": {
            "host": "127.0.0.1", "port": box.port, "starttls": False, "from_address": FROM, "to": [TO],
            "backoff_s": 0}})
        assert run_cli(["init"], cfg).code == 0
        r = run_cli(["run", "--notify", "--json"], cfg)
    finally:
        box.close()
    got = r.json()["notify"]["email"]
    assert r.code == 0 and (got["ok"], got["tries"]) == (ok, tries) and len(box.messages) == int(ok)


def test_the_scheduled_job_sends_the_summary(tmp_path, db_url, hook):
    from tests.test_schedule import _read_lines, _start

    cfg = write_config(tmp_path, db_url, notify={"always": True, "webhook": {"url": hook.url()}})
    assert run_cli(["init"], cfg).code == 0
    proc = _start(cfg, "--interval", "1")
    try:
        docs = _read_lines(proc, 1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert docs and docs[0]["notify"]["webhook"]["ok"] is True, proc.stderr.read()
    doc = json.loads(hook.posts[0][2])
    assert doc["run"]["kind"] == "schedule" and doc["run"]["id"] == docs[0]["run_id"]


def test_notify_config_errors_are_one_line_and_never_echo_a_secret(tmp_path, db_url):
    cases = [({"email": {"host": "127.0.0.1", "from_address": FROM}}, "needs from_address and at least one"),
             ({"email": {"host": "h", "from_address": FROM, "to": ["x@y"], "password": 987654321}}, "password"),
             ({"email": {"host": "h", "from_address": FROM, "to": ["not an address\nBcc: x@y"]}}, "not an email"),
             ({"email": {"host": "h", "from_address": FROM, "to": [TO], "starttls": False, "username": "u"}},
              "never sent in clear"),
             ({"webhook": {"url": "ftp://h/x"}}, "http(s) URL")]
    for i, (section, words) in enumerate(cases):
        cfg = write_config(tmp_path, db_url, name=f"c{i}.yaml", notify=section)
        r = run_cli(["config"], cfg)
        assert r.code == 2 and r.err.count("\n") == 1 and words in r.err and "notify" in r.err, r.err
        assert "987654321" not in r.err
    cfg = write_config(tmp_path, db_url, name="ok.yaml", notify={
        "webhook": {"url": "https://hooks.example.org/services/T0KEN", "headers": {"Authorization": "Bearer hh"}},
        "email": {"host": "h", "from_address": FROM, "to": [TO], "password": "pw-s3cret"}})
    out = run_cli(["config"], cfg).out
    assert "T0KEN" not in out and "Bearer hh" not in out and "pw-s3cret" not in out
    assert json.loads(out)["notify"]["webhook"]["url"] == "https://hooks.example.org/…"
