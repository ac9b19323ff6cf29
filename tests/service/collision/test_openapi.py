"""The admin API describes itself (GET /api/openapi.json, a valid OpenAPI 3
document listing every admin route of both services, /api/docs with its own
assets), takes a customer's number in any common format, and answers CORS
only for the configured origins."""
from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from python_services.collision.app import create_app
from python_services.collision.docs import ASSETS_DIR
from python_services.common.db import close_pool
from python_services.common.openapi import routes
from python_services.llm.app import create_app as create_llm_app
from tests.conftest import ADMIN_TOKEN

from .conftest import fresh

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def document(app):
    resp = app.test_client().get("/api/openapi.json")  # no token: it describes, it holds no data
    assert resp.status_code == 200
    return resp.get_json()


def test_the_document_is_valid_openapi_3(document):
    validate(document)
    assert document["openapi"].startswith("3.")


def test_the_document_lists_every_admin_route_of_both_services(app, service_config, document):
    llm = create_llm_app(service_config)
    try:
        served = {(path, method) for a in (app, llm) for path, method, _ in routes(a)}
    finally:
        close_pool(llm)
    listed = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert listed == served
    assert ("/api/tenants/{tenant_id}/tokens/{token_id}", "delete") in listed
    assert ("/api/usage", "get") in listed


def test_every_route_says_who_may_call_it_and_what_it_answers(document):
    undescribed = [f"{m.upper()} {p}" for p, ops in document["paths"].items() for m, op in ops.items()
                   if op.get("x-undescribed")]
    assert not undescribed, f"add @documented(Operation(...)) to {undescribed}"
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert op["summary"] and op["responses"], (method, path)
            assert op.get("security") == [] or "**Who:**" in op.get("description", ""), (method, path)


def test_the_request_models_are_in_the_document(document):
    schemas = document["components"]["schemas"]
    assert schemas["NewMember"]["properties"]["role"]["enum"] == ["owner", "agent", "viewer"]
    assert "password" not in schemas["Member"]["properties"]
    settings = schemas["NewTenant"]["properties"]["settings"]["properties"]
    assert settings["debounce_seconds"] == {"type": "number", "minimum": 0, "maximum": 300, "default": 3}
    params = {p["name"]: p for p in document["paths"]["/api/events"]["get"]["parameters"]}
    assert set(params) == {"tenant_id", "chat_id", "limit"}


def test_the_docs_page_is_served_with_its_own_assets(app):
    client = app.test_client()
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'src="docs/assets/swagger-ui-bundle.js"' in html and "validatorUrl: null" in html
    assert "://" not in html  # nothing from another server
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        asset = client.get(f"/api/docs/assets/{name}")
        assert asset.status_code == 200 and len(asset.data) > 10_000
    assert client.get("/api/docs/assets/package.json").status_code == 404
    assert client.get("/api/docs/assets/..%2Fpackage.json").status_code == 404


def test_without_the_assets_the_page_says_how_to_install_them(app, monkeypatch, tmp_path):
    monkeypatch.setattr("python_services.collision.docs.ASSETS_DIR", tmp_path)
    resp = app.test_client().get("/api/docs")
    assert resp.status_code == 503 and "install-web-assets" in resp.get_json()["error"]["message"]
    assert ASSETS_DIR.name == "swagger-ui-dist"


# ---------------------------------------------------------------- phone numbers in query parameters


@pytest.mark.parametrize("chat", ["5511987654321", "+55 11 98765-4321", "+55 (11) 98765-4321",
                                  "5511987654321@s.whatsapp.net", "%2B5511987654321"])
def test_a_chat_is_found_by_its_number_in_any_common_format(app, tenant, deliver, chat):
    deliver(fresh("01_customer_text_pn"))
    resp = app.test_client().get("/api/events", query_string=f"tenant_id={tenant['id']}&chat_id={chat}"
                                 .replace("+", "%2B").replace(" ", "%20"), headers=ADMIN)
    assert resp.status_code == 200, resp.get_json()
    assert [e["chat_id"] for e in resp.get_json()["events"]] == ["5511987654321@s.whatsapp.net"]


@pytest.mark.parametrize("chat", ["abc", "12", "+0 12", "55 11 @x", "@s.whatsapp.net"])
def test_a_chat_that_is_neither_a_number_nor_a_jid_is_refused_naming_it(app, tenant, chat):
    resp = app.test_client().get("/api/events", query_string={"tenant_id": str(tenant["id"]), "chat_id": chat},
                                 headers=ADMIN)
    assert resp.status_code == 400 and resp.get_json()["error"]["field"] == "chat_id"


# ---------------------------------------------------------------- CORS


@pytest.fixture
def cors_app(service_config):
    app = create_app({**service_config, "CORS_ORIGINS": "https://shop.example.com, http://localhost:3000"})
    yield app
    close_pool(app)


def preflight(app, origin):
    return app.test_client().options("/api/sessions", headers={
        "Origin": origin, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})


def test_cors_is_off_by_default(app):
    resp = preflight(app, "https://shop.example.com")
    assert "Access-Control-Allow-Origin" not in resp.headers
    got = app.test_client().get("/api/sessions", headers={**ADMIN, "Origin": "https://shop.example.com"})
    assert got.status_code == 200 and "Access-Control-Allow-Origin" not in got.headers


def test_a_listed_origin_gets_cors_and_its_preflight_passes_the_token_check(cors_app):
    resp = preflight(cors_app, "https://shop.example.com")
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in resp.headers
    got = cors_app.test_client().get("/api/sessions", headers={**ADMIN, "Origin": "http://localhost:3000"})
    assert got.status_code == 200 and got.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    # the preflight passes; the request itself still needs its token
    assert cors_app.test_client().get("/api/sessions", headers={"Origin": "https://shop.example.com"}).status_code \
        == 401


def test_an_origin_not_listed_gets_no_cors(cors_app):
    resp = preflight(cors_app, "https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert "Origin" in resp.headers.get("Vary", "")


@pytest.mark.parametrize("value", ["shop.example.com", "https://shop.example.com/path", "ftp://x"])
def test_a_cors_origin_that_is_not_an_origin_stops_the_start(service_config, value):
    with pytest.raises(ValueError, match="CORS_ORIGINS"):
        create_app({**service_config, "CORS_ORIGINS": value})
