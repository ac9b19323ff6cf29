"""Who is looking at a console page, and may they: the login behind the
request's cookie, their role in the tenant the URL names, and the rule of
core/access.py for the page's action. Every tenant page is wrapped in
`tenant_page(action)`; templates ask `can(action)` only to hide buttons (the
decorator is the check that counts).

    @bp.get("/t/<tenant_id>/usage")
    @tenant_page("read")
    def usage(tenant_id):        # tenant_id arrives as a uuid.UUID
        ... g.user, g.tenant, g.role, g.principal, g.tenants ...

Not logged in: a redirect to the login page (an htmx request gets 401 with
HX-Redirect, so the browser goes there instead of swapping a login page
into a fragment). A tenant the person does not belong to, a malformed id and
an unknown tenant are the same 404 page, so ids cannot be probed. A role that
may not do the action: the 403 page."""
from __future__ import annotations

import functools
import uuid

from flask import abort, current_app, g, redirect, request, url_for

from ..common import db
from ..core import access, accounts, tenants

# the console's session cookie (its value is the id core/web_sessions.py hashes)
COOKIE = "hf_console"
COOKIE_PATH = "/console"


def session_policy() -> accounts.SessionPolicy:
    return accounts.SessionPolicy.from_config(current_app.config["HF"])


def current_login() -> dict | None:
    """{"user", "session", "tenants"} of the request's live console session,
    or None; looked up once per request."""
    if "console_login" not in g:
        session_id = request.cookies.get(COOKIE)
        login = None
        if session_id:
            with db.transaction() as cur:
                login = accounts.session_user(cur, session_id, session_policy())
        g.console_login = login
    return g.console_login


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def login_required():
    """The answer to a request without a live login."""
    target = url_for("auth.login")
    if is_htmx():
        return "", 401, {"HX-Redirect": target}
    return redirect(target)


def parse_tenant_id(value) -> uuid.UUID:
    """The tenant id from the URL; a malformed one is the unknown tenant's 404."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        abort(404, "no such tenant")


def tenant_page(action: str = "read"):
    """Decorator for a view taking `tenant_id`: see the module's docstring."""
    if action not in access.ACTIONS:
        raise ValueError(f"unknown action {action!r}: see core/access.py")

    def decorate(view):
        @functools.wraps(view)
        def guarded(tenant_id, **kwargs):
            login = current_login()
            if login is None:
                return login_required()
            tid = parse_tenant_id(tenant_id)
            role = next((t["role"] for t in login["tenants"] if t["tenant_id"] == tid), None)
            tenant = None
            if role is not None:
                with db.transaction() as cur:
                    tenant = tenants.by_id(cur, tid)
            if tenant is None:
                abort(404, "no such tenant")
            g.user = login["user"]
            g.tenant = tenant
            g.role = role
            g.tenants = login["tenants"]
            g.principal = access.user_principal(login["user"], tid, role)
            if not access.allowed(role, action):
                abort(403, access.refusal(g.principal, action))
            return view(tenant_id=tid, **kwargs)

        guarded.console_action = action
        return guarded

    return decorate


def can(action: str) -> bool:
    """May the person on this tenant page do `action`? (For templates: the
    server-side check is tenant_page's.)"""
    role = g.get("role")
    return role is not None and access.allowed(role, action)


def install(app) -> None:
    """`can` for every template."""
    app.jinja_env.globals["can"] = can


def cookie_secure() -> bool:
    """Cookies are Secure when Config says so (CONSOLE_COOKIE_SECURE) or the
    browser came over TLS (the door's X-Forwarded-Proto: https)."""
    return bool(current_app.config["HF"].console_cookie_secure or request.is_secure)
