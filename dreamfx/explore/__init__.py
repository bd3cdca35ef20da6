"""``dreamfx explore``: the article's exploration, live in a browser (issue 26).

A local web app (Starlette behind uvicorn, in the ``explore`` extra): the page in
``static/`` (no build step) and the HTTP and websocket API it uses (docs/explore.md). One
job per module: :mod:`.security` (token, Host, Origin, body size), :mod:`.photos` (photos by
id, uploads), :mod:`.options` (a request's settings, checked as the command line checks
them; "copy as command"), :mod:`.sessions` (warm dreamers, one dream at a time, frames,
cancelling), :mod:`.maps` (responses, patterns, atlas, digit bars), :mod:`.work` (what each
endpoint does), :mod:`.app` (the routes), :mod:`.live` (the websocket), :mod:`.server`
(listening, the ready line, the browser). Nothing below this package imports it.
"""
