"""The websocket ``/api/live``: dreams with their frames streamed round by round.

The client sends ``{"type": "dream", "id": N, "photo": ID, "preset": NAME, "set":
["KEY=VALUE", ...], "seed": S, "color": "gray", "mask": ID}`` (``mask``: an uploaded mask, or null); the server answers with ``{"type":
"frame", "id": N, "round": R, "rounds": T, "score": X, "image": DATA_URL}`` after each
round, then ``{"type": "done", "id": N, ...}`` (the PNG with provenance as a data URL, the
scores, the digit bars before and after, the command line) or ``{"type": "error", "id": N,
"error": MESSAGE, "status": 4xx}``. A newer message cancels the dream of an older one
(``{"type": "cancelled", "id": N}``): dreams are never queued. A closed socket cancels its
dream too.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from dreamfx.explore.options import parse_options
from dreamfx.explore.replies import error_response
from dreamfx.explore.sessions import Cancelled, Channel, Frame
from dreamfx.explore.work import Explorer

#: The largest message a client may send (a dream request is a few hundred bytes).
MAX_MESSAGE = 64 * 1024


def live(explorer: Explorer) -> Any:
    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        channel = Channel()
        loop = asyncio.get_running_loop()
        lock = asyncio.Lock()
        tasks: set[asyncio.Task[None]] = set()

        async def send(message: dict[str, Any]) -> None:
            async with lock:
                try:
                    await ws.send_text(json.dumps(message, allow_nan=False, default=str))
                except (WebSocketDisconnect, RuntimeError):
                    channel.cancel()

        async def dream(message: dict[str, Any], ticket: int) -> None:
            ident = message.get("id")
            try:
                sets = message.get("set") or []
                options = parse_options({k: message.get(k) for k in ("photo", "preset", "seed", "color", "mask")},
                                        sets if isinstance(sets, list) else [sets])
                photo = explorer.photos.get(options.photo)

                def on_frame(frame: Frame) -> None:
                    from dreamfx.explore.maps import data_url, jpeg
                    from dreamfx.io.images import compose

                    if not channel.current(ticket):
                        return
                    image = jpeg(compose(photo.picture, frame.image, options.color))
                    asyncio.run_coroutine_threadsafe(send({
                        "type": "frame", "id": ident, "round": frame.round, "rounds": frame.rounds,
                        "score": frame.score if frame.score == frame.score else None,
                        "image": data_url(image, "image/jpeg")}), loop)

                outcome = await asyncio.to_thread(explorer.dream, options, on_frame, lambda: channel.check(ticket))
            except Cancelled:
                await send({"type": "cancelled", "id": ident})
                return
            except Exception as exc:  # noqa: BLE001 - one bad request never stops the server
                body = json.loads(error_response(exc).body)
                await send({"type": "error", "id": ident, **body})
                return
            from dreamfx.explore.maps import data_url

            if channel.current(ticket):
                await send({"type": "done", "id": ident, **outcome.summary, "png": data_url(outcome.png)})
            else:
                await send({"type": "cancelled", "id": ident})

        try:
            while True:
                text = await ws.receive_text()
                if len(text) > MAX_MESSAGE:
                    await send({"type": "error", "id": None, "error": "message too long", "status": 413})
                    continue
                try:
                    message = json.loads(text)
                    if not isinstance(message, dict) or message.get("type", "dream") != "dream":
                        raise ValueError("send {\"type\": \"dream\", ...}")
                except ValueError as exc:
                    await send({"type": "error", "id": None, "error": f"not a dream request: {exc}", "status": 400})
                    continue
                task = asyncio.create_task(dream(message, channel.ticket()))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except (WebSocketDisconnect, RuntimeError):
            channel.cancel()
        finally:
            channel.cancel()

    return endpoint
