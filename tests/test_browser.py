"""The page in a real browser: Debian's Chromium, headless, driven by Selenium through chromedriver, against
a running `homage serve` on loopback. Uploads two versions, reads the verdict, clicks a matched passage and
checks both players moved to its start times; searches; lists the catalog; and fits 360 px.

Screenshots go to ``tmp_path``, and to ``$HOMAGE_SCREENSHOTS`` when set (the README's come from there)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
        reason="Chromium and chromedriver are not installed (apt-get install chromium chromium-driver; .ci/run does)",
    ),
]


@pytest.fixture(scope="module")
def site(piece_dir, tmp_path_factory):
    pytest.importorskip("selenium", reason="the browser test needs the [dev] and [api] extras")
    pytest.importorskip("uvicorn", reason="the browser test needs the [dev] and [api] extras")
    import uvicorn

    from homage import pipeline
    from homage.api.app import ServeSettings, create_app

    catalog = tmp_path_factory.mktemp("browser") / "catalog"
    pipeline.index_dir(piece_dir, catalog, workers=1)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(ServeSettings(catalog)), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
        "--mute-audio",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_window_size(1200, 1000)
    yield driver
    driver.quit()


def screenshot(driver, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    if os.environ.get("HOMAGE_SCREENSHOTS"):
        Path(os.environ["HOMAGE_SCREENSHOTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(os.environ["HOMAGE_SCREENSHOTS"]) / path.name)
    return path


def wait(driver, condition, seconds: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.2).until(lambda d: condition(d))


def test_compare_plays_both_versions_from_the_matched_passage(site, browser, tmp_path):
    """B: 15 s of another piece, then A transposed up 3 semitones and faster: the passage starts at 15 s in B."""
    import numpy as np
    from selenium.webdriver.common.by import By

    from conftest import synth_piece, write

    a = write(tmp_path / "song.wav", synth_piece(1, seconds=40))
    b = write(
        tmp_path / "cover.flac",
        np.concatenate([synth_piece(5, seconds=15), synth_piece(1, transpose=3, tempo=1.2, seconds=30)]),
    )
    browser.get(site)
    browser.find_element(By.ID, "file-a").send_keys(str(a))
    browser.find_element(By.ID, "file-b").send_keys(str(b))
    browser.find_element(By.ID, "run-compare").click()
    wait(browser, lambda d: d.find_element(By.ID, "compare-result").is_displayed())
    verdict = browser.find_element(By.ID, "verdict").text
    assert "are versions of one work" in verdict, verdict
    assert "3 semitones higher" in browser.find_element(By.ID, "summary").text
    wait(browser, lambda d: d.execute_script("return document.getElementById('alignment').naturalWidth") > 0)
    row = browser.find_elements(By.CSS_SELECTOR, "#segments tr.segment")[0]
    a_start, b_start = float(row.get_attribute("data-a-start")), float(row.get_attribute("data-b-start"))
    assert b_start > 10  # the inserted copy
    row.click()
    positions = wait(
        browser,
        lambda d: (lambda p: p if abs(p[0] - a_start) < 0.5 and abs(p[1] - b_start) < 0.3 else None)(
            d.execute_script(
                "return [document.getElementById('player-a').currentTime, "
                "document.getElementById('player-b').currentTime]"
            )
        ),
    )
    assert positions and screenshot(browser, tmp_path, "compare").stat().st_size > 10_000


def test_search_lists_versions_and_opens_a_comparison(site, browser, piece_dir, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(site)
    browser.find_element(By.CSS_SELECTOR, '.tab[data-tab="search"]').click()
    browser.find_element(By.ID, "file-q").send_keys(str(piece_dir / "work2" / "transposed.flac"))
    browser.find_element(By.ID, "run-search").click()
    wait(browser, lambda d: d.find_element(By.ID, "matches").is_displayed())
    same, other = browser.find_elements(By.CSS_SELECTOR, "#matches tbody tr")[:2]
    assert "transposed.flac" in same.text  # the uploaded file is in the catalog itself: a duplicate
    assert "original.wav" in other.text and "version" in other.text  # and its other version comes next
    screenshot(browser, tmp_path, "search")
    other.find_element(By.TAG_NAME, "button").click()
    wait(browser, lambda d: d.find_element(By.ID, "compare-result").is_displayed())
    assert "versions" in browser.find_element(By.ID, "verdict").text


def test_catalog_page_filters_and_fits_a_phone(site, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(site)
    browser.find_element(By.CSS_SELECTOR, '.tab[data-tab="catalog"]').click()
    wait(browser, lambda d: "6 recordings" in d.find_element(By.ID, "catalog-info").text)
    browser.find_element(By.ID, "filter").send_keys("faster")
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#recordings tbody tr")) == 1)
    screenshot(browser, tmp_path, "catalog")
    browser.set_window_size(360, 800)
    for tab in ("compare", "search", "catalog"):
        browser.find_element(By.CSS_SELECTOR, f'.tab[data-tab="{tab}"]').click()
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 360, (tab, width)
    screenshot(browser, tmp_path, "catalog-360px")


def test_groups_page_runs_the_grouping_and_lists_the_works(site, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(site)
    browser.find_element(By.CSS_SELECTOR, '.tab[data-tab="groups"]').click()
    browser.find_element(By.ID, "run-groups").click()
    wait(browser, lambda d: "2 groups of two or more recordings" in d.find_element(By.ID, "groups-info").text)
    groups = browser.find_elements(By.CSS_SELECTOR, "details.group")
    assert [g.find_element(By.TAG_NAME, "summary").text.split(":")[0] for g in groups] == [
        "3 recordings",
        "2 recordings",
    ]
    groups[0].click()
    screenshot(browser, tmp_path, "groups")
