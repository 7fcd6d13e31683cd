"""archiver.markup (one lxml parse per page) reads pages as BeautifulSoup did: same title, text, requisites."""
from urllib.parse import urljoin

from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given, settings, strategies as st

from archiver.capture.requisites import css_urls, html_urls
from archiver.evidence import page_text
from archiver.markup import cache_info
from archiver.net.decode import quick_markup_text
from tests.servers.targets import page_html

LINK_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "apple-touch-icon-precomposed", "preload",
             "mask-icon", "manifest"}


def bs4_page_text(body: bytes) -> tuple[str, str]:
    """The reading evidence.page_text made with BeautifulSoup before archiver.markup."""
    soup = BeautifulSoup(quick_markup_text(body), "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    return " ".join(title.split()), " ".join(soup.get_text(" ", strip=True).split())


def bs4_html_urls(html: bytes, base_url: str) -> list[str]:
    """The reading requisites.html_urls made with BeautifulSoup before archiver.markup."""
    from archiver.capture.requisites import _clean

    soup = BeautifulSoup(quick_markup_text(html), "lxml")
    base_tag = soup.find("base", href=True)
    base = urljoin(base_url, base_tag["href"]) if base_tag else base_url
    found = []
    for tag in soup.find_all(["img", "source", "script", "link", "style", "input", "video", "audio", "embed",
                              "track", "body", "table", "td"]):
        if tag.name in ("img", "source", "input", "video", "audio", "embed", "track"):
            found += [tag[a] for a in ("src", "poster") if tag.get(a)]
            if tag.get("srcset"):
                found += [p.strip().split()[0] for p in tag["srcset"].split(",") if p.strip()]
        elif tag.name == "script" and tag.get("src"):
            found.append(tag["src"])
        elif tag.name == "link" and tag.get("href"):
            if {r.lower() for r in (tag.get("rel") or [])} & LINK_RELS:
                found.append(tag["href"])
        elif tag.name == "style":
            found += css_urls(tag.get_text(), base)
        elif tag.get("background"):
            found.append(tag["background"])
    for tag in soup.find_all(style=True):
        found += css_urls(tag["style"], base)
    return _clean(found, base)


FIXTURES = [
    page_html("http://other.example"),
    b"<html><head><title> A \n <b>t</b></title><style>x{background:url(a.png)}</style></head><body><!-- c -->"
    b"Hello<script>var x</script>World<noscript>ns<b>q</b></noscript>w<p>a<br>b</p><?pi x?>end</body></html>",
    b'<?xml version="1.0" encoding="utf-8"?><html><head><base href="/sub/"><title>X</title></head>'
    b'<body background="bg.png"><table background="t.png"><td background="td.png" style="color:red">'
    b'<img src="i.png" srcset=" a.png 1x, b.png 2x ,"><link rel="Stylesheet Alternate" href="s.css">'
    b'<link rel="canonical" href="c.html"><video poster="p.jpg" src="v.mp4"></video></td></table></body></html>',
    "<html><title>Qarabağ — Отчёт</title><p>Ümumi   məlumat</p></html>".encode(),
    "<html><title>cp1251</title><p>Привет</p></html>".encode("cp1251"),
    b"", b"   ", b"plain text, no markup", b"<p>unclosed <b>bold <i>both</p> after",
    b"<svg><title>svg title</title></svg><title>page title</title><template><p>hidden</p></template>tail",
]

TAGS = ["p", "b", "div", "script", "style", "noscript", "template", "title", "img", "link", "table", "td", "span",
        "base", "source", "body", "br"]
ATTRS = ["src", "srcset", "href", "rel", "style", "background", "poster"]
VALUES = ["a.png", "/x/y.css", "http://h.example/z.js", "data:x", "#frag", "b.png 2x, c.png 3x", "stylesheet",
          "icon preload", "color:red;background:url('u.gif')", "", "  spaced.png  "]


@st.composite
def html_docs(draw, depth=0):
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["text", "tag", "comment"] if depth < 3 else ["text", "comment"]))
        if kind == "text":
            parts.append(draw(st.sampled_from(["word", " spaced  out ", "Qarabağ", "a&amp;b", "\n", "x<y", ""])))
        elif kind == "comment":
            parts.append("<!-- note -->")
        else:
            tag = draw(st.sampled_from(TAGS))
            attrs = "".join(f' {a}="{draw(st.sampled_from(VALUES))}"'
                            for a in draw(st.lists(st.sampled_from(ATTRS), max_size=3, unique=True)))
            parts.append(f"<{tag}{attrs}>{draw(html_docs(depth + 1))}</{tag}>")
    return "".join(parts)


def test_fixtures_read_as_beautifulsoup_did():
    for body in FIXTURES:
        assert page_text(body) == bs4_page_text(body), body
        assert html_urls(body, "http://site.example/dir/page.html") == bs4_html_urls(
            body, "http://site.example/dir/page.html"), body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(html_docs())
def test_generated_pages_read_as_beautifulsoup_did(doc):
    body = doc.encode()
    assert page_text(body) == bs4_page_text(body)
    assert html_urls(body, "http://site.example/dir/page.html") == bs4_html_urls(body, "http://site.example/dir/page.html")


def test_a_page_is_parsed_once_for_both_readers():
    body = page_html(None) + b"<!-- once -->"
    hits, misses = cache_info()
    page_text(body)
    html_urls(body, "http://site.example/")
    assert cache_info() == (hits + 1, misses + 1)
