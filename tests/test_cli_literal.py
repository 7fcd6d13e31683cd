"""User text is printed as written by every command (issue 9: `[/]` in a report crashed `reports`,
`activities`, `health` and `show`). Report titles, file names, activity text, URLs, reasons,
dump names and package members carry rich markup, emoji codes and a bracket that closes
nothing; each command must print them literally and succeed."""
from __future__ import annotations

import zipfile

import pytest

from tests.conftest import run_cli, write_config

WIDE = {"COLUMNS": "2000"}  # one line per row: the literal strings are not folded by the terminal width


def _no_crash(r, *codes):
    assert r.code in (codes or (0,)), (r.code, r.err)
    for bad in ("MarkupError", "Traceback", "closing tag", "⚠"):  # ⚠: :warning: read as an emoji code
        assert bad not in r.out + r.err, (bad, r.out, r.err)


@pytest.fixture
def hostile(tmp_path, db_url):
    cfg = write_config(tmp_path, db_url, fetch={"timeout_s": 1, "total_timeout_s": 2, "soft404_probe": False,
                                                "requisites": {"enabled": False}})
    name = tmp_path / "[bold blink]evil report :warning:.txt"
    name.write_text(
        "[/] Report on [bold blink]everything[/bold blink] :warning:\n\n"
        "- On 1 May 2018 the ministry said [/] and [bold blink]loud[/bold blink] :warning: "
        "[link=http://evil.example]click[/link].\n"
        "  http://127.0.0.1:9/:warning:/page\n", encoding="utf-8")
    assert run_cli(["init"], cfg).code == 0
    return cfg, name


def test_every_command_prints_user_text_literally(hostile, tmp_path):
    cfg, name = hostile
    cli = lambda *a, codes=(0,): _no_crash(run_cli(list(a), cfg, env=WIDE), *codes)  # noqa: E731
    r = run_cli(["ingest", str(name)], cfg, env=WIDE)
    _no_crash(r)
    assert "[bold blink]evil report :warning:.txt" in r.out
    r = run_cli(["run"], cfg, env=WIDE)  # the target refuses connections: failed, with its URL in the reason
    _no_crash(r, 0, 1)

    r = run_cli(["reports"], cfg, env=WIDE)
    _no_crash(r)
    assert "[/] Report on [bold blink]everything[/bold blink] :warning:" in r.out
    assert "[bold blink]evil report :warning:.txt" in r.out
    r = run_cli(["activities"], cfg, env=WIDE)
    _no_crash(r)
    assert "[/] and [bold blink]loud[/bold blink] :warning: [link=http://evil.example]click[/link]" in r.out
    assert "/:warning:/page" in r.out
    r = run_cli(["show", "1"], cfg, env=WIDE)
    _no_crash(r)
    assert "[bold blink]loud[/bold blink] :warning:" in r.out and "/:warning:/page" in r.out
    r = run_cli(["health"], cfg, env=WIDE)
    _no_crash(r)
    assert "[/] Report on [bold blink]everything[/bold blink]" in r.out
    r = run_cli(["status"], cfg, env=WIDE)
    _no_crash(r)
    assert "/:warning:/page" in r.out
    r = run_cli(["search", "[/] [bold blink] loud"], cfg, env=WIDE)
    _no_crash(r)
    assert "[/] [bold blink] loud" in r.out
    r = run_cli(["get", "--list", "http://127.0.0.1:9/:warning:/page"], cfg, env=WIDE)
    _no_crash(r, 0, 1)
    assert "/:warning:/page" in r.out + r.err

    dump = tmp_path / "[red]dump [bold].txt"
    dump.write_text("abc|http://example.org/[/]\n")
    r = run_cli(["dumps", "import", str(dump), "--name", "[bold blink]URLTeam[/]"], cfg, env=WIDE)
    _no_crash(r)
    assert "[bold blink]URLTeam[/]" in r.out and "[red]dump [bold].txt" in r.out

    out = tmp_path / "[red]evidence.wacz"
    r = run_cli(["export", "--activity", "1", "-o", str(out)], cfg, env=WIDE)
    _no_crash(r)
    assert "[red]evidence.wacz" in r.out
    with zipfile.ZipFile(out, "a") as zf:  # a member nobody listed, named in markup
        zf.writestr("[bold blink]extra[/].txt", b"x")
    r = run_cli(["verify-export", str(out)], cfg, env=WIDE)
    _no_crash(r, 1)
    assert "[bold blink]extra[/].txt" in r.out


def test_errors_quoting_user_text_are_printed_literally(hostile, tmp_path):
    cfg, _name = hostile
    missing = tmp_path / "[red]missing [bold].txt"
    r = run_cli(["ingest", str(missing)], cfg, env=WIDE)
    _no_crash(r, 2)
    assert "[red]missing [bold].txt" in r.err and r.err.startswith("error:")
    r = run_cli(["verify-export", str(missing)], cfg, env=WIDE)
    _no_crash(r, 2)
    assert "[red]missing [bold].txt" in r.err
    r = run_cli(["get", "--at", "[/]never", "http://x/"], cfg, env=WIDE)
    _no_crash(r, 2)
    assert "[/]never" in r.err
