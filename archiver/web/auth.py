"""Who is asking: bearer tokens or a login cookie, two roles, and the security headers.

With no ``web.tokens`` the interface is open (it refuses to start off loopback
then, see ``cli/serve.py``). With tokens, every request but the login form and
the stylesheet needs one: ``Authorization: Bearer <token>`` or the HttpOnly,
SameSite=Strict cookie the login form sets. ``reader`` sees everything; ``editor``
may also upload and start runs. State-changing requests must come from our own
origin (Origin / Sec-Fetch-Site), so a page elsewhere cannot post with our cookie.
"""
from __future__ import annotations

import hmac
from typing import Iterable

from fastapi import HTTPException, Request

from ..config import Token

COOKIE = "archiver_token"
OPEN_PATHS = ("/login", "/static/style.css")
ROLES = {"reader": 1, "editor": 2}


def role_for(token: str | None, tokens: Iterable[Token]) -> str | None:
    if not token:
        return None
    found = None
    for t in tokens:  # compare with every token, in constant time each
        if hmac.compare_digest(t.token.encode(), token.encode()):
            found = t.role
    return found


def request_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


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
