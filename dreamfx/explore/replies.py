"""An exception as the JSON error the explore API answers with (HTTP and websocket alike):
``{"error": MESSAGE, "status": N}``, the command line's message and a 4xx status for a
mistake. Anything unforeseen is a 500 whose answer says nothing of the exception (its text
may name files, settings or code on the server): the exception goes to the server's stderr
as one line, with an id that the answer quotes, so a user can point at it."""

from __future__ import annotations

import secrets
import sys
import traceback

from starlette.responses import JSONResponse

from dreamfx.errors import DreamfxError, ImageError, PluginError
from dreamfx.explore.photos import PhotoError
from dreamfx.explore.sessions import Cancelled


def error_response(exc: BaseException) -> JSONResponse:
    """An exception as the JSON error the API answers with."""
    if isinstance(exc, PhotoError):
        status = exc.status
    elif isinstance(exc, Cancelled):
        status = 409
    elif isinstance(exc, PluginError):
        status = 422
    elif isinstance(exc, (DreamfxError, ImageError)):
        status = 400
    else:
        status = 500
    if status < 500:
        message = str(exc)
    else:
        incident = secrets.token_hex(4)
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
        line = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:2000]
        print(f"dreamfx explore: internal error {incident}: {line}{where}", file=sys.stderr, flush=True)
        message = f"internal error {incident}: the server's log says more"
    return JSONResponse({"error": message, "status": status}, status_code=status, headers={"Cache-Control": "no-store"})
