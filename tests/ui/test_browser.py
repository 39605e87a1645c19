"""`reenact ui` in a real browser: headless Debian Chromium (selenium + chromedriver) opens the
page that a `reenact ui` process serves on a free port, uploads a portrait and a driving clip,
renders with tiny random checkpoints, waits for the result, checks that the <video> loads and plays,
downloads it as the page serves it and checks that `reenact verify` finds the mark; then shows an
error in the page for a render with nothing uploaded. Skips, saying why, without chromium,
chromedriver, selenium or gradio (`.ci/run` installs them).

REENACT_UI_SCREENSHOT=PATH also saves a screenshot of the page with its result."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from speech_fixtures import synthetic_frames, tiny_audio_checkpoint
from ui_browser import (
    choose,
    missing_browser,
    page_error,
    play,
    start_chromium,
    upload,
    video_state,
    wait_for,
)

from reenact.api import create_model
from reenact.checkpoint import save_checkpoint
from reenact.checkpoint.audio_format import save_audio_checkpoint
from reenact.cli import main
from reenact.io import VideoWriter, write_image

pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[ui]')")
if missing_browser():
    pytest.skip(missing_browser(), allow_module_level=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    motion = create_model("tiny-64", seed=0)
    save_checkpoint(motion, root / "motion")
    save_audio_checkpoint(tiny_audio_checkpoint(motion), root / "audio")
    write_image(root / "portrait.png", synthetic_frames(1, (96, 96))[0])
    with VideoWriter(root / "driving.mp4", 25, 96, 96) as writer:
        for frame in synthetic_frames(10, (96, 96)):
            writer.write(frame)
    return root


@pytest.fixture(scope="module")
def server(inputs):
    """`reenact ui` on a free port of 127.0.0.1; its URL."""
    port = free_port()
    log = (inputs / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "reenact.cli", "ui", "--port", str(port), "--checkpoint",
         str(inputs / "motion"), "--audio-checkpoint", str(inputs / "audio"), "--device", "cpu"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    url = f"http://127.0.0.1:{port}/"

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"reenact ui exited: {(inputs / 'server.log').read_text()}")
        try:
            return urllib.request.urlopen(url, timeout=2).status == 200
        except OSError:
            return False

    try:
        wait_for(up, 60, "reenact ui to serve", poll=0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def browser():
    driver = start_chromium()
    yield driver
    driver.quit()


def test_animate_in_the_browser_plays_and_is_marked(server, browser, inputs, tmp_path):
    from selenium.webdriver.common.by import By

    started = time.monotonic()
    browser.get(server)
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#animate-render"), 30, "the page")
    upload(browser, "animate-source", inputs / "portrait.png")
    upload(browser, "animate-driving", inputs / "driving.mp4")
    choose(browser, "animate-crop", "none")  # the generated portrait is a face crop
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#animate-driving video"), 20,
             "the driving clip's upload")
    browser.find_element(By.CSS_SELECTOR, "#animate-render").click()
    state = wait_for(lambda: video_state(browser, "animate-result") or page_error(browser), 60,
                     "the rendered video")
    assert isinstance(state, dict), f"the page shows an error: {state}"
    assert state["readyState"] >= 1 and state["duration"] == pytest.approx(10 / 25, abs=0.05)
    assert play(browser, "animate-result") > 0
    provenance = browser.find_element(By.CSS_SELECTOR, "#animate-provenance").text
    assert "AI-generated" in provenance and "watermark found" in provenance
    screenshot = os.environ.get("REENACT_UI_SCREENSHOT")
    if screenshot:
        browser.save_screenshot(screenshot)

    downloaded = tmp_path / "downloaded.mp4"
    with urllib.request.urlopen(state["src"], timeout=10) as response:
        downloaded.write_bytes(response.read())
    assert main(["verify", "-q", str(downloaded)]) == 0  # the watermark, in the file as served
    assert time.monotonic() - started < 60


def test_an_error_shows_in_the_page_as_one_line(server, browser):
    from selenium.webdriver.common.by import By

    browser.get(server)
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "button[role=tab]"), 30, "the tabs")
    tab = next(button for button in browser.find_elements(By.CSS_SELECTOR, "button[role=tab]")
               if button.text.strip() == "talk")
    tab.click()
    wait_for(lambda: browser.find_element(By.CSS_SELECTOR, "#talk-render").is_displayed(), 10,
             "the talk tab")
    browser.find_element(By.CSS_SELECTOR, "#talk-render").click()
    message = wait_for(lambda: page_error(browser), 30, "the error message")
    assert "portrait: upload a file first" in message
    assert "Traceback" not in browser.page_source
