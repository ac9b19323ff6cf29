"""Logging in and out of the console, its front page and the tenant
switcher. The login itself is core/accounts.py's (throttled per account and
address in Postgres, the same answer for an unknown e-mail and a wrong
password); this module sets and clears the cookie.

The cookie holds the session's random id (the table keeps only its hash):
HttpOnly (no script reads it), SameSite=Lax (a cross-site POST does not
carry it), Secure behind TLS, Path=/console (the API never sees it)."""
from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from ..common import db
from ..common.logs import log_context
from ..core import accounts, tenants
from .guard import COOKIE, COOKIE_PATH, cookie_secure, current_login, parse_tenant_id, session_policy

bp = Blueprint("auth", __name__, url_prefix="/console")

MAX_EMAIL_CHARS = 254


def _instance_arg() -> str | None:
    """?instance=<name>: the tenant a link means (the sandbox page's), kept through the login."""
    value = request.values.get("instance", "").strip()
    return value if tenants.valid_instance_name(value) else None


@bp.get("")
def bare():
    # only ?instance= is carried on: other arguments would become url_for's own (endpoint, _external...)
    return redirect(url_for("auth.home", instance=_instance_arg()))


@bp.get("/")
def home():
    """The first tenant's inbox (or the one ?instance= names); the login
    page when nobody is logged in."""
    login = current_login()
    instance = _instance_arg()
    if login is None:
        return redirect(url_for("auth.login", instance=instance) if instance else url_for("auth.login"))
    mine = login["tenants"]
    if not mine:
        g.user = login["user"]
        return render_template("no_tenant.html"), 200
    chosen = next((t for t in mine if t["instance_name"] == instance), mine[0])
    return redirect(url_for("inbox.inbox", tenant_id=chosen["tenant_id"]))


@bp.get("/login")
def login():
    if current_login() is not None:
        return redirect(url_for("auth.home", instance=_instance_arg()))
    return render_template("login.html", email="", error=None, instance=_instance_arg())


@bp.post("/login")
def login_post():
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    instance = _instance_arg()

    def again(status: int, error: str, field: str | None = None, headers=None):
        return render_template("login.html", email=email[:MAX_EMAIL_CHARS], error=error, field=field,
                               instance=instance), status, headers or {}

    if not email.strip():
        return again(400, "e-mail is required", "email")
    if not password:
        return again(400, "password is required", "password")
    address = request.remote_addr or ""
    try:
        person = accounts.authenticate(email, password, address)
    except accounts.LoginThrottled as refused:
        return again(429, refused.message, headers={"Retry-After": str(refused.retry_after)})
    except accounts.LoginRefused as refused:
        # the same words for an unknown e-mail and a wrong password
        return again(401, refused.message)
    policy = session_policy()
    with db.transaction() as cur:
        session_id, _ = accounts.start_session(cur, person["id"], policy, address=address,
                                               user_agent=request.headers.get("User-Agent", ""))
    log_context(user=str(person["id"]), outcome="logged_in")
    # a fresh CSRF secret for the new login
    session.clear()
    response = redirect(url_for("auth.home", instance=instance) if instance else url_for("auth.home"))
    response.set_cookie(COOKIE, session_id, max_age=int(policy.max_age_seconds), path=COOKIE_PATH,
                        secure=cookie_secure(), httponly=True, samesite="Lax")
    return response


@bp.post("/logout")
def logout():
    session_id = request.cookies.get(COOKIE)
    if session_id:
        with db.transaction() as cur:
            accounts.end_session(cur, session_id)
    session.clear()
    response = redirect(url_for("auth.login"))
    response.delete_cookie(COOKIE, path=COOKIE_PATH, secure=cookie_secure(), httponly=True, samesite="Lax")
    return response


@bp.get("/switch")
def switch():
    """The tenant switcher's form: to the chosen tenant's inbox (the guard
    there checks the membership, as for any URL)."""
    if current_login() is None:
        return redirect(url_for("auth.login"))
    tenant_id = parse_tenant_id(request.args.get("tenant", ""))
    return redirect(url_for("inbox.inbox", tenant_id=tenant_id))


def sandbox_link() -> str | None:
    """The sandbox page, when this stack has one (SANDBOX_URL set)."""
    cfg = current_app.config["HF"]
    return cfg.sandbox_url + "/" if cfg.env.get("SANDBOX_URL") else None
