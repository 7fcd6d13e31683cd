"""Pure parsing: CDX in both dialects, resource matching, replay prefixes, TimeMaps, replay verdicts."""
from __future__ import annotations

from datetime import datetime, timezone

from archiver.resolve.cdx import Reply, parse_cdx, same_resource, short_link_candidates, CdxRow
from archiver.resolve.memento import (interpret, parse_timemap, prefix_pattern, raw_form, strip_prefix)

S14 = b'''[["urlkey","timestamp","original","mimetype","statuscode","digest","length"],
["gov,oaklandca)/","20180427023914","http://www.oaklandca.gov:80/","text/html","200","3BCPSIHGOCJ7ZRCJRSF5DRI5AD7BDOR6","6093"],
["gov,oaklandca)/","20180427140108","http://oaklandca.gov/","unk","301","3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ","327"]]'''


def test_parse_ia_json_by_header_row():
    rows = parse_cdx(S14)
    assert [(r.timestamp, r.original, r.statuscode, r.mimetype) for r in rows] == [
        ("20180427023914", "http://www.oaklandca.gov:80/", "200", "text/html"),
        ("20180427140108", "http://oaklandca.gov/", "301", "unk")]
    # another column order, spaces, resumeKey tail
    body = b'[["statuscode", "original", "timestamp"],\n["302", "https://goo.gl/x", "2018"],[],["resume-key"]]'
    assert parse_cdx(body) == [CdxRow("2018", "https://goo.gl/x", "302", "", "")]
    assert parse_cdx(b"[]") == [] and parse_cdx(b"") == []


def test_parse_pywb_ndjson_cdxj_and_text():
    nd = (b'{"urlkey": "gl,goo)/x", "timestamp": "20180101000000", "url": "https://goo.gl/x", "mime": "warc/revisit",'
          b' "status": "-", "digest": "AAA"}\n')
    r = parse_cdx(nd)[0]
    assert (r.original, r.is_revisit, r.status) == ("https://goo.gl/x", True, None)
    cdxj = b'gl,goo)/x 20180101000000 {"url": "https://goo.gl/x", "status": "302", "mime": "unk"}\n'
    assert parse_cdx(cdxj)[0].statuscode == "302" and parse_cdx(cdxj)[0].timestamp == "20180101000000"
    text = b"gov,nasa)/ 19961231235847 http://www.nasa.gov:80/ text/html 200 MGIGF4GRGGF5GKV6VNCBAXOE3OR5BTZC 1811\n"
    assert parse_cdx(text)[0].original == "http://www.nasa.gov:80/"


def test_same_resource_rules():
    assert same_resource("http://goo.gl:80/mMTrEZ", "https://goo.gl/mMTrEZ")
    assert same_resource("https://www.goo.gl/mMTrEZ?si=1", "https://goo.gl/mMTrEZ", ("", "si=1", "d=1"))
    assert not same_resource("https://goo.gl/mmtrez", "https://goo.gl/mMTrEZ", ("",))
    assert not same_resource("https://goo.gl/mMTrEZx", "https://goo.gl/mMTrEZ", ("",))
    assert not same_resource("https://goo.gl/mMTrEZ?utm=1", "https://goo.gl/mMTrEZ", ("", "si=1"))


def test_candidate_order():
    rows = [CdxRow("20251001000000", "https://goo.gl/a", "404"), CdxRow("20250101000000", "https://goo.gl/a", "200"),
            CdxRow("20120101000000", "https://goo.gl/a", "200"), CdxRow("20190101000000", "https://goo.gl/a", "-",
                                                                     "warc/revisit"),
            CdxRow("20180101000000", "https://goo.gl/a?si=1", "302"), CdxRow("20170101000000", "http://goo.gl/a", "301"),
            CdxRow("20160101000000", "http://goo.gl/A", "301"), CdxRow("20160101000000", "http://goo.gl/a", "400")]
    order = [(r.timestamp[:4], r.statuscode) for r in short_link_candidates(rows, "https://goo.gl/a")]
    assert order == [("2017", "301"), ("2018", "302"), ("2019", "-"), ("2025", "200"), ("2012", "200")]


def test_prefixes():
    ia = prefix_pattern("https://web.archive.org/web/{timestamp}id_/{url}")
    loc = "https://web.archive.org/web/20180808094144id_/https://www.epa.gov/ghgreporting/proposed-rule"
    assert strip_prefix(loc, [ia]) == "https://www.epa.gov/ghgreporting/proposed-rule"
    assert strip_prefix("http://web.archive.org/web/2018/https://x.example/", [ia]) == "https://x.example/"
    local = prefix_pattern("http://127.0.0.1:8080/my/coll/{timestamp}id_/{url}")
    assert strip_prefix("http://127.0.0.1:8080/my/coll/20180101000000mp_/http://t.example/a", [local]) \
        == "http://t.example/a"
    # derived from a URI-M too, and un-rewritten URLs pass through
    assert strip_prefix("http://arch.example/x/20010101000000/http:/t.example/", [prefix_pattern(
        "http://arch.example/x/20010101000000/http://a.example/")]) == "http://t.example/"
    assert strip_prefix("https://example.org/news/2017/http-guide", [ia]) == "https://example.org/news/2017/http-guide"
    assert raw_form("http://web.archive.org/web/20010405072207/http://www.jaytaylor.com:80/") \
        == "http://web.archive.org/web/20010405072207id_/http://www.jaytaylor.com:80/"


TIMEMAP = '''<http://www.jaytaylor.com:80/>; rel="original",
<http://web.archive.org/web/timemap/link/https://jaytaylor.com>; rel="self"; type="application/link-format"; from="Sat, 31 Mar 2001 11:48:39 GMT",
<http://web.archive.org>; rel="timegate",
<http://web.archive.org/web/20010405072207/http://www.jaytaylor.com:80/>; rel="memento"; datetime="Thu, 05 Apr 2001 07:22:07 GMT",
<http://web.archive.org/web/20010331114839/http://www.jaytaylor.com:80/>; rel="first memento"; datetime="Sat, 31 Mar 2001 11:48:39 GMT",
<http://x.example/a,b>; datetime="Fri, 03 Jan 2014 03:03:21 GMT"; rel="memento"; collection="pywb"
'''


def test_parse_timemap_any_order_and_commas():
    ms = parse_timemap(TIMEMAP)
    assert [m.uri for m in ms] == ["http://web.archive.org/web/20010331114839/http://www.jaytaylor.com:80/",
                                   "http://web.archive.org/web/20010405072207/http://www.jaytaylor.com:80/",
                                   "http://x.example/a,b"]
    assert ms[0].datetime == datetime(2001, 3, 31, 11, 48, 39, tzinfo=timezone.utc)
    assert ms[0].rel == "first memento"


def _reply(status, headers, body=b"", url="https://web.archive.org/web/20180808094144id_/https://goo.gl/abc"):
    return Reply(url, status, headers, body, datetime.now(timezone.utc))


def test_interpret_literal_shapes():
    pat = [prefix_pattern("https://web.archive.org/web/{timestamp}id_/{url}")]
    rf = lambda u, ts: f"https://web.archive.org/web/{ts}id_/{u}"  # noqa: E731
    a = _reply(301, {"Location": "https://web.archive.org/web/20180808094144id_/https://t.example/p",
                     "Memento-Datetime": "Wed, 08 Aug 2018 09:41:44 GMT"})
    v = interpret(a, short_url="https://goo.gl/abc", patterns=pat, replay_for=rf)
    assert (v.kind, v.url) == ("target", "https://t.example/p")
    assert v.memento_datetime == datetime(2018, 8, 8, 9, 41, 44, tzinfo=timezone.utc)
    b = _reply(302, {"Location": "https://web.archive.org/web/20180808104500id_/https://goo.gl/abc",
                     "X-Archive-Redirect-Reason": "found capture at 20180808104500"})
    v = interpret(b, short_url="https://goo.gl/abc", patterns=pat, replay_for=rf)
    assert v.kind == "follow" and v.url.endswith("20180808104500id_/https://goo.gl/abc")
    # archived http -> https of the same short link: follow inside the archive
    c = _reply(301, {"Location": "https://web.archive.org/web/20180808094144id_/https://goo.gl/abc",
                     "Memento-Datetime": "Wed, 08 Aug 2018 09:41:44 GMT"})
    assert interpret(c, short_url="http://goo.gl/abc", patterns=pat, replay_for=rf).kind == "follow"
    d = _reply(404, {"Content-Type": "text/html"}, b"<html>not archived</html>")
    assert interpret(d, short_url="https://goo.gl/abc", patterns=pat, replay_for=rf).kind == "none"
    # pywb: un-rewritten
    e = _reply(302, {"Location": "https://t.example/q", "Memento-Datetime": "Wed, 08 Aug 2018 09:41:44 GMT"},
               url="http://localhost:8080/goo/20180808094144id_/https://goo.gl/abc")
    assert interpret(e, short_url="https://goo.gl/abc", patterns=[], replay_for=rf).url == "https://t.example/q"
    # relative Location in an archived redirect is resolved against the short URL
    f = _reply(302, {"Location": "/other", "Memento-Datetime": "Wed, 08 Aug 2018 09:41:44 GMT"},
               url="http://localhost:8080/goo/20180808094144id_/https://goo.gl/abc")
    assert interpret(f, short_url="https://goo.gl/abc", patterns=[], replay_for=rf).url == "https://goo.gl/other"
    # a relative Location into the archive (IA may send a path) is stripped
    g = _reply(302, {"Location": "/web/20180808094144id_/https://t.example/r",
                     "Memento-Datetime": "Wed, 08 Aug 2018 09:41:44 GMT"})
    assert interpret(g, short_url="https://goo.gl/abc", patterns=pat, replay_for=rf).url == "https://t.example/r"
