"""dreamfx explore end to end: the real command (`dreamfx explore PHOTO --port 0 --no-browser`)
serving the page to a real headless Chromium (Debian's `chromium` and `chromium-driver`,
driven by Selenium): the ready line, the page loading, the dream's panel, a map picked in the
grid, the dream changing, the "copy as command" line reproducing the downloaded PNG's pixels, and a
mask uploaded beside the photo (the photo kept under its black, the command naming it) and removed.

CI (.ci/run) installs Chromium, so this test runs there (a skip fails CI); on a machine
without it, the skip says how to install it (and `make test` says so before the suite).
Set DREAMFX_EXPLORE_SCREENSHOT=PATH to keep the page's screenshot (docs/images/explore.png)."""

from __future__ import annotations

import base64
import io
import os
import queue
import re
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dreamfx.runs.hints import SAMPLE_IMAGE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="no Chromium: apt-get install chromium chromium-driver "
                       "(Debian) to run dreamfx explore's browser test"),
    pytest.mark.process("local server"),
    pytest.mark.slow,
]

READY = re.compile(r"^dreamfx explore: (http://127\.0\.0\.1:\d+/\?token=[\w-]+)$")


@pytest.fixture
def server(tmp_path):
    photo = tmp_path / "cup.png"
    with Image.open(SAMPLE_IMAGE) as img:
        img.convert("RGB").resize((150, 100), Image.Resampling.LANCZOS).save(photo)
    dreamfx = Path(sys.executable).with_name("dreamfx")
    process = subprocess.Popen([str(dreamfx), "explore", str(photo), "--port", "0", "--no-browser"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in process.stdout], daemon=True).start()
    try:
        url = None
        while url is None:
            line = lines.get(timeout=120)
            url = (READY.match(line) or [None, None])[1]
        yield url, photo
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def png_of(data_url: str) -> np.ndarray:
    assert data_url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))))


def test_pick_a_map_watch_the_dream_and_repeat_it_on_the_command_line(server, tmp_path, monkeypatch):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, photo = server
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
                "--disable-gpu"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(DRIVER, log_output=subprocess.DEVNULL), options=options)
    wait = WebDriverWait(browser, 180)
    try:
        browser.get(url + "#steps=4&rounds=2")
        done = lambda b: b.find_element(By.ID, "status").get_attribute("data-done")  # noqa: E731
        first = wait.until(done)
        assert browser.find_element(By.ID, "error").get_attribute("hidden") is not None
        before = png_of(browser.find_element(By.ID, "download").get_attribute("href"))
        # the article's panel under the split view, fetched with the page's cookie
        wait.until(lambda b: b.execute_script("return document.getElementById('panel').naturalWidth") > 0)
        assert "token" not in browser.current_url and "steps=4" in browser.current_url
        # the grid: one tile per map of conv3, silent ones greyed; pick the strongest other map
        wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#grid .tile img[src^='data:']")) == 128)
        tiles = browser.find_elements(By.CSS_SELECTOR, "#grid .tile:not(.silent)")
        assert 0 < len(tiles) < 128
        pick = next(t for t in tiles if t.get_attribute("data-map") != "19")
        picked = pick.get_attribute("data-map")
        pick.click()
        wait.until(lambda b: done(b) not in (None, first))
        after = png_of(browser.find_element(By.ID, "download").get_attribute("href"))
        assert after.shape == before.shape and not np.array_equal(after, before)  # the dream changed
        assert f"map={picked}" in browser.current_url
        command = browser.find_element(By.ID, "command").get_attribute("value")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#bars-after .bar")) == 10
        shot = os.environ.get("DREAMFX_EXPLORE_SCREENSHOT")
        browser.save_screenshot(shot or str(tmp_path / "explore.png"))
        # a mask beside the photo: black keeps the photo's left half; then removed again
        half = np.zeros((30, 40), np.uint8)
        half[:, 20:] = 255
        Image.fromarray(half).save(tmp_path / "half.png")
        shown = done(browser)
        browser.find_element(By.ID, "mask-upload").send_keys(str(tmp_path / "half.png"))
        wait.until(lambda b: done(b) not in (None, shown))
        masked = png_of(browser.find_element(By.ID, "download").get_attribute("href"))
        masked_command = browser.find_element(By.ID, "command").get_attribute("value")
        assert "half.png" in browser.find_element(By.ID, "mask-note").text
        assert "mask=m-" in browser.current_url
        shown = done(browser)
        browser.find_element(By.ID, "mask-remove").click()
        wait.until(lambda b: done(b) not in (None, shown))
        assert browser.find_element(By.ID, "mask-note").get_attribute("hidden") is not None
        assert np.array_equal(png_of(browser.find_element(By.ID, "download").get_attribute("href")), after)
    finally:
        browser.quit()
    words = shlex.split(command)
    assert words[:3] == ["dreamfx", "run", str(photo)] and f"objective.map={picked}" in words
    from dreamfx.cli import main
    from dreamfx.io.images import load_picture

    monkeypatch.chdir(tmp_path)
    assert main(words[1:] + ["-q"]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "cup-dream.png")), after)
    luma = load_picture(photo).luma
    assert np.abs(masked[:, :60] / 255 - luma[:, :60]).max() <= 0.5 / 255 + 1e-6  # under black: the photo
    assert np.array_equal(masked[:, 90:], after[:, 90:])  # under white: the dream
    assert "--mask half.png" in masked_command
    assert main(shlex.split(masked_command)[1:] + ["-o", "masked.png", "-q"]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "masked.png")), masked)
