"""The pass summary as one JSON POST to ``notify.webhook.url``.

Sent through the project's one HTTP client (net/http.py), so the address policy holds
here as for every fetch: a webhook on a private, loopback or link-local address is refused
unless ``notify.allow_private_addresses`` (else ``fetch.allow_private_addresses``) says
otherwise, checked after DNS and on the connected socket. Redirects are not followed (a
3xx is a failure: a POST's body should not wander). A network error, a timeout, 408, 429
and 5xx are tried again (``retries``, ``backoff_s`` doubling); other answers are final.

A webhook URL's path or query is often its only secret (chat services), and headers carry
tokens: nothing here logs or records either. Only the origin (``public_origin``) is named.
"""
from __future__ import annotations

import json
import time
from typing import Callable
from urllib.parse import urlsplit

from ..config import FetchSettings, NotifySettings
from ..errors import FetchError, FetchRefused, NotifyError
from .retry import Transient, with_retries


def public_origin(url: str) -> str:
    """``scheme://host[:port]``, with ``/…`` when the URL has more: safe to log."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    rest = "/…" if (parts.path not in ("", "/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def scrub(text: str, url: str) -> str:
    """``text`` (an error message) without the URL's credentials, path and query."""
    parts = urlsplit(url)
    secrets = [url, url.split("#", 1)[0], parts.netloc if "@" in parts.netloc else "",
               parts.path + ("?" + parts.query if parts.query else ""), parts.query,
               parts.path if parts.path not in ("", "/") else "", parts.username or "", parts.password or ""]
    for s in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(s, public_origin(url) if s.startswith(parts.scheme + "://") else "…")
    return text


def post(doc: dict, settings: NotifySettings, fetch: FetchSettings, *,
         sleep: Callable[[float], None] = time.sleep) -> int:
    """POST ``doc`` as JSON; returns the number of tries. Raises NotifyError (``context['tries']``)."""
    hook = settings.webhook
    url = hook.url
    if url is None:
        raise NotifyError("no webhook configured")
    allow = fetch.allow_private_addresses if settings.allow_private_addresses is None \
        else settings.allow_private_addresses
    policy = fetch.model_copy(update={"timeout_s": hook.timeout_s, "total_timeout_s": 3 * hook.timeout_s,
                                      "allow_private_addresses": allow, "concurrency": 1})
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "X-Archiver-Schema": doc.get("schema", ""),
               **hook.headers}

    from ..net.http import HttpClient

    with HttpClient(policy) as client:
        def once() -> None:
            try:
                with client.open(url, method="POST", headers=headers, body=body) as answer:
                    status = answer.status
                    _read_some(answer)  # the answer is not used: read a little, so the connection ends cleanly
            except FetchRefused as exc:  # the policy: no retry will change it
                raise NotifyError(scrub(str(exc), url)) from None
            except FetchError as exc:  # refused connection, reset, DNS, timeout: maybe later
                raise Transient(scrub(str(exc), url)) from None
            if 200 <= status < 300:
                return
            if status in (408, 429) or status >= 500:
                raise Transient(f"HTTP {status}")
            if 300 <= status < 400:
                raise NotifyError(f"HTTP {status} (redirects are not followed: give the final URL)")
            raise NotifyError(f"HTTP {status}")

        return with_retries(once, retries=hook.retries, backoff_s=hook.backoff_s, sleep=sleep)


def _read_some(answer, limit: int = 65536) -> None:
    got = 0
    for chunk in answer.iter_raw():
        got += len(chunk)
        if got >= limit:
            return
