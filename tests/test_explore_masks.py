"""Masks in dreamfx explore (issue 28, item 1), in process (Starlette's test client): a mask
uploaded beside the photo, kept as a private temporary file the server deletes, applied to
the dreams (over HTTP and the websocket), named in the copy-as-command (``--mask NAME``, a
file the user downloads and keeps) and recorded in the PNG's provenance by its digest;
removing it works, and settings that name a server file stay refused."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shlex
import stat
import warnings

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette", reason="dreamfx explore needs the explore extra (make test installs it)")
with warnings.catch_warnings():  # as tests/test_explore.py: Starlette's test client with httpx alone warns
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient  # noqa: E402

from dreamfx.explore.app import make_app  # noqa: E402
from dreamfx.explore.masks import Masks  # noqa: E402
from dreamfx.explore.photos import Photos  # noqa: E402
from dreamfx.explore.security import Guard  # noqa: E402
from dreamfx.explore.sessions import Studio  # noqa: E402
from dreamfx.explore.work import Explorer  # noqa: E402
from dreamfx.io.provenance import read_metadata  # noqa: E402

from .test_masks import _photo  # noqa: E402

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SETS = ["optimizer.steps=3", "loop.rounds=1"]
#: Columns of the 48-wide photo away from a half mask's feathered edge (at 24).
LEFT, RIGHT = slice(0, 20), slice(28, 48)


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("explore-masks") / "waves.png"
    _photo(path, 1201, size=(48, 32))
    return path


@pytest.fixture(scope="module")
def explorer(photo):
    explorer = Explorer(Photos(photo, [photo], max_pixels=100_000, max_bytes=200_000), Studio(keep=2))
    yield explorer
    explorer.close()


@pytest.fixture(scope="module")
def client(explorer):
    return TestClient(make_app(explorer, Guard(TOKEN, extra_hosts=("testserver",))))


def half_mask(left_black: bool = True, fmt: str = "PNG") -> bytes:
    mask = np.full((30, 40), 255, np.uint8)
    if left_black:
        mask[:, :20] = 0
    else:
        mask[:, 20:] = 0
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(client, data: bytes, name: str = "half.png"):
    return client.post("/api/masks", headers=AUTH, files={"mask": (name, data, "image/png")})


def dream(client, **fields):
    return client.post("/api/dream", headers=AUTH, data={"photo": "p1", "set": SETS, **fields})


def gray(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), np.float32) / 255


def test_a_dream_through_an_uploaded_mask_keeps_the_photo_under_black_and_its_command_repeats_it(
        client, explorer, tmp_path, monkeypatch):
    from dreamfx.cli import main

    data = half_mask()
    mask = upload(client, data).json()
    assert mask["id"].startswith("m-") and mask["name"] == "half.png" and mask["sha256"] == hashlib.sha256(data).hexdigest()
    original = explorer.photos.get("p1").picture.luma
    plain, masked = dream(client), dream(client, mask=mask["id"])
    assert plain.status_code == masked.status_code == 200, masked.json() if masked.status_code != 200 else None
    plain_px, masked_px = gray(plain.content), gray(masked.content)
    assert np.abs(masked_px - original)[:, LEFT].max() <= 0.5 / 255 + 1e-6  # under black: the photo
    assert np.abs(plain_px - original)[:, LEFT].mean() > 1 / 255  # where the dream would have been
    assert np.array_equal(masked_px[:, RIGHT], plain_px[:, RIGHT])  # under white: the whole dream
    served = tmp_path / "served.png"
    served.write_bytes(masked.content)
    meta = read_metadata(served)
    assert meta["mask_sha256"] == mask["sha256"] and meta["settings"]["output"]["mask"] == "half.png"
    assert str(explorer.masks.folder()) not in json.dumps(meta)  # the private file is the server's own
    body = client.post("/api/dream?format=json", headers=AUTH, data={"photo": "p1", "set": SETS,
                                                                     "mask": mask["id"]}).json()
    assert body["mask"]["download"] == f"/api/masks/{mask['id']}" and "half.png" in body["mask"]["note"]
    assert "--mask half.png" in body["command"] and body["settings"]["output"]["mask"] == "half.png"
    downloaded = client.get(body["mask"]["download"], headers=AUTH)
    assert downloaded.content == data and 'filename="half.png"' in downloaded.headers["content-disposition"]
    # the user keeps the mask beside the photo as the note says: the command repeats the dream
    (tmp_path / "half.png").write_bytes(downloaded.content)
    monkeypatch.chdir(tmp_path)
    command = shlex.split(body["command"])
    assert main(command[1:] + ["-q"]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "waves-dream.png")), np.asarray(Image.open(served)))
    assert read_metadata(tmp_path / "waves-dream.png")["mask_sha256"] == mask["sha256"]
    assert main(["run", command[2], "--from", str(served), "-o", "again.png", "-q"]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "again.png")), np.asarray(Image.open(served)))


def test_a_mask_sent_with_the_dream_and_on_the_websocket(client, explorer):
    data = half_mask(left_black=False, fmt="BMP")
    answer = client.post("/api/dream?format=json", headers=AUTH, data={"photo": "p1", "set": SETS},
                         files={"mask": ("right.bmp", data, "image/bmp")})
    body = answer.json()
    assert answer.status_code == 200 and body["mask"]["name"] == "right.bmp" and "--mask right.bmp" in body["command"]
    with client.websocket_connect("/api/live", headers=AUTH) as ws:
        ws.send_text(json.dumps({"type": "dream", "id": 3, "photo": "p1", "mask": body["mask"]["id"],
                                 "set": ["optimizer.steps=2", "loop.rounds=2"]}))
        messages = [ws.receive_json()]
        while messages[-1]["type"] == "frame":
            messages.append(ws.receive_json())
    frames, done = messages[:-1], messages[-1]
    assert done["type"] == "done" and done["mask"]["id"] == body["mask"]["id"] and len(frames) == 2
    original = explorer.photos.get("p1").picture.luma
    import base64

    png = base64.b64decode(done["png"].split(",", 1)[1])
    assert np.abs(gray(png) - original)[:, RIGHT].max() <= 0.5 / 255 + 1e-6
    frame = gray(base64.b64decode(frames[0]["image"].split(",", 1)[1]))  # a JPEG: the photo under black, roughly
    assert np.abs(frame - original)[:, RIGHT].mean() < np.abs(frame - original)[:, LEFT].mean()


def test_removing_the_mask_deletes_its_private_file(client, explorer):
    mask = upload(client, half_mask(), "gone.png").json()
    path = explorer.masks.get(mask["id"]).path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert mask["id"] in [m["id"] for m in client.get("/api/masks", headers=AUTH).json()["masks"]]
    assert client.delete(f"/api/masks/{mask['id']}", headers=AUTH).json() == {"removed": mask["id"]}
    assert not path.exists()
    answer = dream(client, mask=mask["id"])
    assert answer.status_code == 404 and "upload it again" in answer.json()["error"]
    assert client.get(f"/api/masks/{mask['id']}", headers=AUTH).status_code == 404
    unmasked = dream(client)  # no mask: none in the provenance
    assert unmasked.status_code == 200 and "mask_sha256" not in read_metadata_of(unmasked.content)


@pytest.mark.parametrize("name, data, status, words", [
    ("notes.txt", b"not an image", 415, "not a readable image"),
    ("empty.png", b"", 400, "empty"),
    ("noise.bmp", b"B" * 250_000, 413, "over the limit of 200,000"),
])
def test_a_mask_upload_is_checked_as_a_photo_upload(client, name, data, status, words):
    answer = upload(client, data, name)
    assert answer.status_code == status and words in answer.json()["error"], answer.json()


def test_masks_are_named_by_id_and_server_files_stay_refused(client):
    big = io.BytesIO()
    Image.new("L", (400, 300), 255).save(big, format="PNG")  # 120,000 pixels: over the fixture's 100,000
    answer = upload(client, big.getvalue(), "big.png")
    assert answer.status_code == 413 and "decompression bomb" in answer.json()["error"]
    for bad in ("/etc/passwd", "../m-0123456789abcdef", "half.png"):
        answer = dream(client, mask=bad)
        assert answer.status_code == 400 and "cannot name a file on the server" in answer.json()["error"], bad
    assert dream(client, mask="m-0123456789abcdef").status_code == 404
    answer = client.post("/api/dream", headers=AUTH, data={"photo": "p1", "set": ["output.mask=/etc/passwd"]})
    assert answer.status_code == 400 and "upload a mask" in answer.json()["error"]
    mask = upload(client, half_mask()).json()
    answer = dream(client, mask=mask["id"], set=[*SETS, "output.mask_feather=0.2"])  # a number, not a file
    assert answer.status_code == 200
    assert read_metadata_of(answer.content)["settings"]["output"]["mask_feather"] == 0.2
    sharp = dream(client, mask=mask["id"])  # the default feather (1% of the short side): a sharper edge
    assert not np.array_equal(gray(answer.content)[:, 20:28], gray(sharp.content)[:, 20:28])


def read_metadata_of(png: bytes) -> dict:
    with Image.open(io.BytesIO(png)) as img:
        return json.loads(img.text["dreamfx"])


def test_the_server_deletes_its_masks_when_dropped_and_when_it_stops(tmp_path):
    masks = Masks(keep=2)
    kept = [masks.upload(half_mask(i % 2 == 0, fmt), f"m{i}.png") for i, fmt in enumerate(("PNG", "BMP", "TIFF"))]
    assert not kept[0].path.exists() and kept[1].path.exists() and kept[2].path.exists()  # the oldest dropped
    assert [m.id for m in masks.all()] == [kept[2].id, kept[1].id]
    folder = masks.folder()
    masks.close()
    assert not folder.exists() and masks.all() == []
