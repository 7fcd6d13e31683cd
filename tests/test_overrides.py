"""Manual overrides: CSV parsing, forced overrides before everything, normal ones as the last fallback."""
from __future__ import annotations

import pytest

from archiver.config import load_settings
from archiver.errors import ConfigError
from archiver.model import Outcome
from archiver.net.http import HttpClient
from archiver.resolve import ratelimit
from archiver.resolve.overrides import load_overrides
from archiver.resolve.sources import forced_override, resolve_from_archives
from tests.conftest import write_config
from tests.servers.wayback import WaybackServer

CSV = ("short_url,target,note,who,force\n"
       "https://goo.gl/mMTrEZ,https://example.org/researched.pdf,found in the ministry's archive,A. Aliyev,\n"
       "https://goo.gl/wMfTXZ,https://example.org/forced,automatic result was a parked page,R. R.,true\n")


def settings_with(tmp_path, csv_text, **resolver):
    p = tmp_path / "overrides.csv"
    p.write_text(csv_text, encoding="utf-8")
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", resolver={"overrides": str(p), **resolver})
    return load_settings(cfg, env={})


def test_forced_and_normal(tmp_path):
    s = settings_with(tmp_path, CSV)
    forced = forced_override("http://www.goo.gl/wMfTXZ", s)
    assert forced.outcome is Outcome.RESOLVED and forced.final_url == "https://example.org/forced"
    assert forced.method == "manual" and forced.source == "overrides.csv"
    assert forced.hops[0].kind == "manual" and "R. R." in forced.hops[0].note
    assert forced_override("https://goo.gl/mMTrEZ", s) is None  # not forced
    res = resolve_from_archives("https://goo.gl/mMTrEZ", client=None, settings=s, session_factory=None)
    assert res.method == "manual" and res.final_url == "https://example.org/researched.pdf"
    assert "ministry" in res.reason
    assert resolve_from_archives("https://goo.gl/other", client=None, settings=s, session_factory=None) is None


def test_archive_answer_wins_over_normal_override(tmp_path):
    ratelimit.reset()
    with WaybackServer("ia") as ia:
        ia.redirect("https://goo.gl/mMTrEZ", "20180101000000", "https://example.org/from-archive")
        s = settings_with(tmp_path, CSV, archives=[ia.config("ia")])
        res = resolve_from_archives("https://goo.gl/mMTrEZ", client=HttpClient(s.fetch), settings=s,
                                    session_factory=None)
        assert res.method == "archive" and res.final_url == "https://example.org/from-archive"


def test_header_without_force_column(tmp_path):
    s = settings_with(tmp_path, "short_url,target,note,who\nhttps://goo.gl/a,https://x.example/,,\n")
    assert forced_override("https://goo.gl/a", s) is None
    assert resolve_from_archives("https://goo.gl/a", client=None, settings=s, session_factory=None).final_url \
        == "https://x.example/"


@pytest.mark.parametrize("text,where", [
    ("short_url,target\nhttps://goo.gl/a,https://x/\n", ":1: missing column(s) note, who"),
    ("short_url,target,note,who,forced\n", ":1: unknown column(s) forced"),
    ("short_url,target,note,who\nhttps://goo.gl/a,ftp://x/,,\n", ":2: target must be an http(s) URL"),
    ("short_url,target,note,who\n\nhttps://goo.gl/a,https://x/\n", ":3: expected 4 fields, got 2"),
    ("short_url,target,note,who,force\nhttps://goo.gl/a,https://x/,,,maybe\n", ":2: force must be true or false"),
    ("short_url,target,note,who\nhttps://goo.gl/a,https://x/,,\nhttp://goo.gl/a,https://y/,,\n",
     ":3: http://goo.gl/a already overridden on line 2"),
    ("", ":1: empty file"),
])
def test_bad_csv_is_one_line_config_error(tmp_path, text, where):
    p = tmp_path / "bad.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_overrides(p)
    msg = str(e.value)
    assert f"{p}{where}" in msg and "\n" not in msg


def test_cli_reports_bad_overrides_file(tmp_path):
    s = settings_with(tmp_path, "short_url,target\n")
    with pytest.raises(ConfigError):
        forced_override("https://goo.gl/a", s)
