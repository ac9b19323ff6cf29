"""Logging in and out of the console: the cookie, the same answer for an
unknown e-mail and a wrong password, pages closed to nobody logged in."""
from __future__ import annotations

import re

from tests.service.console.conftest import PASSWORD, log_in


def without_tokens(resp) -> str:
    return re.sub(r'(csrf-token" content=|name="csrf_token" value=|"X-CSRFToken": )"[^"]+"', r"\1",
                  resp.get_data(as_text=True))


def test_login_page_has_the_fields_browser_tests_use(app):
    html = app.test_client().get("/console/login").get_data(as_text=True)
    for testid in ("login-email", "login-password", "login-submit"):
        assert f'data-testid="{testid}"' in html
    assert 'name="csrf-token"' in html


def test_owner_logs_in_and_lands_on_the_inbox_of_their_tenant(app, people, tenant):
    client = app.test_client()
    resp = log_in(client, people["owner"])
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/console/"
    home = client.get("/console/")
    assert home.status_code == 302
    assert home.headers["Location"] == f"/console/t/{tenant['id']}/inbox"
    assert client.get(home.headers["Location"]).status_code == 200


def test_the_session_cookie_is_httponly_samesite_lax_and_scoped_to_the_console(app, people):
    resp = log_in(app.test_client(), people["agent"])
    cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("hf_console="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie


def test_the_cookie_is_secure_when_the_door_says_the_browser_came_over_tls(app, people):
    resp = app.test_client().post("/console/login", data={"email": people["agent"], "password": PASSWORD},
                                  headers={"X-Forwarded-Proto": "https"})
    cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("hf_console="))
    assert "Secure" in cookie


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(app, people):
    wrong = log_in(app.test_client(), people["owner"], password="not the password at all")
    unknown = log_in(app.test_client(), "nobody@acme.example", password="not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "wrong e-mail or password" in wrong.get_data(as_text=True)
    # the page differs only by the e-mail typed back into the form (and each response's CSRF token)
    assert without_tokens(wrong) == without_tokens(unknown).replace("nobody@acme.example", people["owner"])
    assert not any(c.startswith("hf_console=") for c in wrong.headers.getlist("Set-Cookie"))


def test_an_email_postgres_cannot_hold_is_refused_like_a_wrong_password_not_a_500(app):
    resp = log_in(app.test_client(), "ana\x00@acme.example", password="whatever at all")
    assert resp.status_code == 401
    assert "wrong e-mail or password" in resp.get_data(as_text=True)


def test_arguments_on_the_bare_console_address_never_reach_url_building(app):
    client = app.test_client()
    for query in ("endpoint=x", "_method=DELETE", "_external=1&_scheme=javascript"):
        resp = client.get(f"/console?{query}")
        assert resp.status_code == 302, query
        assert resp.headers["Location"].startswith("/console/"), resp.headers["Location"]


def test_an_empty_email_is_a_400_that_names_the_field(app):
    resp = log_in(app.test_client(), "", password="whatever")
    assert resp.status_code == 400
    assert "e-mail is required" in resp.get_data(as_text=True)


def test_logins_slow_down_after_repeated_failures(app, people):
    client = app.test_client()
    for _ in range(5):
        assert log_in(client, people["viewer"], password="wrong password here").status_code == 401
    resp = log_in(client, people["viewer"])
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0


def test_nobody_logged_in_is_sent_to_the_login_page(app, tenant, chats):
    client = app.test_client()
    for path in ("/console/", f"/console/t/{tenant['id']}/inbox",
                 f"/console/t/{tenant['id']}/chats/{chats['active']['id']}"):
        resp = client.get(path)
        assert resp.status_code == 302, path
        assert resp.headers["Location"].startswith("/console/login")


def test_an_htmx_poll_without_a_login_gets_401_and_where_to_log_in(app, tenant):
    resp = app.test_client().get(f"/console/t/{tenant['id']}/inbox/rows", headers={"HX-Request": "true"})
    assert resp.status_code == 401
    assert resp.headers["HX-Redirect"] == "/console/login"


def test_logout_ends_the_session_on_the_server(as_role, tenant):
    client = as_role("owner")
    inbox = f"/console/t/{tenant['id']}/inbox"
    assert client.get(inbox).status_code == 200
    resp = client.post("/console/logout")
    assert resp.status_code == 302
    assert client.get(inbox).status_code == 302


def test_someone_in_several_tenants_gets_the_switcher_and_can_pick_either(app, tx, people, tenant, other_tenant):
    from python_services.core import accounts

    tx(accounts.add_member, other_tenant["id"], people["agent"], None, "viewer")
    client = app.test_client()
    log_in(client, people["agent"])
    page = client.get(f"/console/t/{tenant['id']}/inbox").get_data(as_text=True)
    assert 'data-testid="tenant-switcher"' in page
    assert "Other Shop (viewer)" in page
    resp = client.get(f"/console/switch?tenant={other_tenant['id']}")
    assert resp.headers["Location"] == f"/console/t/{other_tenant['id']}/inbox"
    assert client.get(resp.headers["Location"]).status_code == 200


def test_a_link_naming_an_instance_opens_that_tenants_inbox_after_login(app, tx, people, tenant, other_tenant):
    from python_services.core import accounts

    tx(accounts.add_member, other_tenant["id"], people["owner"], None, "owner")
    client = app.test_client()
    resp = client.get("/console/?instance=other-shop")
    assert resp.headers["Location"] == "/console/login?instance=other-shop"
    resp = log_in(client, people["owner"], instance="other-shop")
    assert resp.headers["Location"] == "/console/?instance=other-shop"
    assert client.get(resp.headers["Location"]).headers["Location"] == f"/console/t/{other_tenant['id']}/inbox"


def test_pages_are_kept_out_of_caches_but_the_stylesheet_and_htmx_are_not(as_role, tenant):
    client = as_role("viewer")
    page = client.get(f"/console/t/{tenant['id']}/inbox")
    assert page.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in page.headers["Vary"]
    css = client.get("/console/static/console.css")
    htmx = client.get("/console/vendor/htmx.min.js")
    assert css.status_code == htmx.status_code == 200
    assert "no-store" not in css.headers.get("Cache-Control", "")
    assert b"htmx" in htmx.data
    assert client.get("/console/vendor/left-pad.js").status_code == 404
