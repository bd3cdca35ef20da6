"""An exception as the JSON error the explore API answers with (HTTP and websocket alike):
``{"error": MESSAGE, "status": N}``, the command line's message and a 4xx status for a
mistake, a 500 with one line for anything unforeseen."""

from __future__ import annotations

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
    message = str(exc) if status < 500 else f"internal error: {type(exc).__name__}: {exc}"[:500]
    return JSONResponse({"error": message, "status": status}, status_code=status, headers={"Cache-Control": "no-store"})
