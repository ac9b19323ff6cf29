"""The connection page against the sandbox's fake Evolution, served over
real HTTP: the instance's state, the webhook HybridFlow expects and whether
Evolution has it, "Connect" (the webhook set with a new secret), pairing by
QR code; an Evolution that fails is a sentence on the page, never a 500;
owners only act; another tenant's page a 404."""
from __future__ import annotations

import base64
import html as html_text
import re

import pytest

from python_services.common.db import close_pool
from python_services.console.app import create_app
from python_services.core import accounts
from python_services.core.connection_status import qr_data_url, webhook_check
from python_services.core.webhook_secrets import secret_hash
from python_services.sandbox.app import create_app as create_sandbox
from tests.service.console.conftest import console_config
from tests.service.evolution.conftest import LocalServer

SANDBOX_KEY = "sandbox-console-key"
N8N = "http://n8n.test:5678/"
EXPECTED = N8N + "webhook/evolution"


@pytest.fixture(scope="module")
def evolution():
    """The sandbox as the tenant's Evolution server (instance acme-store)."""
    app = create_sandbox({"api_key": SANDBOX_KEY, "instances": ["acme-store"], "webhook_attempts": 1,
                          "webhook_allowed": (N8N,), "admin_token": ""})
    server = LocalServer(app)
    yield server, app.extensions["sandbox"]
    server.stop()


@pytest.fixture
def sandbox(evolution):
    server, state = evolution
    state.reset(instances=True)
    return state


@pytest.fixture
def app(service_config):
    # the console's own app, told where n8n's webhook is (the address Evolution should post to)
    app = create_app(console_config(service_config, n8n_webhook_url=N8N, http_timeout=5.0))
    yield app
    close_pool(app)


@pytest.fixture
def tenant(make_tenant, evolution):
    return make_tenant("acme-store", evo_server_url=evolution[0].url, evo_api_key=SANDBOX_KEY)


def url(tenant, tail=""):
    return f"/console/t/{tenant['id']}/connection{tail}"


def state_of(html: str) -> str:
    return re.search(r'data-testid="connection-state" data-state="([\w-]+)"', html).group(1)


def test_the_page_shows_the_state_and_that_evolution_has_no_webhook_yet(as_role, tenant, people, sandbox):
    html = as_role("viewer").get(url(tenant)).get_data(as_text=True)
    assert state_of(html) == "open"
    assert "Connected to WhatsApp" in html
    assert f'data-testid="expected-webhook">{EXPECTED}<' in html
    assert "Evolution has no webhook for this instance" in html
    assert 'data-testid="connect"' not in html  # a viewer reads only


def test_connect_points_evolution_at_hybridflow_and_the_page_says_so(as_role, tenant, people, sandbox, db_conn):
    resp = as_role("owner").post(url(tenant, "/connect"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html
    assert 'data-testid="connection-done"' in html
    assert 'data-testid="webhook" data-ok="true"' in html
    hook = sandbox.instance("acme-store").webhook
    assert hook["url"] == EXPECTED and hook["enabled"] is True
    secret = hook["headers"]["X-Webhook-Secret"]
    assert secret not in html  # the new secret is Evolution's and the hash's, never the page's
    with db_conn.cursor() as cur:
        cur.execute("SELECT webhook_secret_hash FROM tenants WHERE id = %s", (tenant["id"],))
        assert cur.fetchone()["webhook_secret_hash"] == secret_hash(secret)


def test_pairing_shows_the_qr_code_evolution_gives(as_role, tenant, people, sandbox):
    sandbox.ensure_instance("acme-store", state="close")
    client = as_role("owner")
    assert state_of(client.get(url(tenant)).get_data(as_text=True)) == "close"
    html = client.post(url(tenant, "/qr")).get_data(as_text=True)
    image = re.search(r'data-testid="qr"[\s\S]*?<img src="data:image/png;base64,([^"]+)"', html)
    assert image, html
    assert base64.b64decode(image.group(1)).startswith(b"\x89PNG\r\n\x1a\n")
    assert 'hx-trigger="every 4s"' in html  # the state is fetched again until the phone is paired


def test_a_paired_instance_has_no_qr_code_to_show(as_role, tenant, people, sandbox):
    html = as_role("owner").post(url(tenant, "/qr")).get_data(as_text=True)
    assert 'data-testid="qr-paired"' in html and "<img" not in html


@pytest.mark.parametrize("fields, words", [
    ({"evo_server_url": "http://127.0.0.1:9"}, "cannot reach Evolution at http://127.0.0.1:9"),
    ({"evo_api_key": "wrong-key"}, "Evolution refused the API key"),
    ({"instance_name": "ghost-shop"}, "Evolution has no instance 'ghost-shop'"),
])
def test_an_evolution_that_fails_is_a_sentence_on_the_page_never_a_500(as_role, make_tenant, evolution, people,
                                                                       sandbox, fields, words, tx):
    sandbox.ensure_instance("broken-shop")  # Evolution has it: what fails is the address, the key or the name
    shop = make_tenant(**{"instance_name": "broken-shop", "evo_server_url": evolution[0].url,
                          "evo_api_key": SANDBOX_KEY, **fields})
    tx(accounts.add_member, shop["id"], people["owner"], None, "owner")
    client = as_role("owner")
    page = client.get(url(shop))
    assert page.status_code == 200 and words in html_text.unescape(page.get_data(as_text=True)), \
        html_text.unescape(page.get_data(as_text=True))
    pressed = client.post(url(shop, "/connect"))
    assert pressed.status_code in (400, 502)
    problem = re.search(r'data-testid="connection-problem"[^>]*>([^<]*)<', pressed.get_data(as_text=True))
    assert problem and words in html_text.unescape(problem.group(1))
    qr = client.post(url(shop, "/qr"))
    assert qr.status_code == 200 and words in html_text.unescape(qr.get_data(as_text=True))


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_only_owners_connect_or_pair_and_a_forged_post_is_403(as_role, tenant, people, sandbox, role):
    client = as_role(role)
    assert client.post(url(tenant, "/connect")).status_code == 403
    assert client.post(url(tenant, "/qr")).status_code == 403
    assert sandbox.instance("acme-store").webhook is None


def test_another_tenants_connection_is_a_404(as_role, other_tenant, people, sandbox):
    client = as_role("owner")
    assert client.get(url(other_tenant)).status_code == 404
    assert client.post(url(other_tenant, "/connect")).status_code == 404


# ---------------------------------------------------------------- the comparison, without HTTP

TENANT = {"webhook_secret_hash": secret_hash("right"), "previous_webhook_secret_hash": None}
HOOK = {"enabled": True, "url": EXPECTED, "events": ["MESSAGES_UPSERT", "SEND_MESSAGE", "MESSAGES_EDITED"]}


@pytest.mark.parametrize("found, verdict", [
    ({**HOOK, "headers": {"x-webhook-secret": "right"}}, {"ok": True, "secret": "ok"}),
    ({**HOOK, "headers": {"X-Webhook-Secret": "wrong"}}, {"ok": False, "secret": "wrong"}),
    ({**HOOK, "headers": {}}, {"ok": False, "secret": "missing"}),
    ({**HOOK, "headers": {"X-Webhook-Secret": "****ight"}}, {"ok": True, "secret": "hidden"}),
    ({**HOOK, "url": "http://elsewhere/", "headers": {"X-Webhook-Secret": "right"}}, {"ok": False, "url_ok": False}),
    ({**HOOK, "events": ["MESSAGES_UPSERT"], "headers": {"X-Webhook-Secret": "right"}},
     {"ok": False, "events_missing": ["SEND_MESSAGE", "MESSAGES_EDITED"]}),
    (None, {"ok": False, "set": False}),
])
def test_the_webhook_is_compared_with_what_hybridflow_expects(found, verdict):
    check = webhook_check(found, EXPECTED, TENANT)
    assert {k: check[k] for k in verdict} == verdict


def test_only_an_image_is_taken_from_evolution_for_the_qr_code():
    assert qr_data_url("iVBORw0KGgo=") == "data:image/png;base64,iVBORw0KGgo="
    assert qr_data_url("data:image/png;base64,iVBORw0KGgo=") == "data:image/png;base64,iVBORw0KGgo="
    assert qr_data_url("javascript:alert(1)") is None
    assert qr_data_url("data:text/html;base64,PHNjcmlwdD4=") is None
