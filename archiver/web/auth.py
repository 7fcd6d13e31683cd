"""Who is asking: bearer tokens or a login session, two roles, and the security headers.

With no ``web.tokens`` the interface is open (it refuses to start off loopback
then, see ``cli/serve.py``). With tokens, every request but the login form and
the stylesheet needs one: ``Authorization: Bearer <token>`` or the session cookie
the login form sets. ``reader`` sees everything; ``editor`` may also upload and
start runs. Wrong tokens slow down per client address (web/throttle.py).
State-changing requests must come from our own origin (Origin / Sec-Fetch-Site),
so a page elsewhere cannot post with our cookie.

The session cookie is HttpOnly, SameSite=Strict, and holds a signed session, not
the token (web/access.py). Cookies are per host, not per port, so the replay origin
must never be able to set it: the replay strips every ``Set-Cookie`` and sandboxes
archived documents, and where the browser allows it the cookie is ``__Host-archiver``
(Secure, Path=/, no Domain: a cookie of that name can only come from a secure context
of this very host, never from a plain-http page). Browsers allow Secure cookies on
https and on loopback (http://127.0.0.1, http://localhost); served over plain http
on another address, the cookie is ``archiver_session`` without Secure (put TLS in
front to get the prefix there too).
"""
from __future__ import annotations

from fastapi import HTTPException, Request

from .access import is_loopback

HOST_COOKIE = "__Host-archiver"
PLAIN_COOKIE = "archiver_session"
OPEN_PATHS = ("/login", "/static/style.css")
ROLES = {"reader": 1, "editor": 2}


def cookie_secure(request: Request) -> bool:
    """Whether this browser accepts a Secure cookie from us: https, or loopback over http."""
    return request.url.scheme == "https" or is_loopback(request.url.hostname or "")


def cookie_name(request: Request) -> str:
    return HOST_COOKIE if cookie_secure(request) else PLAIN_COOKIE


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def current_role(request: Request) -> str:
    """The caller's role; "editor" when the interface is open (no tokens configured)."""
    return getattr(request.state, "role", None) or "editor"


def require_editor(request: Request) -> None:
    if ROLES.get(current_role(request), 0) < ROLES["editor"]:
        raise HTTPException(status_code=403, detail="editor role required")


def same_origin(request: Request) -> bool:
    """A POST must come from a page of ours (or from a non-browser client, which sends neither header)."""
    site = request.headers.get("sec-fetch-site")
    if site:  # browsers that send it say exactly where the request comes from ("same-site" is the replay port)
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin:
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        return origin == own
    return True


def security_headers(replay_origin: str) -> dict[str, str]:
    csp = ("default-src 'self'; img-src 'self'; style-src 'self'; script-src 'none'; object-src 'none'; "
           f"frame-src {replay_origin}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY",
            "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Resource-Policy": "same-origin"}
