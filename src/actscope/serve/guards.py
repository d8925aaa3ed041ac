"""What every request passes before a route sees it: the playground's safety rules.

One pure ASGI middleware, so that it sees the body as the bytes arrive:

- the body limit counts the bytes read (chunked uploads too) and answers 413 as soon as the
  limit is passed, without reading the rest;
- the ``Host`` header must be one of the allowed names (the loopback names by default), so a
  DNS-rebinding page cannot reach a server on localhost (400);
- a state-changing request (POST, PUT, DELETE) from a browser must come from the page itself
  (``Origin`` / ``Sec-Fetch-Site``, 403), and POST and PUT must carry JSON (415), so a
  cross-site form cannot start training;
- with a token (a non-loopback bind), every request carries it: ``?token=`` in the URL the
  server prints (the page then gets it as a SameSite cookie) or an ``X-Actscope-Token``
  header (401);
- every response carries security headers (a CSP with no outside sources, no framing,
  nosniff, no referrer).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs, urlsplit

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
MAX_BODY = 16_384  # bytes: a playground config is a few hundred
TOKEN_COOKIE = "actscope_token"
TOKEN_HEADER = "x-actscope-token"
STATE_CHANGING = frozenset({"POST", "PUT", "DELETE", "PATCH"})
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
     b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
     b"frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


@dataclass(frozen=True)
class Access:
    """Who may talk to the server: the allowed ``Host`` names (``"*"``: any) and the token.

    The default is the safe one: loopback names only, no token needed.
    """

    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    token: str | None = None
    max_body: int = MAX_BODY

    @classmethod
    def for_bind(cls, host: str, allowed: tuple[str, ...] = (), token: str | None = None) -> Access:
        """The access rules for a server bound to ``host``: a non-loopback bind needs a token
        (a fresh random one unless given) and accepts the bind address and ``allowed`` as
        Host names (any name on a wildcard bind with no ``allowed``: the token guards it)."""
        if is_loopback(host):
            return cls(LOOPBACK_HOSTS + tuple(allowed), token)
        names = LOOPBACK_HOSTS + tuple(allowed)
        if host in ("0.0.0.0", "::", ""):
            names = names if allowed else ("*",)
        else:
            names += (f"[{host}]" if ":" in host else host,)
        return cls(names, token or secrets.token_urlsafe(18))


def is_loopback(host: str) -> bool:
    """Whether a bind address is reachable from this machine only."""
    return host in ("localhost", "::1", "[::1]") or host.startswith("127.")


def _host_name(value: str) -> str:
    """The name in a Host header, without its port (IPv6 in brackets kept)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    """The middleware: ``Guard(app, access)`` wraps an ASGI app with the rules above."""

    def __init__(self, app, access: Access) -> None:
        self.app, self.access = app, access

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            return await _reply(_with_headers(send, None), *refusal)
        secured = _with_headers(send, self._cookie(scope))
        if scope["method"] in STATE_CHANGING:
            body = await _read_limited(receive, headers, self.access.max_body)
            if body is None:
                return await _reply(secured, 413, f"request body refused: at most {self.access.max_body} "
                                                  "bytes are allowed")
            receive = _replay(body, receive)
        return await self.app(scope, receive, secured)

    def _refusal(self, scope, headers: dict) -> tuple[int, str] | None:
        """(status, message) when the request breaks a rule, else None."""
        host = _host_name(headers.get("host", ""))
        allowed = self.access.allowed_hosts
        if "*" not in allowed and host not in allowed:
            return 400, (f"Host = {_short(host)}: not served here; allowed: {', '.join(allowed)} "
                         "(start the server with --allow-host NAME to add one)")
        if self.access.token is not None and not self._has_token(scope, headers):
            return 401, "missing or wrong access token: open the URL the server printed (with ?token=...)"
        if scope["method"] in STATE_CHANGING:
            return _cross_site(headers) or _not_json(scope["method"], headers)
        return None

    def _has_token(self, scope, headers: dict) -> bool:
        given = [headers.get(TOKEN_HEADER, ""), *_query_tokens(scope)]
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except CookieError:  # a malformed Cookie header is simply no token
            pass
        if TOKEN_COOKIE in cookie:
            given.append(cookie[TOKEN_COOKIE].value)
        return any(self._matches(g) for g in given)

    def _matches(self, given: str) -> bool:
        token = self.access.token  # called only where a token is set
        return bool(given) and token is not None and secrets.compare_digest(given.encode(), token.encode())

    def _cookie(self, scope) -> bytes | None:
        """The token cookie for the page, set when it is opened with the right ``?token=``."""
        if self.access.token is None or not any(self._matches(t) for t in _query_tokens(scope)):
            return None
        return f"{TOKEN_COOKIE}={self.access.token}; Path=/; HttpOnly; SameSite=Strict".encode()


def _query_tokens(scope) -> list[str]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [])


def _cross_site(headers: dict) -> tuple[int, str] | None:
    """403 when a browser says the request comes from another site."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return 403, f"Sec-Fetch-Site = {_short(site)}: actions are accepted from the playground's page only"
    origin = headers.get("origin")
    if origin is not None:
        parts = urlsplit(origin)
        if origin == "null" or parts.netloc.lower() != headers.get("host", "").lower():
            return 403, f"Origin = {_short(origin)}: actions are accepted from the playground's page only"
    return None


def _not_json(method: str, headers: dict) -> tuple[int, str] | None:
    """415 for a POST or PUT that does not say it carries JSON."""
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if method in ("POST", "PUT") and ctype != "application/json":
        return 415, (f"content-type = {_short(ctype or '(none)')}: POST and PUT requests must send "
                     "application/json (an action sends {})")
    return None


async def _read_limited(receive, headers: dict, limit: int) -> bytes | None:
    """The whole body, or None as soon as more than ``limit`` bytes have arrived."""
    declared = headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive):
    """A ``receive`` that gives the app the body already read, then the real messages."""
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _with_headers(send, cookie: bytes | None):
    async def secured(message):
        if message["type"] == "http.response.start":
            extra = list(SECURITY_HEADERS) + ([(b"set-cookie", cookie)] if cookie else [])
            message = {**message, "headers": list(message.get("headers", [])) + extra}
        await send(message)

    return secured


async def _reply(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _short(text: str, limit: int = 60) -> str:
    """Text quoted for a message, cut to ``limit`` characters: replies never echo large input."""
    return repr(text if len(text) <= limit else text[:limit] + "...")
