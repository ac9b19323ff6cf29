"""The sandbox page and the console link to each other, so a newcomer can
watch both at once: the page opens the console on its instance's tenant, and
the console links back when this stack has a sandbox."""
from __future__ import annotations

from python_services.common.db import close_pool
from python_services.console.app import create_app
from python_services.sandbox.app import create_app as create_sandbox
from tests.service.console.conftest import console_config, log_in


def test_the_sandbox_page_links_to_the_console_for_its_instance():
    sandbox = create_sandbox({"api_key": "sandbox-test-key", "instances": ["acme-store"], "admin_token": "",
                              "CONSOLE_URL": "http://127.0.0.1:8080/console/"}).test_client()
    assert sandbox.get("/sandbox/config").json["console_url"] == "http://127.0.0.1:8080/console/"
    page = sandbox.get("/").get_data(as_text=True)
    assert 'data-testid="console-link"' in page
    assert 'state.config.console_url + "?instance="' in page


def test_the_console_links_back_to_the_sandbox_page_when_there_is_one(service_config, people, tenant):
    app = create_app(console_config(service_config, SANDBOX_URL="http://127.0.0.1:8090"))
    try:
        client = app.test_client()
        log_in(client, people["viewer"])
        html = client.get(f"/console/t/{tenant['id']}/inbox").get_data(as_text=True)
    finally:
        close_pool(app)
    assert 'href="http://127.0.0.1:8090/?instance=acme-store" data-testid="nav-sandbox"' in html


def test_without_a_sandbox_there_is_no_link(as_role, tenant):
    html = as_role("viewer").get(f"/console/t/{tenant['id']}/inbox").get_data(as_text=True)
    assert 'data-testid="nav-sandbox"' not in html
