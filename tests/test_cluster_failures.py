"""What `--cluster` does when the cluster is not what it should be (issue 24), without
starting Dask: more local workers than cores is a usage error; an address where something
other than a Dask scheduler listens (a web server, a socket that accepts and says nothing,
one that hangs up) is one line and exit 1 within the connect timeout. The faults that need
a real cluster (no worker left, the scheduler lost) are in tests/test_cluster.py.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from dreamfx.config.request import DreamRequest
from dreamfx.errors import SettingsError
from dreamfx.runs.dreams import plan_dream

from .conftest import FAST, photo

#: For an in-process run: no default cluster from the environment.
NO_CLUSTER = {"DREAMFX_CLUSTER": None}


def short_connect_timeout(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The dask executor's ``connect_timeout`` (30 s, which no option of `run` sets) made ``seconds``."""
    from dreamfx_executors.dask_engine import DaskExecutor

    real = DaskExecutor.__init__

    def init(self, address: str, **params: object) -> None:
        real(self, address, **{**params, "connect_timeout": seconds})

    monkeypatch.setattr(DaskExecutor, "__init__", init)


# -- row 8: local workers ---------------------------------------------------------------------------

def test_local_workers_are_at_most_the_cores(host, tmp_path, monkeypatch):
    from dreamfx_executors import dask_engine

    photo(tmp_path / "in" / "a.png")
    folder, out = str(tmp_path / "in"), str(tmp_path / "out")
    monkeypatch.setattr(dask_engine, "local_cores", lambda: 4)
    assert plan_dream(DreamRequest([folder], out, cluster="local"), host).executor.workers == 4
    assert plan_dream(DreamRequest([folder], out, cluster="local:4"), host).executor.workers == 4
    with pytest.raises(SettingsError, match=r"local:5: this machine has 4 cores; .* at most \(local:4\)"):
        plan_dream(DreamRequest([folder], out, cluster="local:5"), host)
    monkeypatch.setattr(dask_engine, "local_cores", lambda: 1)
    with pytest.raises(SettingsError, match=r"this machine has 1 core; "):
        plan_dream(DreamRequest([folder], out, cluster="local:2"), host)


def test_local_1000_is_a_usage_error_naming_the_cores(cli, tmp_path):
    from dreamfx_executors.reach import local_cores

    photo(tmp_path / "in" / "a.png")
    started = time.monotonic()
    run = cli("run", tmp_path / "in", "-o", tmp_path / "out", "--cluster", "local:1000", *FAST, env=NO_CLUSTER)
    run.one_line_error(2, "--cluster local:1000", f"has {local_cores()} core", f"(local:{local_cores()})")
    assert time.monotonic() - started < 30 and not (tmp_path / "out").exists()


# -- row 13: not a Dask scheduler ---------------------------------------------------------------------

class FakeServer:
    """A TCP server on 127.0.0.1 that is not a Dask scheduler: ``http`` reads what comes and
    answers as a web server does; ``silent`` accepts and says nothing; ``hangup`` accepts
    and closes."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            self.conns.append(conn)
            if self.mode == "hangup":
                conn.close()
            elif self.mode == "http":
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n"
                                 b"\r\nBad Request")
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


@pytest.fixture
def fake_server(request) -> Iterator[FakeServer]:
    server = FakeServer(request.param)
    yield server
    server.close()


@pytest.mark.parametrize("fake_server, words", [
    ("http", ("answered 'HTTP/1.1 400 Bad Request', not as a Dask scheduler does", "the dashboard's port?")),
    ("silent", ("it accepted the connection but said nothing in 3 s", "not a Dask scheduler?")),
    ("hangup", ("it closed the connection without a word",)),
], indirect=["fake_server"])
@pytest.mark.timeout(120)  # before issue 24: a MemoryError traceback, or a hang past the timeout
def test_an_address_that_is_no_dask_scheduler_is_one_line_within_the_connect_timeout(cli, tmp_path, monkeypatch,
                                                                                      fake_server, words):
    short_connect_timeout(monkeypatch, 3.0)
    photo(tmp_path / "in" / "a.png")
    started = time.monotonic()
    run = cli("run", tmp_path / "in", "-o", tmp_path / "out", "--cluster", fake_server.address, *FAST,
              env=NO_CLUSTER)
    seconds = time.monotonic() - started
    run.one_line_error(1, f"cannot reach the Dask scheduler at {fake_server.address}: ", *words)
    assert seconds < 3.0 + 15, seconds  # the connect timeout, and room for a loaded machine
    if fake_server.mode != "silent":
        assert seconds < 15, seconds  # it answered: no need to wait
    assert not list(Path(tmp_path / "out").glob("*.png"))


@pytest.mark.parametrize("fake_server", ["http"], indirect=True)
def test_a_scheduler_file_pointing_at_a_web_server_is_one_line(cli, tmp_path, fake_server):
    photo(tmp_path / "in" / "a.png")
    scheduler_file = tmp_path / "scheduler.json"
    scheduler_file.write_text(f'{{"type": "Scheduler", "address": "{fake_server.address}"}}')
    run = cli("run", tmp_path / "in", "-o", tmp_path / "out", "--cluster", scheduler_file, *FAST, env=NO_CLUSTER)
    run.one_line_error(1, f"cannot reach the Dask scheduler at {scheduler_file}: ", "HTTP/1.1 400 Bad Request")


def test_the_probe_bounds_what_it_reads_and_waits():
    """Nothing listening: refused until the timeout, as Dask retries; a bad port; other
    schemes are Dask's to check."""
    from dreamfx_executors.reach import NotAScheduler, probe

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    started = time.monotonic()
    with pytest.raises(NotAScheduler, match=r"no connection in 1 s \(Connection refused\)"):
        probe(f"tcp://127.0.0.1:{port}", 1.0)
    assert 0.9 < time.monotonic() - started < 10
    with pytest.raises(NotAScheduler, match="port"):
        probe("tcp://127.0.0.1:http", 1.0)
    assert probe("tls://127.0.0.1:1", 7.0) == 7.0
