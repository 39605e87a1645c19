"""Driving the `reenact ui` page in headless Chromium (Debian's chromium + chromium-driver, through
selenium): what the browser test does, kept apart so that a screenshot for the docs can reuse it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

CHROMIUM = ("chromium", "chromium-browser")
DRIVER = "chromedriver"


def missing_browser() -> str | None:
    """Why the browser test cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if not any(shutil.which(name) for name in CHROMIUM):
        return "no chromium binary (Debian: apt-get install chromium chromium-driver)"
    if shutil.which(DRIVER) is None:
        return "no chromedriver (Debian: apt-get install chromium-driver)"
    return None


def start_chromium(width: int = 1280, height: int = 1000):
    """Headless Debian chromium driven by Debian's chromedriver (nothing is downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(shutil.which(name) for name in CHROMIUM if shutil.which(name))
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--mute-audio", "--autoplay-policy=no-user-gesture-required",
                 f"--window-size={width},{height}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which(DRIVER)), options=options)


def wait_for(condition, timeout: float, what: str, poll: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")


def upload(browser, element_id: str, path: Path) -> None:
    from selenium.webdriver.common.by import By

    field = browser.find_element(By.CSS_SELECTOR, f"#{element_id} input[type=file]")
    field.send_keys(str(path))


def choose(browser, element_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By

    button = browser.find_element(By.CSS_SELECTOR, f"#{element_id} input[value='{value}']")
    browser.execute_script("arguments[0].click();", button)


def video_state(browser, element_id: str) -> dict | None:
    """The result <video>'s src, readyState and duration, once it has loaded its metadata."""
    return browser.execute_script(
        "const v = document.querySelector(arguments[0]);"
        "if (!v || !v.src || v.readyState < 1) return null;"
        "return {src: v.currentSrc || v.src, readyState: v.readyState, duration: v.duration};",
        f"#{element_id} video")


def play(browser, element_id: str) -> float:
    """Play the result for a moment; its currentTime afterwards."""
    browser.execute_script("const v = document.querySelector(arguments[0]); v.muted = true;"
                           "v.play();", f"#{element_id} video")
    return wait_for(lambda: browser.execute_script(
        "const t = document.querySelector(arguments[0]).currentTime; return t > 0 ? t : null;",
        f"#{element_id} video"), 15, "the video to play")


def page_error(browser) -> str | None:
    """The text of an error toast on the page, if one is shown."""
    from selenium.webdriver.common.by import By

    toasts = browser.find_elements(By.CSS_SELECTOR, ".toast-body.error, [data-testid='toast-body']")
    texts = [toast.text for toast in toasts if toast.text.strip()]
    return " | ".join(texts) or None
