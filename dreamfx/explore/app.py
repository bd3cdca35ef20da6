"""The routes of ``dreamfx explore`` (Starlette): the page and its static files, and the
HTTP API the page itself uses (docs/explore.md). Every request has passed
:class:`dreamfx.explore.security.GuardMiddleware` (token, Host, Origin, body size) first.

Errors are JSON, ``{"error": MESSAGE, "status": N}``, with the message the command line
prints for the same mistake and a 4xx status (400 a setting or photo, 404 an unknown photo
id, 413 too many bytes or pixels, 415 not an image, 422 a plugin's failure); anything
unforeseen is a 500 that tells the client nothing of the exception (the server's stderr gets
it, under an id the answer quotes), and the server goes on.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from dreamfx.explore.options import parse_options
from dreamfx.explore.replies import error_response
from dreamfx.explore.photos import PhotoError, png_of
from dreamfx.explore.security import Guard, GuardMiddleware
from dreamfx.explore.work import Explorer

STATIC = {"app.js": "text/javascript", "style.css": "text/css", "index.html": "text/html"}
#: What the page may load and connect to: itself only.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def static_file(name: str) -> bytes:
    return resources.files("dreamfx.explore").joinpath("static", name).read_bytes()


def _query_options(request: Request) -> Any:
    query = request.query_params
    return parse_options({k: query.getlist(k) for k in ("photo", "preset", "seed", "color")}, query.getlist("set"))


def make_app(explorer: Explorer, guard: Guard) -> Any:
    """The ASGI application: the routes behind the guard."""
    from dreamfx.explore.live import live

    async def page(request: Request) -> Response:
        response = Response(static_file("index.html"), media_type="text/html", headers=PAGE_HEADERS)
        if request.query_params.get("token"):  # the address printed: keep the token for the page's requests
            response.set_cookie(guard.cookie_name, guard.token, httponly=True, samesite="strict", path="/")
        return response

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return error_response(PhotoError(f"no file {name[:60]!r}", 404))
        return Response(static_file(name), media_type=STATIC[name], headers=PAGE_HEADERS)

    async def call(fn: Any, *args: Any) -> Response:
        try:
            out = await run_in_threadpool(fn, *args)
            return out if isinstance(out, Response) else JSONResponse(out, headers={"Cache-Control": "no-store"})
        except Exception as exc:  # noqa: BLE001 - one bad request never stops the server
            return error_response(exc)

    async def photos(request: Request) -> Response:
        return JSONResponse({"photos": [p.describe() for p in explorer.photos.all()]})

    async def photo_png(request: Request) -> Response:
        return await call(lambda: Response(png_of(explorer.photos.get(request.path_params["id"])),
                                           media_type="image/png", headers={"Cache-Control": "private, max-age=3600"}))

    async def uploaded(request: Request, field: str) -> tuple[bytes, str | None]:
        """The bytes and name of the one file in the multipart field ``field``."""
        async with request.form(max_files=1, max_fields=8) as form:  # closed: its spooled files too
            file = form.get(field)
            if not isinstance(file, UploadFile):
                raise PhotoError(f"send the {field} as a multipart file field named '{field}'", 400)
            return await file.read(), file.filename

    def receiver(field: str, store: Callable[[], Any]) -> Callable[[Request], Any]:
        """The route that takes an upload in ``field`` into ``store()`` (the photos, the masks)."""

        async def receive(request: Request) -> Response:
            try:
                data, name = await uploaded(request, field)
            except Exception as exc:  # noqa: BLE001
                return error_response(exc)
            return await call(lambda: store().upload(data, name).describe())

        return receive

    upload = receiver("photo", lambda: explorer.photos)

    async def masks(request: Request) -> Response:
        return JSONResponse({"masks": [m.describe() for m in explorer.masks.all()]}, headers={"Cache-Control": "no-store"})

    mask_upload = receiver("mask", lambda: explorer.masks)

    async def mask_file(request: Request) -> Response:
        """The mask as uploaded (the file the dream's command reads: ``--mask NAME``)."""
        def work() -> Response:
            mask, data = explorer.masks.read(request.path_params["id"])
            return Response(data, media_type="application/octet-stream", headers={
                "Content-Disposition": f'attachment; filename="{_header_safe(mask.name)}"', "Cache-Control": "no-store"})

        return await call(work)

    async def mask_remove(request: Request) -> Response:
        return await call(lambda: {"removed": explorer.masks.remove(request.path_params["id"]).id})

    async def presets(request: Request) -> Response:
        return await call(lambda: {"presets": explorer.presets()})

    async def layers(request: Request) -> Response:
        return await call(lambda: explorer.layers(_query_options(request)))

    async def responses(request: Request) -> Response:
        return await call(lambda: explorer.responses(_query_options(request), request.query_params.get("layer")))

    async def oip(request: Request) -> Response:
        return await call(lambda: explorer.oip(_query_options(request), request.query_params.get("layer"),
                                               request.query_params.get("maps")))

    async def atlas(request: Request) -> Response:
        return await call(lambda: explorer.atlas(_query_options(request), request.query_params.get("layer"),
                                                 request.query_params.get("maps")))

    async def panel(request: Request) -> Response:
        return await call(lambda: Response(explorer.panel(request.path_params["id"], request.query_params.get("height")),
                                           media_type="image/png", headers={"Cache-Control": "private, max-age=3600"}))

    async def dream(request: Request) -> Response:
        """``POST /api/dream``: multipart or urlencoded form (``photo`` file or id, ``preset``,
        repeatable ``set``, ``seed``, ``color``, ``mask`` file or id); the PNG with provenance,
        or JSON with ``?format=json``."""
        try:
            async with request.form(max_files=2, max_fields=200) as form:
                fields = {k: form.getlist(k) for k in ("photo", "preset", "seed", "color", "mask")}
                file = next((v for v in fields["photo"] if isinstance(v, UploadFile)), None)
                data = await file.read() if file is not None else None
                sent_mask = next((v for v in fields["mask"] if isinstance(v, UploadFile)), None)
                mask_data = await sent_mask.read() if sent_mask is not None else None
                for key in ("photo", "mask"):
                    fields[key] = [v for v in fields[key] if not isinstance(v, UploadFile)]
                options = parse_options(fields, form.getlist("set"))
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)
        wants_json = request.query_params.get("format") == "json"

        def work() -> Response:
            nonlocal options
            from dataclasses import replace

            if data is not None:
                options = replace(options, photo=explorer.photos.upload(data, file.filename).id)
            if mask_data is not None:
                options = replace(options, mask=explorer.masks.upload(mask_data, sent_mask.filename).id)
            outcome = explorer.dream(options, classify=wants_json)
            from dreamfx.explore.maps import data_url

            if wants_json:
                return JSONResponse({**outcome.summary, "png": data_url(outcome.png)})
            stem = outcome.photo.name.replace("\\", "/").rpartition("/")[2].rpartition(".")[0] or "photo"
            headers = {"Content-Disposition": f'inline; filename="{_header_safe(stem)}-dream.png"',
                       "X-Dreamfx-Score-Before": repr(outcome.summary["score_before"]),
                       "X-Dreamfx-Score-After": repr(outcome.summary["score_after"]),
                       "X-Dreamfx-Photo": outcome.photo.id, "Cache-Control": "no-store",
                       "X-Dreamfx-Panel": outcome.summary["panel"],
                       "X-Dreamfx-Command": _header_safe(outcome.summary["command"])}
            return Response(outcome.png, media_type="image/png", headers=headers)

        return await call(work)

    routes = [
        Route("/", page), Route("/static/{name}", static),
        Route("/api/photos", photos), Route("/api/photos", upload, methods=["POST"]),
        Route("/api/photos/{id}.png", photo_png),
        Route("/api/masks", masks), Route("/api/masks", mask_upload, methods=["POST"]),
        Route("/api/masks/{id}", mask_file), Route("/api/masks/{id}", mask_remove, methods=["DELETE"]),
        Route("/api/presets", presets), Route("/api/layers", layers), Route("/api/responses", responses),
        Route("/api/oip", oip), Route("/api/atlas", atlas), Route("/api/dream", dream, methods=["POST"]),
        Route("/api/dreams/{id}/panel.png", panel),
        WebSocketRoute("/api/live", live(explorer)),
    ]
    app = Starlette(routes=routes, exception_handlers={Exception: lambda request, exc: error_response(exc),
                                                       404: _not_found, 405: _not_allowed})
    return GuardMiddleware(app, guard)


def _header_safe(text: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 and c != '"' else "_" for c in text)[:2000]


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": f"no endpoint {request.url.path[:80]}", "status": 404}, status_code=404)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": f"{request.method} is not allowed on {request.url.path[:80]}", "status": 405},
                        status_code=405)


def dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=False, default=str)
