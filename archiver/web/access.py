"""Who may use the interface and the replay origin, under which host names: one object both processes share.

The interface (uvicorn) and the replay origin (pywb, a child process) apply the same rules:

* **Host names** (DNS-rebinding defence): a request whose ``Host`` is not one of ours is refused. The
  names are ``web.allowed_hosts``, or derived from the bind address: a loopback bind answers to
  ``localhost`` and loopback addresses; a wildcard bind (0.0.0.0, ::) to any IP address literal and this
  machine's host name (a rebinding attack always comes with the attacker's own name); another address to
  itself. ``"*"`` in the list accepts any name (behind a proxy that checks them).
* **Tokens** (``web.tokens``): kept as SHA-256 digests, compared in constant time; the replay process
  never sees a token itself. A token must be strong (:func:`token_problem`).
* **Sessions**: the login form sets a cookie holding a signed, dated session (itsdangerous), not the
  token: a cookie is sent to every port of a host, so the replay origin receives it too.
* **Replay grants**: a browser that logged in reaches the replay origin through URLs that carry a
  signed grant, ``/c/<grant>/web/...``, valid ``web.replay_grant_s`` seconds. Every URL pywb rewrites
  carries it on (pywb builds them from ``SCRIPT_NAME``), so an archived page's own images and styles load;
  the grant allows reading the replay and nothing else, and it is never the token.
* **Replay scopes**: the replay origin signs, for a framed archived page, the origin that page had on the
  live web (``/o/<scope>/web/...``, web/replay_scope.py); its own scripts may then read that origin's records.

The signing key is random for each ``archiver serve`` (sessions and grants end with it).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
from dataclasses import dataclass, field

from itsdangerous import BadSignature, TimestampSigner

from ..errors import ConfigError

GRANT_PREFIX = "/c/"
SESSION_MAX_AGE_S = 12 * 3600
SCOPE_MAX_AGE_S = 12 * 3600  # a replayed page left open this long loses its own reads (a reload renews them)
MIN_TOKEN_LENGTH = 16
MIN_TOKEN_GUESSES_LOG10 = 18  # zxcvbn's estimate: 10^18 guesses is about 60 bits
ENV = "ARCHIVER_REPLAY_ACCESS"  # how the replay process gets its Access (never on its command line)


def token_problem(token: str) -> str | None:
    """Why a token is too weak to guard an archive, or None. Length, then zxcvbn's estimate of the guesses
    it takes (dictionary words, sequences and repeats count for little)."""
    if len(token) < MIN_TOKEN_LENGTH:
        return f"shorter than {MIN_TOKEN_LENGTH} characters"
    from zxcvbn import zxcvbn

    if zxcvbn(token[:100])["guesses_log10"] < MIN_TOKEN_GUESSES_LOG10:
        return "too easy to guess"
    return None


def check_tokens(tokens) -> None:
    """ConfigError (one line) naming the first weak token by its position, never by its value."""
    for i, t in enumerate(tokens, start=1):
        problem = token_problem(t.token)
        if problem:
            raise ConfigError(f"web.tokens entry {i} ({t.role}) is {problem}: use a random one, e.g. "
                              "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")


def host_name(host_header: str) -> str:
    """The name part of a Host header, lower-cased, without port, brackets or a trailing dot."""
    h = host_header.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    if h.count(":") == 1:
        h = h.split(":", 1)[0]
    return h.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def _is_loopback(host: str) -> bool:
    return host == "localhost" or (_is_ip(host) and ipaddress.ip_address(host).is_loopback)


def default_hosts(bind: str) -> tuple[frozenset[str], bool]:
    """(names, any IP literal) derived from the bind address (module doc)."""
    bind = host_name(bind) if bind.startswith("[") else bind.lower()
    if bind in ("0.0.0.0", "::", ""):
        return frozenset({"localhost", socket.gethostname().lower(), socket.getfqdn().lower()}), True
    if _is_loopback(bind):
        return frozenset({"localhost", "127.0.0.1", "::1", bind}), False
    return frozenset({bind}), False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Access:
    hosts: frozenset[str]
    any_ip: bool = False
    tokens: tuple[tuple[str, str], ...] = ()  # (sha256 of the token, role)
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    grant_s: int = 3600

    @classmethod
    def for_serving(cls, settings, bind: str | None = None, key: bytes | None = None) -> "Access":
        web = settings.web
        if web.allowed_hosts:
            hosts, any_ip = frozenset(h.lower().rstrip(".").strip("[]") for h in web.allowed_hosts), False
        else:
            hosts, any_ip = default_hosts(bind or web.host)
        return cls(hosts=hosts, any_ip=any_ip, tokens=tuple((_digest(t.token), t.role) for t in web.tokens),
                   key=key or secrets.token_bytes(32), grant_s=web.replay_grant_s)

    @classmethod
    def open(cls, bind: str) -> "Access":
        """No tokens (a loopback-only interface), host names derived from the bind address."""
        hosts, any_ip = default_hosts(bind)
        return cls(hosts=hosts, any_ip=any_ip)

    # ---- host names ------------------------------------------------------------------------
    def host_allowed(self, host_header: str | None) -> bool:
        if not host_header:
            return False
        name = host_name(host_header)
        return "*" in self.hosts or name in self.hosts or (self.any_ip and _is_ip(name))

    # ---- tokens ----------------------------------------------------------------------------
    @property
    def required(self) -> bool:
        return bool(self.tokens)

    def role_for(self, token: str | None) -> str | None:
        if not token:
            return None
        d, found = _digest(token), None
        for digest, role in self.tokens:  # compare with every one, in constant time each
            if hmac.compare_digest(digest, d):
                found = role
        return found

    # ---- signed sessions and replay grants --------------------------------------------------
    def _signer(self, purpose: str) -> TimestampSigner:
        return TimestampSigner(self.key, salt=f"archiver-{purpose}")

    def session(self, role: str) -> str:
        return self._signer("session").sign(role.encode()).decode()

    def session_role(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            role = self._signer("session").unsign(value, max_age=SESSION_MAX_AGE_S).decode()
        except (BadSignature, UnicodeDecodeError):
            return None
        return role if role in {r for _, r in self.tokens} else None

    def grant(self) -> str:
        return self._signer("replay").sign(b"r").decode()

    def grant_ok(self, value: str) -> bool:
        try:
            return self._signer("replay").unsign(value, max_age=self.grant_s) == b"r"
        except BadSignature:
            return False

    def scope(self, origin: str) -> str:
        """A signed replay scope naming ``origin`` (URL-safe: it is a path segment)."""
        raw = base64.urlsafe_b64encode(origin.encode("utf-8")).rstrip(b"=")
        return self._signer("scope").sign(raw).decode()

    def scope_origin(self, value: str) -> str | None:
        """The origin a scope names, or None when it is forged, foreign or too old."""
        try:
            raw = self._signer("scope").unsign(value, max_age=SCOPE_MAX_AGE_S)
            return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4)).decode("utf-8")
        except (BadSignature, ValueError):
            return None

    # ---- to the replay process ----------------------------------------------------------------
    def to_env(self) -> str:
        return json.dumps({"hosts": sorted(self.hosts), "any_ip": self.any_ip, "tokens": list(self.tokens),
                           "key": base64.b64encode(self.key).decode(), "grant_s": self.grant_s})

    @classmethod
    def from_env(cls, value: str) -> "Access":
        d = json.loads(value)
        return cls(hosts=frozenset(d["hosts"]), any_ip=d["any_ip"], tokens=tuple(tuple(t) for t in d["tokens"]),
                   key=base64.b64decode(d["key"]), grant_s=d["grant_s"])


def is_loopback(host: str) -> bool:
    return _is_loopback(host_name(host) if host.startswith("[") else host.lower())


__all__ = ["Access", "GRANT_PREFIX", "check_tokens", "token_problem", "host_name", "default_hosts", "is_loopback"]
