"""Before Dask is handed an address: how many local workers this machine can hold, and
whether a ``tcp://`` address answers as a Dask scheduler does (within the connect timeout).

Dask's own client trusts what answers: a server that accepts and says nothing holds it past
its connect timeout (it reads the handshake without one), and an HTTP server's answer
(``HTTP/1.1``: 8 bytes read as a message length) makes it allocate exabytes. A scheduler
sends its handshake as soon as it accepts a connection: a small message of Dask's framing,
which :func:`probe` reads with a deadline and bounds before Dask connects, after sending a
client's handshake as Dask does.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
import struct
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

#: Dask's default scheduler port, when an address names none.
DEFAULT_PORT = 8786
#: A scheduler's handshake is a few dozen bytes; anything longer is not one.
HANDSHAKE_MAX = 1 << 16
#: Seconds of silence after which the probe ends a would-be HTTP request (a dashboard's port).
NUDGE_AFTER = 1.0
_LENGTH = struct.Struct("Q")  # Dask's framing: native unsigned 64-bit lengths


class NotAScheduler(Exception):
    """What answers at the address is not a Dask scheduler, or nothing answered in time."""


def local_cores() -> int:
    """The cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def scheduler_address(address: str) -> str:
    """``address`` itself, or the address a scheduler file (``*.json``) holds ('' if it holds none)."""
    if "://" in address or not address.endswith(".json"):
        return address
    try:
        with open(Path(address).expanduser(), "rb") as f:
            found = json.loads(f.read(HANDSHAKE_MAX).decode("utf-8", "replace")).get("address")
    except (OSError, ValueError, AttributeError):
        return ""  # Dask reads it again and says what is wrong
    return found if isinstance(found, str) else ""


def probe(address: str, timeout: float) -> float:
    """Check that the scheduler at ``address`` (``tcp://host[:port]``) answers Dask's
    handshake within ``timeout`` seconds; return the seconds left of it. Other schemes (TLS,
    UCX) are left to Dask. Raises :class:`NotAScheduler` with the reason."""
    parts = urlsplit(address)
    if parts.scheme != "tcp" or not parts.hostname:
        return timeout
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise NotAScheduler(f"its port is not a number ({exc})") from exc
    deadline = time.monotonic() + timeout
    sock = _connect(parts.hostname, port, deadline, timeout)
    with sock:
        try:
            sock.sendall(_handshake())  # as Dask's client does: a web server answers it
        except OSError as exc:
            raise _failed(exc, b"") from exc
        # a scheduler answers at once; a web server waits for the end of a request's headers
        nudge = time.monotonic() + min(NUDGE_AFTER, timeout / 4)
        head = _read(sock, _LENGTH.size, deadline, timeout, nudge)
        (length,) = _LENGTH.unpack(head)
        if not 2 * _LENGTH.size <= length <= HANDSHAKE_MAX:
            raise NotAScheduler(f"it answered {_quote(head + _more(sock))}, not as a Dask scheduler does"
                                + (" (a web server: the dashboard's port? a scheduler's is usually 8786)"
                                   if head.startswith((b"HTTP/", b"<")) else ""))
        body = _read(sock, length, deadline, timeout)
        (frames,) = _LENGTH.unpack_from(body)
        if frames < 1 or _LENGTH.size * (1 + frames) > length:
            raise NotAScheduler(f"it answered {_quote(head + body)}, not as a Dask scheduler does")
    return max(0.0, deadline - time.monotonic())


def _handshake() -> bytes:
    """A client's handshake in Dask's framing (what its client sends first): the scheduler
    then sees a client that came and went, and logs nothing; a web server answers it."""
    try:
        import msgpack  # Dask's own dependency
    except ImportError:
        return b""
    info = {"compression": None, "python": tuple(sys.version_info[:3]),
            "pickle-protocol": min(pickle.HIGHEST_PROTOCOL, 5)}
    payload = msgpack.packb(info, use_bin_type=True)
    body = _LENGTH.pack(1) + _LENGTH.pack(len(payload)) + payload
    return _LENGTH.pack(len(body)) + body


def _connect(host: str, port: int, deadline: float, timeout: float) -> socket.socket:
    """A connection, retried until ``deadline`` as Dask retries (a scheduler still starting)."""
    pause, last = 0.05, None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise NotAScheduler(f"no connection in {timeout:g} s ({last or 'timed out'})")
        try:
            return socket.create_connection((host, port), timeout=left)
        except socket.timeout:
            last = "timed out"
        except OSError as exc:
            last = exc.strerror or type(exc).__name__
        time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
        pause = min(1.0, pause * 2)


def _read(sock: socket.socket, n: int, deadline: float, timeout: float, nudge: float | None = None) -> bytes:
    """Exactly ``n`` bytes before ``deadline``, or why not; with nothing by ``nudge``, an
    empty line (``CRLF CRLF``) is sent once, which ends an HTTP request's headers."""
    data = b""
    while len(data) < n:
        now = time.monotonic()
        left = deadline - now
        try:
            if left <= 0:
                raise socket.timeout
            if nudge is not None and not data and now >= nudge:
                sock.sendall(b"\r\n\r\n")
                nudge = None
            sock.settimeout(min(left, nudge - now) if nudge is not None else left)
            chunk = sock.recv(n - len(data))
        except socket.timeout:
            if nudge is not None and time.monotonic() < deadline:
                continue
            said = f"said {_quote(data)} and then nothing" if data else "said nothing"
            raise NotAScheduler(f"it accepted the connection but {said} in {timeout:g} s: not a Dask "
                                "scheduler?") from None
        except OSError as exc:
            raise _failed(exc, data) from exc
        if not chunk:
            raise _failed(None, data)
        data += chunk
    return data


def _failed(exc: OSError | None, data: bytes) -> NotAScheduler:
    """The connection closed (``exc`` None or a reset) or failed after ``data``."""
    if exc is None or isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        said = f"after {_quote(data)}" if data else "without a word"
        return NotAScheduler(f"it closed the connection {said}: not a Dask scheduler?")
    return NotAScheduler(f"the connection failed ({exc.strerror or type(exc).__name__})")


def _more(sock: socket.socket) -> bytes:
    """What else has arrived already (for the message), without waiting."""
    try:
        sock.settimeout(0.05)
        return sock.recv(72)
    except OSError:
        return b""


def _quote(data: bytes) -> str:
    """The first line of ``data``, short and printable."""
    text = data.split(b"\r\n", 1)[0].split(b"\n", 1)[0][:60]
    return repr(text.decode("ascii", "backslashreplace"))
