"""The skeleton every service's create_app() starts from: configuration,
logging, errors, the pool and /health."""
from __future__ import annotations

import time

from flask import Blueprint, Flask, current_app, jsonify, request

from . import __version__, db
from .config import Config
from .cors import install_cors
from .logs import configure_service_logging, install_request_logging
from .errors import bad_request, register_error_handlers

health_bp = Blueprint("health", __name__)


@health_bp.get("/health")
def health():
    checks = {}
    started = time.perf_counter()
    try:
        db.ping()
        checks["database"] = {"ok": True}
    except Exception as exc:  # health must answer, whatever broke
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    checks["database"]["ms"] = round((time.perf_counter() - started) * 1000, 2)
    ok = all(c.get("ok") for c in checks.values())
    body = {"ok": ok, "service": current_app.name, "version": __version__, "checks": checks}
    return jsonify(body), (200 if ok else 503)


def create_base_app(name: str, test_config: dict | None = None) -> Flask:
    """Defaults, then the environment, then the test overrides."""
    app = Flask(name)
    app.json.sort_keys = False
    cfg = Config.from_env().with_overrides(test_config)
    app.config["HF"] = cfg
    app.config["TESTING"] = bool(test_config)
    configure_service_logging(name, cfg)
    install_request_logging(app)
    install_cors(app)
    register_error_handlers(app)
    db.init_app(app)
    app.register_blueprint(health_bp)
    return app


def json_body(optional: bool = False) -> dict:
    """The request's JSON object, or a 400 that says what is wrong. An
    optional body may be left out (an empty body reads as {})."""
    if optional and not request.get_data():
        return {}
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        # the JSON decoder gives up on nesting thousands deep (silent covers ValueError only)
        raise bad_request("the body is nested too deeply", "body", "malformed") from None
    if data is None:
        raise bad_request("the body must be JSON (Content-Type: application/json)", "body", "malformed")
    if not isinstance(data, dict):
        raise bad_request("the body must be a JSON object", "body", "malformed")
    return data
