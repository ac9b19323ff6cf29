"""The console (`/console/`): web pages for a business's people — the
inbox, a chat, settings, usage, the connection, the team, the knowledge
base — server-rendered with Jinja2 and kept live with htmx, over the same
core functions the admin API calls.

Behind the door (Caddy), which passes `/console/*` unchanged and says in
X-Forwarded-Proto / X-Forwarded-For how the browser came; every POST carries
a CSRF token (flask-wtf), forms as a hidden field and htmx as a header."""
from __future__ import annotations

import logging
from pathlib import Path

import psycopg2
from flask import Blueprint, abort, g, render_template, request, send_from_directory
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from ..common import db, metrics
from ..common.config import PROJECT_ROOT, ConfigError
from ..common.errors import ApiError
from ..common.web import create_base_app
from ..core import secrets_at_rest
from . import guard, present

log = logging.getLogger("hybridflow.console")

HERE = Path(__file__).resolve().parent
# the front-end libraries, from web/node_modules (web/package.json pins them;
# scripts/install-web-assets.sh installs them), served at /console/vendor/<name>
VENDOR = {
    "htmx.min.js": PROJECT_ROOT / "web/node_modules/htmx.org/dist/htmx.min.js",
    "chart.umd.min.js": PROJECT_ROOT / "web/node_modules/chart.js/dist/chart.umd.min.js",
}
# a form left open all day still posts: the CSRF token lives as long as a login may
CSRF_COOKIE = "hf_console_csrf"

assets = Blueprint("console_assets", __name__, url_prefix="/console", static_folder="static",
                   static_url_path="/static", template_folder="templates")
csrf = CSRFProtect()


@assets.get("/vendor/<name>")
def vendor(name):
    path = VENDOR.get(name)
    if path is None or not path.is_file():
        abort(404, f"no vendored file {name!r} (scripts/install-web-assets.sh installs them)")
    return send_from_directory(path.parent, path.name, max_age=3600)


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie holds only flask-wtf's CSRF secret (the login is
    the server-side hf_console session); Secure as the login cookie is."""

    def get_cookie_secure(self, app) -> bool:
        return guard.cookie_secure()

    def should_set_cookie(self, app, session) -> bool:
        # a page outside /console (a stray /favicon.ico's 404) never gets the
        # cookie of /console, so it must not set one: it would replace the
        # CSRF secret the open forms were made with
        return request.path.startswith(guard.COOKIE_PATH + "/") and super().should_set_cookie(app, session)


def create_app(config: dict | None = None):
    app = create_base_app("console", config)
    cfg = app.config["HF"]
    if not cfg.console_secret_key and not app.config["TESTING"]:
        raise ConfigError("CONSOLE_SECRET_KEY is not set: the console signs its CSRF tokens with it "
                          "(`make up` generates one into .env)")
    app.config.update(
        SECRET_KEY=cfg.console_secret_key or "a key for tests only",
        SESSION_COOKIE_NAME=CSRF_COOKIE,
        SESSION_COOKIE_PATH=guard.COOKIE_PATH,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=int(cfg.console_session_max_hours * 3600),
        # the token rides in a header on htmx requests (hx-headers on <body>)
        WTF_CSRF_HEADERS=["X-CSRFToken"],
    )
    # tests switch CSRF off with WTF_CSRF_ENABLED=False, except the test that checks it
    if config and "WTF_CSRF_ENABLED" in config:
        app.config["WTF_CSRF_ENABLED"] = bool(config["WTF_CSRF_ENABLED"])
    app.session_interface = ConsoleSessionInterface()
    # the door (one proxy hop) says how the browser came: https, its address
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    # tenants' rows are read (their secrets are opened with the keyring)
    secrets_at_rest.install(app)
    csrf.init_app(app)
    guard.install(app)
    present.install(app)
    install_error_pages(app)
    app.after_request(private_pages)

    from . import (
        auth,
        chats,
        connection,
        hours_page,
        inbox,
        knowledge_page,
        settings_page,
        team,
        usage,
    )

    app.jinja_env.globals["sandbox_link"] = auth.sandbox_link
    app.register_blueprint(assets)
    for module in (auth, inbox, chats, settings_page, hours_page, usage, connection, team, knowledge_page):
        app.register_blueprint(module.bp)
    metrics.install(app)
    return app


def private_pages(response):
    """A business's chats stay out of caches (a shared computer's back button
    after logout included); one URL answers a full page or, to htmx, a
    fragment, so a cache must tell them apart. The stylesheet and the vendored
    libraries are cached as usual."""
    if not request.path.startswith(("/console/static/", "/console/vendor/")):
        response.headers["Cache-Control"] = "no-store"
        response.vary.add("HX-Request")
    return response


# ---------------------------------------------------------------- error pages


def error_page(status: int, message: str):
    """An error as a page (or, for an htmx request, the same text as a
    fragment htmx may show), never JSON: people read these."""
    template = "errors_fragment.html" if guard.is_htmx() else "errors.html"
    return render_template(template, status=status, title=present.STATUS_TITLES.get(status, "Error"),
                           message=message), status


def install_error_pages(app) -> None:
    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        if request.path == "/health":
            from ..common.errors import http_error
            return http_error(err)
        message = err.description if err.code in (403, 404) and err.description else None
        if err.code == 400:
            # flask-wtf's CSRFError is a 400 too; its description says what is wrong with the token
            message = err.description
        return error_page(err.code or 500, message or present.STATUS_TITLES.get(err.code, err.name))

    @app.errorhandler(ApiError)
    def _api(err: ApiError):
        message = err.message + (f" (field: {err.field})" if err.field and err.field not in err.message else "")
        response = error_page(err.status, message)
        retry = getattr(err, "retry_after", None)
        return (*response, {"Retry-After": str(retry)}) if retry else response

    def _busy(err: Exception):
        log.warning("database busy: %s: %s", type(err).__name__, str(err).strip())
        return (*error_page(503, db.busy_message(err)), {"Retry-After": "1"})

    for busy in db.BUSY_ERRORS:
        app.register_error_handler(busy, _busy)

    @app.errorhandler(psycopg2.OperationalError)
    def _down(err):
        log.warning("database unreachable: %s", type(err).__name__)
        return (*error_page(503, "the database cannot be reached just now; try again in a moment"),
                {"Retry-After": "5"})

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error")
        g.pop("role", None)  # an error page offers no actions
        return error_page(500, "something went wrong on our side; see the console's log")
