"""/api/docs in a real browser with no network: headless Chromium (Debian's,
through /usr/bin/chromedriver) loads the page from the collision service on
127.0.0.1, every host name but that unresolvable, and Swagger UI (served by
the service itself) renders one entry per operation of /api/openapi.json.
Needs no n8n. Without Chromium it fails (`make chromium` installs it)."""
from __future__ import annotations

import threading

import pytest
import requests
from werkzeug.serving import make_server

from python_services.collision.app import create_app
from python_services.common.db import close_pool

from .chromium import WAIT_SECONDS, chromium

pytestmark = pytest.mark.browser


@pytest.fixture
def collision_url(service_config):
    app = create_app(service_config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        close_pool(app)


@pytest.fixture
def offline_browser(tmp_path):
    # no network: every name but the local server's resolves to nothing
    with chromium(tmp_path, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1") as driver:
        yield driver


def test_the_api_docs_page_renders_every_operation_with_no_network(collision_url, offline_browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    document = requests.get(collision_url + "/api/openapi.json", timeout=10).json()
    operations = sum(len(ops) for ops in document["paths"].values())
    offline_browser.get(collision_url + "/api/docs")
    wait = WebDriverWait(offline_browser, WAIT_SECONDS, poll_frequency=0.2)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) == operations,
               f"Swagger UI's {operations} operations on the page")
    shown = {(e.get_attribute("data-path"), None) for e in offline_browser.find_elements(
        By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {path for path, _ in shown} == set(document["paths"])
    assert "HybridFlow admin API" in offline_browser.find_element(By.CSS_SELECTOR, ".info .title").text
    loaded = offline_browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(url.startswith(collision_url) for url in loaded), loaded
