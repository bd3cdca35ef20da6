"""What every request to ``dreamfx explore`` passes before it reaches a route: the access
token, the Host header (DNS rebinding), the Origin header (cross-site requests) and the size
of the body. A plain ASGI middleware, so HTTP and websocket requests are checked alike.

The token comes from a ``token`` query parameter (every endpoint takes it, so curl and
scripts can), an ``Authorization: Bearer`` header, or the cookie the page sets when it is
opened with the token. A request without it is answered 401; a websocket without it is
closed before it is accepted (1008, policy violation).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

#: Bytes of one request body (an upload with its multipart framing): a photo of up to
#: :data:`dreamfx.explore.photos.MAX_UPLOAD_BYTES` plus room for the form's other fields.
MAX_BODY_BYTES = 32 * 1024 * 1024 + 64 * 1024
LOOPBACK = ("127.0.0.1", "localhost", "::1")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def new_token() -> str:
    """A fresh access token: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split_host(value: str) -> tuple[str, str | None]:
    """``"127.0.0.1:8765"`` -> ``("127.0.0.1", "8765")``; ``"[::1]:80"`` -> ``("::1", "80")``."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else None
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, port
    return value, None


@dataclass
class Guard:
    """The server's token and the host names it answers to: ``bind`` is the address it
    listens on, ``port`` its port; ``extra_hosts`` (tests: ``testserver``) are accepted too."""

    token: str
    bind: str = "127.0.0.1"
    port: int = 0
    extra_hosts: tuple[str, ...] = ()
    max_body: int = MAX_BODY_BYTES
    names: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.names = {*LOOPBACK, *(h.lower() for h in self.extra_hosts)}
        if self.bind not in ("0.0.0.0", "::", ""):
            self.names.add(self.bind.lower().strip("[]"))

    @property
    def cookie_name(self) -> str:
        """Per port: two servers on one machine keep their own cookie (cookies ignore ports)."""
        return f"dreamfx_token_{self.port}"

    def host_ok(self, value: str | None) -> bool:
        """A Host header naming this server: a loopback name, the address it was asked to
        listen on, or (listening on every address) any IP address; the port, when given,
        must be this server's (0: not yet known, any)."""
        if not value:
            return False
        host, port = _split_host(value)
        if port is not None and self.port and port != str(self.port):
            return False
        if host in self.names:
            return True
        if self.bind in ("0.0.0.0", "::", ""):
            try:
                ipaddress.ip_address(host)
                return True
            except ValueError:
                return False
        return False

    def origin_ok(self, origin: str | None) -> bool:
        """No Origin (curl, scripts) or this server's own (the page)."""
        if origin is None:
            return True
        scheme, _, rest = origin.partition("://")
        return scheme in ("http", "https") and "/" not in rest and self.host_ok(rest)

    def token_ok(self, scope: Scope) -> bool:
        given = request_token(scope, self.cookie_name)
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in scope.get("headers", ()):
        out.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
    return out


def request_token(scope: Scope, cookie_name: str) -> str | None:
    """The token a request carries: query ``token``, ``Authorization: Bearer``, or the cookie."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][-1]
    headers = _headers(scope)
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if "cookie" in headers:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(headers["cookie"])
        except Exception:  # noqa: BLE001 - a malformed cookie header is no token
            return None
        if cookie_name in jar:
            return jar[cookie_name].value
    return None


class BodyTooLarge(Exception):
    pass


async def _json(send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"error": message, "status": status}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """Refuse what :class:`Guard` does not allow before the app sees it."""

    def __init__(self, app: Any, guard: Guard) -> None:
        self.app, self.guard = app, guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        why = None
        if not self.guard.host_ok(headers.get("host")):
            why = (403, f"this server does not answer to Host {headers.get('host')!r}")
        elif not self.guard.origin_ok(headers.get("origin")):
            why = (403, f"requests from {headers.get('origin')!r} are refused (another site)")
        elif not self.guard.token_ok(scope):
            why = (401, "the access token is missing or wrong: open the address dreamfx explore printed "
                        "(it carries ?token=...), or send Authorization: Bearer TOKEN")
        if why is not None:
            if scope["type"] == "websocket":
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 1008, "reason": why[1][:120]})
            else:
                await _json(send, *why, [(b"www-authenticate", b"Bearer")] if why[0] == 401 else [])
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.guard.max_body):
            await _json(send, 413, f"the request body is over the limit of {self.guard.max_body:,} bytes")
            return
        await self._limited(scope, receive, send)

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app with a receive that counts the body's bytes (a chunked body has no
        Content-Length) and a send that notes whether the response started."""
        seen, started = 0, False

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.guard.max_body:
                raise BodyTooLarge
            return message

        async def noting(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, noting)
        except BodyTooLarge:
            if not started:
                await _json(send, 413, f"the request body is over the limit of {self.guard.max_body:,} bytes")
