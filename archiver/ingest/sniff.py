"""Which format a report is in, from its bytes first and its name second (pure).

Magic bytes decide (``%PDF-``, a zip holding ``word/document.xml``, HTML tags);
the extension only chooses between text dialects (``.md``) and catches lies: a
file named ``.pdf`` or ``.docx`` that is not one is refused rather than read as
text, because its text would be garbage.
"""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from ..errors import InputError
from .decode import looks_binary

FORMATS = ("txt", "md", "html", "pdf", "docx")
MAX_ZIP_ENTRIES = 10_000  # a DOCX holds tens of parts; zipfile keeps an object per entry of the directory
_HTML = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S)
_HTML_TAGS = re.compile(rb"<(?:p|div|ul|ol|li|h[1-6]|a\s+href|br|table)\b", re.I)
_MD = re.compile(r"^(?:#{1,6}\s|\s*[-*+]\s+\[|.*\]\(https?://)", re.M)


def extension(name: str) -> str:
    path = urlsplit(name).path if "://" in name else name
    return PurePosixPath(path.replace("\\", "/")).suffix.lower().lstrip(".")


def _zip_entries(data: bytes) -> int | None:
    """How many files the zip's end record says it holds (65535: a ZIP64 count, "many"); None: no end record."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return None
    return int.from_bytes(data[end + 10:end + 12], "little")


def detect_format(data: bytes, name: str = "") -> str:
    ext = extension(name)
    label = name or "report"
    if not data.strip():
        raise InputError(f"{label}: empty file")
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data[:4] == b"PK\x03\x04":
        entries = _zip_entries(data)
        if entries is not None and entries > MAX_ZIP_ENTRIES:
            raise InputError(f"{label}: a zip archive of {entries} files, not a DOCX document")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                if "word/document.xml" in z.namelist():
                    return "docx"
        except zipfile.BadZipFile as exc:
            raise InputError(f"{label}: corrupt zip archive ({exc})") from exc
        raise InputError(f"{label}: a zip archive but not a DOCX document (no word/document.xml)")
    if ext == "pdf":
        raise InputError(f"{label}: not a PDF file (no %PDF- header)")
    if ext in ("docx", "docm", "dotx"):
        raise InputError(f"{label}: not a DOCX file (not a zip archive)")
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise InputError(f"{label}: old binary Word/Office file: save it as .docx or .pdf first")
    if looks_binary(data):
        raise InputError(f"{label}: binary data, not a report (supported: {', '.join(FORMATS)})")
    head = data[:4096]
    if ext in ("html", "htm", "xhtml") or _HTML.match(head) or len(_HTML_TAGS.findall(head)) >= 3:
        return "html"
    if ext in ("md", "markdown"):
        return "md"
    if ext in ("", "text") and _MD.search(head.decode("utf-8", "replace")):
        return "md"
    return "txt"
