"""Headless Debian Chromium driven by Selenium through /usr/bin/chromedriver,
started the same way by every browser test (the sandbox page, /api/docs).
Without Chromium the test fails and says how to install it (`make chromium`)."""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_SECONDS = 30


@contextlib.contextmanager
def chromium(tmp_path: Path, *extra_args: str):
    """A driver with its profile and chromedriver's log under tmp_path, quit
    afterwards; extra_args are more Chromium switches (e.g. to cut the network)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run `make chromium` (Debian's chromium and chromium-driver)")
    # the driver path is given, so Selenium Manager is skipped; offline in case it is ever asked
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,900", f"--user-data-dir={tmp_path / 'chromium-profile'}",
                *extra_args):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log")),
                              options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()
