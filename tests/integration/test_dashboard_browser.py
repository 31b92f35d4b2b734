"""The dashboard in a real headless Chromium (Debian's chromium and chromium-driver, driven by selenium):
sign in, paste inputs, start a run, watch its progress bar reach 100 % live, read the table; at a
desktop's 1280×800 and a phone's 390×844. Screenshots are kept under ``.artifacts/screenshots/``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.api_harness import AppServer

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts" / "screenshots"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
DESKTOP, PHONE = (1280, 800), (390, 844)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium with a fresh profile and no background traffic (the machine has no network)."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail(
            "Chromium is not installed: run `bash scripts/ensure-browser` (make test does)", pytrace=False
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def viewport(driver: Any, size: tuple[int, int]) -> None:
    """Make the page's viewport (not the window) this size, as a device of that screen would have it."""
    driver.set_window_size(*size)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    driver.set_window_size(size[0] * 2 - inner[0], size[1] * 2 - inner[1])


def screenshot(driver: Any, name: str) -> Path:
    """Save a screenshot under .artifacts/screenshots and check it is not blank (many distinct colours)."""
    import numpy as np
    from matplotlib import image

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert driver.save_screenshot(str(path))
    pixels = image.imread(str(path))[..., :3].reshape(-1, 3)
    distinct = len(np.unique((pixels * 255).astype(np.uint8), axis=0))
    assert distinct > 20 and pixels.std() > 0.05, f"{path} looks blank ({distinct} colours)"
    return path


def fits_width(driver: Any) -> bool:
    """No sideways scrolling of the page itself (wide tables scroll inside their own box)."""
    return bool(driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_paste_inputs_start_a_run_watch_it_reach_100_percent_and_read_the_table(
    browser, pipeline_ctx, worker, emulator, tokens_of
):
    """Given the dashboard on the real services, when a person signs in, pastes 80 handles and starts a run, then the bar climbs live to 100 %, the page shows the ranked channels, and both screen sizes read without sideways scrolling."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from actors.dispatch import send_all
    from api import create_app

    emulator.set_faults(latency_ms=100)  # slow enough that the bar is seen moving
    handles = [
        f"@{c['handle']}" for c in emulator.catalogue.sample(500) if c["handle"] and c["handle"].isascii()
    ][:80]
    with AppServer(create_app(pipeline_ctx, send=send_all)) as server:
        wait = WebDriverWait(browser, 60)
        browser.get(f"{server.url}/")
        wait.until(ec.presence_of_element_located((By.ID, "token"))).send_keys(tokens_of["alice"])
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        textarea = wait.until(ec.presence_of_element_located((By.ID, "inputs")))
        viewport(browser, DESKTOP)
        textarea.send_keys("\n".join(handles))
        screenshot(browser, "01-paste-desktop")
        browser.find_element(By.ID, "start").click()

        wait.until(ec.url_contains("/runs/"))
        bar = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".progress[data-events]")))
        seen: list[float] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                seen.append(float(bar.get_attribute("data-progress")))
                if bar.get_attribute("data-finished") == "1":
                    break
            except WebDriverException:  # stale: the page reloaded under us
                # live.js reloads the page 600 ms after "finished", which a slow poll can miss
                # entirely: the reloaded page's server-rendered bar then holds the final state.
                bar = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".progress")))
                seen.append(float(bar.get_attribute("data-progress")))
                break
            time.sleep(0.05)
        assert seen and seen[-1] == 1.0, (seen[-5:], bar.get_attribute("data-status"))
        assert any(0 < p < 1 for p in seen), "the bar never showed a value between 0 and 100 %"
        assert seen == sorted(seen), "the bar went backwards"

        table = wait.until(ec.presence_of_element_located((By.ID, "competitors")))
        rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert len(rows) >= 70
        assert browser.find_element(By.CSS_SELECTOR, ".progress .pct").text == "100.0 %"
        assert "FINISHED" in browser.find_element(By.CSS_SELECTOR, ".progress .state").text
        subs = [r.find_elements(By.TAG_NAME, "td")[2].text for r in rows[:3]]
        assert all(s for s in subs)
        assert browser.find_elements(By.CSS_SELECTOR, "svg.chart")
        assert fits_width(browser)
        screenshot(browser, "02-run-finished-desktop")

        viewport(browser, PHONE)
        browser.refresh()
        wait.until(ec.presence_of_element_located((By.ID, "competitors")))
        assert fits_width(browser)
        screenshot(browser, "03-run-finished-phone")
        first_channel = browser.find_element(By.CSS_SELECTOR, "#competitors tbody tr a")
        first_channel.click()
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".figures")))
        assert "subscribers" in browser.page_source and fits_width(browser)
        screenshot(browser, "04-channel-phone")
        browser.get(f"{server.url}/")
        wait.until(ec.presence_of_element_located((By.ID, "inputs")))
        assert fits_width(browser)
        screenshot(browser, "05-runs-phone")


def test_failed_inputs_are_listed_with_reasons_and_retried_from_the_run_page(
    browser, pipeline_ctx, worker, emulator, tokens_of
):
    """Given a finished run with a missing handle and a bad line, when its page is opened and the retry button pressed, then the reasons are listed and a new linked run starts with the retryable input."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from actors.dispatch import send_all
    from api import create_app
    from pipeline.runs import get_run_status, start_run
    from tests.integration.pipeline_harness import wait_until

    lines = ["@no-such-handle-anywhere", "javascript:alert(1)"]
    run_id = start_run("a", "alice", lines, ctx=pipeline_ctx, send=send_all)
    wait_until(lambda: get_run_status(run_id, ctx=pipeline_ctx)["run_status"] == "FINISHED", timeout=60)
    with AppServer(create_app(pipeline_ctx, send=send_all)) as server:
        wait = WebDriverWait(browser, 30)
        browser.get(f"{server.url}/login?next=/runs/{run_id}")
        wait.until(ec.presence_of_element_located((By.ID, "token"))).send_keys(tokens_of["alice"])
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        attention = wait.until(ec.presence_of_element_located((By.ID, "attention")))
        text = attention.text
        assert "no channel has the handle @no-such-handle-anywhere" in text
        assert "javascript:alert(1)" in text
        screenshot(browser, "06-attention-desktop")
        browser.find_element(By.ID, "retry").click()  # without search: the miss is remembered, nothing to do
        note = wait.until(ec.presence_of_element_located((By.ID, "nothing-retried")))
        assert "can only fail the same way" in note.text and run_id in browser.current_url
        browser.find_element(By.CSS_SELECTOR, "input[name=allow_search]").click()
        browser.find_element(By.ID, "retry").click()
        wait.until(lambda d: run_id not in d.current_url and "/runs/" in d.current_url)
        new_id = browser.current_url.rsplit("/", 1)[-1]

    status = get_run_status(new_id, ctx=pipeline_ctx)
    assert status["parent_run_id"] == run_id and status["total_inputs"] == 1
