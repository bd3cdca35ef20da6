"""dreamfx explore's HTTP and websocket API, in process (Starlette's test client): the guard
(token, Host, Origin, body size), photos by id and uploads (bytes, pixels, non-images), dreams
with the provenance and the command line that repeats them, the maps' endpoints, frames
round by round, a newer request cancelling an older one, and the dreamers' LRU."""

from __future__ import annotations

import io
import json
import shlex
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette", reason="dreamfx explore needs the explore extra (make test installs it)")
with warnings.catch_warnings():  # Starlette 1.x drives its test client with httpx2 (the test extra installs it
    # from Python 3.11 on); with httpx alone (Python 3.10) it warns, and the client works the same
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from dreamfx.explore.app import make_app  # noqa: E402
from dreamfx.explore.photos import Photos  # noqa: E402
from dreamfx.explore.security import Guard  # noqa: E402
from dreamfx.explore.sessions import Cancelled, Studio  # noqa: E402
from dreamfx.explore.work import Explorer  # noqa: E402
from dreamfx.runs.hints import SAMPLE_IMAGE  # noqa: E402

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: One step, one round: every dream here is quick.
QUICK = ["optimizer.steps=1", "loop.rounds=1"]


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("explore") / "small.png"
    with Image.open(SAMPLE_IMAGE) as img:
        img.convert("RGB").resize((48, 32), Image.Resampling.LANCZOS).save(path)
    return path


@pytest.fixture(scope="module")
def explorer(photo) -> Explorer:
    return Explorer(Photos(photo, [photo], max_pixels=100_000, max_bytes=200_000), Studio(keep=2))


@pytest.fixture(scope="module")
def client(explorer) -> TestClient:
    return TestClient(make_app(explorer, Guard(TOKEN, extra_hosts=("testserver",))))


def dream(client, *sets, photo="p1", **fields):
    return client.post("/api/dream", headers=AUTH, data={"photo": photo, "set": [*QUICK, *sets], **fields})


# -- the guard ---------------------------------------------------------------------------------


def test_every_request_needs_the_token(client):
    for path in ("/", "/api/photos", "/api/presets", "/static/app.js", "/api/photos/p1.png"):
        answer = client.get(path)
        assert answer.status_code == 401 and "token" in answer.json()["error"], path
    assert client.get("/api/photos", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/photos?token=wrong").status_code == 401
    assert client.post("/api/dream", data={"photo": "p1"}).status_code == 401
    assert client.get("/api/photos", params={"token": TOKEN}).status_code == 200
    assert client.get("/api/photos", headers=AUTH).status_code == 200


def test_the_page_sets_a_cookie_that_then_carries_the_token(explorer):
    fresh = TestClient(make_app(explorer, Guard(TOKEN, port=0, extra_hosts=("testserver",))))
    page = fresh.get("/", params={"token": TOKEN})
    assert page.status_code == 200 and "<script" in page.text
    assert "httponly" in page.headers["set-cookie"].lower() and "samesite=strict" in page.headers["set-cookie"].lower()
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert fresh.get("/api/photos").status_code == 200  # the cookie alone


def test_host_and_origin_are_checked(client):
    assert client.get("/api/photos", headers={**AUTH, "Host": "evil.example"}).status_code == 403
    assert client.get("/api/photos", headers={**AUTH, "Origin": "http://evil.example"}).status_code == 403
    assert client.get("/api/photos", headers={**AUTH, "Origin": "http://testserver"}).status_code == 200
    guard = Guard(TOKEN, "127.0.0.1", 8765)
    assert guard.host_ok("127.0.0.1:8765") and guard.host_ok("localhost:8765") and guard.host_ok("[::1]:8765")
    assert not guard.host_ok("127.0.0.1:9999") and not guard.host_ok("attacker.com:8765") and not guard.host_ok(None)
    assert guard.origin_ok(None) and guard.origin_ok("http://localhost:8765")
    assert not guard.origin_ok("http://localhost.evil.com:8765") and not guard.origin_ok("null")
    anywhere = Guard(TOKEN, "0.0.0.0", 8765)
    assert anywhere.host_ok("192.168.1.5:8765") and not anywhere.host_ok("rebind.example:8765")


def test_a_websocket_needs_the_token_and_a_good_origin(client):
    for headers in ({}, {**AUTH, "Origin": "http://evil.example"}):
        with pytest.raises(WebSocketDisconnect) as caught:
            with client.websocket_connect("/api/live", headers=headers) as ws:
                ws.receive_text()
        assert caught.value.code == 1008


def test_a_body_over_the_limit_is_refused(explorer):
    small = TestClient(make_app(explorer, Guard(TOKEN, extra_hosts=("testserver",), max_body=10_000)))
    answer = small.post("/api/photos", headers=AUTH, files={"photo": ("big.png", b"x" * 20_000, "image/png")})
    assert answer.status_code == 413 and "limit" in answer.json()["error"]


# -- photos ----------------------------------------------------------------------------------


def test_photos_are_named_by_id_only(client):
    listed = client.get("/api/photos", headers=AUTH).json()["photos"]
    assert [p["id"] for p in listed[:2]] == ["sample", "p1"] and listed[1]["source"] == "command line"
    for bad in ("/etc/passwd", "../p1", "p1.png"):
        answer = dream(client, photo=bad)
        assert answer.status_code == 400 and "cannot name a file" in answer.json()["error"], bad
    assert dream(client, photo="p9").status_code == 404
    assert client.get("/api/photos/p1.png", headers=AUTH).headers["content-type"] == "image/png"


def test_uploads_are_checked_in_bytes_pixels_and_kind(client):
    answer = client.post("/api/photos", headers=AUTH, files={"photo": ("notes.txt", b"hello, not an image", "text/plain")})
    assert answer.status_code == 415 and "not a readable image" in answer.json()["error"]
    big = io.BytesIO()
    Image.new("L", (400, 300), 128).save(big, format="PNG")  # 120,000 pixels: over the fixture's 100,000
    answer = client.post("/api/photos", headers=AUTH, files={"photo": ("big.png", big.getvalue(), "image/png")})
    assert answer.status_code == 413 and "decompression bomb" in answer.json()["error"]
    noisy = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (250, 300, 3), np.uint8)).save(noisy, format="BMP")
    answer = client.post("/api/photos", headers=AUTH, files={"photo": ("noise.bmp", noisy.getvalue(), "image/bmp")})
    assert answer.status_code == 413 and "over the limit of 200,000" in answer.json()["error"]
    good = io.BytesIO()
    Image.new("L", (30, 20), 90).save(good, format="PNG")
    first = client.post("/api/photos", headers=AUTH, files={"photo": ("../../etc/a b.png", good.getvalue())}).json()
    again = client.post("/api/photos", headers=AUTH, files={"photo": ("other.png", good.getvalue())}).json()
    assert first["id"] == again["id"] and first["id"].startswith("u-") and first["name"] == "a_b.png"
    assert (first["width"], first["height"]) == (30, 20)


# -- dreams ----------------------------------------------------------------------------------


def test_a_dream_is_the_png_dreamfx_run_writes_and_its_command_repeats_it(client, photo, tmp_path, monkeypatch):
    from dreamfx.cli import main
    from dreamfx.io.provenance import read_metadata

    answer = dream(client, "objective.map=26", color="luma")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    served = tmp_path / "served.png"
    served.write_bytes(answer.content)
    meta = read_metadata(served)
    assert meta["settings"]["objective"]["map"] == 26 and meta["color"] == "luma" and meta["input"] == "small.png"
    assert float(answer.headers["x-dreamfx-score-after"]) == meta["score_after"]
    command = shlex.split(answer.headers["x-dreamfx-command"])
    assert command[:3] == ["dreamfx", "run", str(photo)] and "--color" in command
    monkeypatch.chdir(tmp_path)
    assert main(command[1:] + ["-q"]) == 0
    by_command = np.asarray(Image.open(tmp_path / "small-dream.png"))
    assert np.array_equal(by_command, np.asarray(Image.open(served)))
    assert main(["run", str(photo), "--from", str(served), "-o", "again.png", "-q"]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "again.png")), by_command)


def test_an_uploaded_photo_dreams_in_one_request(client):
    buffer = io.BytesIO()
    Image.new("L", (36, 24), 200).save(buffer, format="PNG")
    answer = client.post("/api/dream?format=json", headers=AUTH, data={"set": QUICK},
                         files={"photo": ("mine.png", buffer.getvalue(), "image/png")})
    body = answer.json()
    assert answer.status_code == 200 and body["photo"].startswith("u-") and body["png"].startswith("data:image/png")
    assert body["command"].startswith("dreamfx run mine.png -o mine-dream.png")
    assert len(body["classes_before"]) == len(body["classes_after"]) == 10
    assert abs(sum(body["classes_after"]) - 1) < 10 * 1e-6  # ten probabilities, each rounded to 1e-6


@pytest.mark.parametrize("sets, fields, message", [
    (["objective.map=999"], {}, "map 999 does not exist in layer 'conv3', which has 128 maps"),
    (["optimizer.steps"], {}, "--set expects key=value"),
    (["objective.mapp=3"], {}, "unknown key objective.'mapp'"),
    ([], {"preset": "nope"}, "unknown preset 'nope'"),
    ([], {"preset": "/etc/x.toml"}, "unknown preset '/etc/x.toml'"),
    (["model=keras-file", "model.path=/etc/passwd"], {}, "names a file on the server"),
    (["output.mask=/etc/passwd"], {}, "names a file on the server"),
    ([], {"color": "purple"}, "invalid choice: 'purple'"),
    ([], {"seed": "x"}, "invalid int value: 'x'"),
])
def test_mistakes_are_json_with_the_cli_message_and_the_server_goes_on(client, sets, fields, message):
    answer = client.post("/api/dream", headers=AUTH, data={"photo": "p1", "set": sets, **fields})
    assert 400 <= answer.status_code < 500 and message in answer.json()["error"], answer.json()
    assert dream(client).status_code == 200


def test_the_cli_prints_the_same_message(client, photo, capsys):
    from dreamfx.cli import main

    assert main(["run", str(photo), "--set", "objective.map=999", "-o", "never.png"]) == 2
    cli = capsys.readouterr().err.strip().removeprefix("dreamfx: error: ")
    assert client.post("/api/dream", headers=AUTH, data={"photo": "p1", "set": ["objective.map=999"]}).json()["error"] == cli


def test_an_internal_error_tells_the_client_nothing_and_the_server_log_everything(client, explorer, monkeypatch,
                                                                                  capfd):
    """A 500's answer carries no exception text (it may name the server's files): a generic
    message with an id, which the one line on the server's stderr repeats with the text."""
    def broken(*args, **kwargs):
        raise RuntimeError("secret /srv/private/model.keras")

    monkeypatch.setattr(explorer, "presets", broken)
    monkeypatch.setattr(explorer, "dream", broken)
    answer = client.get("/api/presets", headers=AUTH)
    with client.websocket_connect("/api/live", headers=AUTH) as ws:
        ws.send_text(json.dumps({"id": 1, "photo": "p1"}))
        live = ws.receive_json()
    for body in (answer.json(), live):
        assert body["status"] == 500 and "secret" not in body["error"] and "RuntimeError" not in body["error"]
        assert body["error"].startswith("internal error ")
    logged = capfd.readouterr().err
    for body in (answer.json(), live):
        incident = body["error"].split()[2].rstrip(":")
        assert f"dreamfx explore: internal error {incident}: RuntimeError: secret /srv/private/model.keras" in logged
    assert answer.status_code == 500 and client.get("/api/photos", headers=AUTH).status_code == 200


def test_a_dreams_panel_is_the_articles_figure(client, explorer):
    from dreamfx.explore.work import panel_title
    from dreamfx.io.panel import render_panel

    answer = dream(client, "objective.map=26")
    url = answer.headers["x-dreamfx-panel"]
    assert url.startswith("/api/dreams/d") and url.endswith("/panel.png")
    panel = client.get(url, headers=AUTH)
    assert panel.status_code == 200 and panel.headers["content-type"] == "image/png"
    result, name = explorer.dreams.peek(url.split("/")[3])
    expected = render_panel(result, 160, title=panel_title(name, result))
    assert name == "small.png" and "small.png: " in panel_title(name, result)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(panel.content)).convert("RGB")), np.asarray(expected))
    assert Image.open(io.BytesIO(client.get(url + "?height=64", headers=AUTH).content)).height < expected.height
    assert client.get(url + "?height=5000", headers=AUTH).json()["status"] == 400
    assert client.get("/api/dreams/d999999/panel.png", headers=AUTH).json()["status"] == 404
    assert client.get(url).status_code == 401


def test_unknown_endpoints_and_methods_are_json(client):
    assert client.get("/api/nothing", headers=AUTH).json()["status"] == 404
    assert client.get("/api/dream", headers=AUTH).status_code == 405
    assert client.get("/static/../pyproject.toml", headers=AUTH).status_code == 404


# -- the maps --------------------------------------------------------------------------------


def test_layers_responses_patterns_and_the_atlas_agree_with_a_dream(client):
    layers = client.get("/api/layers", headers=AUTH).json()
    assert layers["layer"] == "conv3" and {"name": "conv3", "maps": 128, "kind": "maps", "shape": [3, 3, 128]} in layers["layers"]
    found = client.get("/api/responses", headers=AUTH, params={"photo": "p1"}).json()
    assert len(found["responses"]) == 128 and found["silent"] == [i for i, v in enumerate(found["responses"]) if v == 0]
    strongest = found["strongest"]
    assert strongest is not None and found["responses"][strongest] == max(found["responses"])
    maps = f"{strongest},{found['silent'][0]}"
    patterns = client.get("/api/oip", headers=AUTH, params={"maps": maps, "set": "optimizer.steps=1"}).json()
    assert [m["map"] for m in patterns["maps"]] == [strongest, found["silent"][0]]
    assert all(m["png"].startswith("data:image/png;base64,") for m in patterns["maps"])
    atlas = client.get("/api/atlas", headers=AUTH, params={"photo": "p1", "maps": maps, "set": QUICK}).json()
    tile = atlas["maps"][0]
    single = dream(client, f"objective.map={strongest}")
    # a map dreamed in the atlas's batch equals the map dreamed alone (dreamfx atlas's promise)
    assert tile["score_after"] == pytest.approx(float(single.headers["x-dreamfx-score-after"]), rel=1e-5)
    assert not tile["silent"]
    assert client.get("/api/responses", headers=AUTH, params={"layer": "dense1"}).json()["status"] == 400


# -- the websocket -----------------------------------------------------------------------------


def test_frames_come_round_by_round_then_the_dream(client):
    with client.websocket_connect("/api/live", headers=AUTH) as ws:
        ws.send_text(json.dumps({"type": "dream", "id": 7, "photo": "p1", "set": ["optimizer.steps=1", "loop.rounds=3"]}))
        messages = []
        while not messages or messages[-1]["type"] == "frame":
            messages.append(ws.receive_json())
        ws.send_text("not json")
        assert ws.receive_json()["status"] == 400
        ws.send_text(json.dumps({"type": "dream", "id": 8, "photo": "p1", "set": ["objective.map=999"]}))
        assert "does not exist" in ws.receive_json()["error"]
    frames, done = messages[:-1], messages[-1]
    assert [f["round"] for f in frames] == [0, 1, 2] and all(f["rounds"] == 3 for f in frames)
    assert all(f["image"].startswith("data:image/jpeg;base64,") for f in frames)
    assert done["type"] == "done" and done["id"] == 7 and done["score_after"] > done["score_before"] > 0
    assert len(done["classes_before"]) == 10 and done["command"].startswith("dreamfx run")
    panel = client.get(done["panel"], headers=AUTH)  # the page shows the article's panel under the split view
    assert panel.status_code == 200 and panel.content.startswith(b"\x89PNG")


def test_a_newer_request_cancels_the_older_one(client, explorer, monkeypatch):
    """The first dream is held after its first round until the second request has arrived
    (its check then fails): it must stop there, never finish, and the second must finish."""
    plain = explorer.dream
    held = threading.Event()

    def holding(options, on_frame=None, check=lambda: None, classify=True):
        def frame(f):
            on_frame(f)
            if not held.is_set():
                held.set()
                for _ in range(3000):  # until the newer request takes over (at most 30 s)
                    try:
                        check()
                    except Cancelled:
                        raise
                    threading.Event().wait(0.01)

        return plain(options, frame, check, classify)

    monkeypatch.setattr(explorer, "dream", holding)
    with client.websocket_connect("/api/live", headers=AUTH) as ws:
        ws.send_text(json.dumps({"id": 1, "photo": "p1", "set": ["optimizer.steps=1", "loop.rounds=5"]}))
        assert ws.receive_json()["type"] == "frame"
        ws.send_text(json.dumps({"id": 2, "photo": "p1", "set": QUICK}))
        seen = {}
        while len(seen) < 2 or 2 not in seen:
            message = ws.receive_json()
            if message["type"] != "frame":
                seen[message["id"]] = message["type"]
    assert seen == {1: "cancelled", 2: "done"}


def test_warm_dreamers_are_kept_in_a_bounded_lru(client, explorer):
    for preset_sets in (["objective.map=3"], ["optimizer.step_size=0.03"], ["optimizer.step_size=0.04"],
                        ["objective.map=5"]):
        assert dream(client, *preset_sets).status_code == 200
    assert len(explorer.studio.dreamers) <= 2
    built = explorer.studio.builds
    assert dream(client, "optimizer.step_size=0.04", "objective.map=9").status_code == 200
    assert explorer.studio.builds == built  # another map of a kept dreamer: fed at run time, not built


@pytest.mark.process("start-up imports")
def test_dreamfx_help_does_not_import_the_web_stack():
    import subprocess
    import sys

    code = ("import sys; from dreamfx.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('starlette', 'uvicorn', 'dreamfx.explore') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]" and "explore" in out.stdout


@pytest.mark.process("local server")
def test_the_curl_examples_of_docs_explore_md_run_against_a_real_server(photo, tmp_path):
    """docs/explore.md's `shell-session` block, run by bash against `dreamfx explore PHOTO`:
    each command's output is what the page quotes."""
    import os
    import queue
    import re
    import subprocess
    import sys

    from .conftest import ROOT

    text = (ROOT / "docs" / "explore.md").read_text()
    block = re.search(r"```shell-session\n(.*?)```", text, re.S)[1].splitlines()
    commands: list[tuple[str, list[str]]] = []
    for line in block:
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            commands[-1][1].append(line)
    (tmp_path / "notes.txt").write_text("notes, not an image\n")
    bin_dir = Path(sys.executable).parent
    server = subprocess.Popen([str(bin_dir / "dreamfx"), "explore", str(photo), "--port", "0", "--no-browser"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in server.stdout], daemon=True)
    reader.start()
    try:
        while not (found := re.match(r"dreamfx explore: (http://\S+)/\?token=(\S+)", lines.get(timeout=120))):
            pass
        env = {**os.environ, "URL": found[1], "TOKEN": found[2], "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        for command, expected in commands:
            done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=300)
            assert done.returncode == 0, (command, done.stderr)
            assert done.stdout.splitlines() == expected, command
    finally:
        server.terminate()
        server.wait(timeout=60)
        reader.join(timeout=10)  # at the pipe's end: then it can be closed
        server.stdout.close()
