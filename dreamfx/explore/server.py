"""Serving ``dreamfx explore``: listen (127.0.0.1 unless asked otherwise), print the ready
line with the token once requests are answered, open the browser, and warm the engine up
behind it (TensorFlow, the default preset's dreamer) so the first dream is quick."""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from dreamfx.errors import SettingsError
from dreamfx.explore.security import Guard, is_loopback, new_token

#: The port ``dreamfx explore`` listens on unless ``--port`` says otherwise (0: any free port).
DEFAULT_PORT = 8765


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a one-line error saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        hint = "; choose another with --port N (0: any free port)" if port else ""
        raise SettingsError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def address(host: str, port: int, token: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


def warm_up(explorer: Any) -> None:
    """Start TensorFlow and build the default dreamer in the background (never fatal): a
    streamed dream of the bundled photo, so its frames' functions are compiled too."""
    def work() -> None:
        try:
            from dreamfx.explore.options import Options

            explorer.dream(Options(), on_frame=lambda frame: None, classify=True)
        except Exception:  # noqa: BLE001 - the first request reports any real problem
            pass

    threading.Thread(target=work, name="dreamfx-explore-warm-up", daemon=True).start()


def serve(photos: Sequence[str], host: str = "127.0.0.1", port: int = DEFAULT_PORT, open_browser: bool = True,
          token: str | None = None, warm: bool = True) -> int:
    """Run the explore server until Ctrl-C; returns the exit status."""
    import uvicorn

    from dreamfx.explore.app import make_app
    from dreamfx.explore.photos import Photos
    from dreamfx.explore.work import Explorer
    from dreamfx.runs.hints import SAMPLE_IMAGE

    explorer = Explorer(Photos(Path(SAMPLE_IMAGE), photos))
    sock = listen(host, port)
    port = sock.getsockname()[1]
    token = token or new_token()
    if not is_loopback(host):
        print(f"dreamfx explore: warning: listening on {host}, not only on this machine: anyone who can reach "
              f"port {port} and has the token can dream here and upload photos", file=sys.stderr, flush=True)
    app = make_app(explorer, Guard(token, host, port))
    from uvicorn.config import WS_PROTOCOLS

    ws = "websockets-sansio" if "websockets-sansio" in WS_PROTOCOLS else "websockets"
    # no per-message deflate: the frames and PNGs it would squeeze are compressed images in
    # base64 (a quarter smaller for 8 ms of a 2-core CPU per dream's PNG, as long again to inflate)
    config = uvicorn.Config(app, log_level="warning", ws=ws, lifespan="off", access_log=False,
                            ws_max_size=1024 * 1024, ws_per_message_deflate=False)
    server = uvicorn.Server(config)
    url = address(host if host not in ("0.0.0.0", "::") else "127.0.0.1", port, token)

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.01)
        if server.started:
            print(f"dreamfx explore: {url}", flush=True)
            if open_browser:
                import webbrowser

                webbrowser.open(url)
            if warm:
                warm_up(explorer)

    threading.Thread(target=announce, name="dreamfx-explore-ready", daemon=True).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        explorer.close()  # the uploaded masks' private files
    return 0
