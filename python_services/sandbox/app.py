"""The sandbox app (port 8090): Evolution's routes, the JSON API, the page.
No database; the state lives in memory, so serve it with ONE gunicorn worker
(GUNICORN_WORKERS=1) and as many threads as you like."""
from __future__ import annotations

import logging
import time

from flask import Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from ..common import __version__
from ..common.config import Config
from ..common.errors import ApiError
from ..common.logs import configure_logging, log_event
from . import api, evolution_api, payloads
from .delivery import Deliverer
from .state import Sandbox

DEFAULT_API_KEY = "sandbox-key"
log = logging.getLogger("hybridflow.sandbox")

# Fixed settings; tests may override any of them through test_config. Only
# the API key comes from the environment (SANDBOX_API_KEY): instances are
# made by POST /webhook/set/<name> with that key, or POST /sandbox/instances.
DEFAULTS = {
    "api_key": DEFAULT_API_KEY,
    "instances": (),
    "owner_number": "5511999990000",
    "customer_number": "5511987654321",
    "delivery_threads": 4,
    "webhook_timeout": 30.0,
    "webhook_attempts": 3,
    "webhook_backoff": 0.2,
}


def create_app(test_config: dict | None = None) -> Flask:
    """Defaults, then the environment, then the test overrides."""
    app = Flask("sandbox", static_folder=None)
    app.json.sort_keys = False
    cfg = Config.from_env().with_overrides(test_config)
    app.config["HF"] = cfg
    app.config["TESTING"] = bool(test_config)
    configure_logging("sandbox", cfg.log_level)
    opts = {**DEFAULTS, "api_key": cfg.env.get("SANDBOX_API_KEY") or DEFAULT_API_KEY,
            # webhooks delivered at once (benchmarks raise it: the bot's echoes queue up under load)
            "delivery_threads": int(cfg.env.get("SANDBOX_DELIVERY_THREADS") or DEFAULTS["delivery_threads"]),
            **{k: v for k, v in (test_config or {}).items() if k in DEFAULTS}}
    deliverer = Deliverer(threads=int(opts["delivery_threads"]), timeout=float(opts["webhook_timeout"]),
                          attempts=int(opts["webhook_attempts"]), backoff=float(opts["webhook_backoff"]))
    app.extensions["sandbox"] = Sandbox(
        api_key=opts["api_key"], server_url=cfg.sandbox_url.rstrip("/"), instances=opts["instances"],
        owner_number=opts["owner_number"], default_number=opts["customer_number"], deliverer=deliverer,
    )
    app.register_blueprint(evolution_api.bp)
    app.register_blueprint(api.bp)

    @app.get("/health")
    def health():
        sb = current_app.extensions["sandbox"]
        return jsonify({"ok": True, "service": "sandbox", "version": __version__,
                        "checks": {"webhooks": {"ok": True, "pending": sb.deliverer.pending}}})

    @app.before_request
    def _received():
        # the precise arrival time of every call (GET /sandbox/calls: received_at)
        g.received_at = time.time()

    _install_errors(app)
    _install_call_log(app)
    return app


def _is_ours(path: str) -> bool:
    return path.startswith("/sandbox") or path in ("/", "/health")


def _install_errors(app: Flask) -> None:
    @app.errorhandler(evolution_api.EvolutionHttpError)
    def _evolution(err):
        return jsonify(payloads.evolution_error(err.status, err.message)), err.status

    @app.errorhandler(ApiError)
    def _api(err):
        return jsonify(err.body()), err.status

    @app.errorhandler(HTTPException)
    def _http(err):
        if _is_ours(request.path):
            code = (err.name or "error").lower().replace(" ", "_")
            return jsonify(ApiError(err.code or 500, code, err.description or err.name).body()), err.code
        # Evolution answers an unknown route (or method) with a 404 of its own
        message = [f"Cannot {request.method} {request.path}"]
        return jsonify(payloads.evolution_error(404, message)), 404

    @app.errorhandler(Exception)
    def _unexpected(err):
        log.exception("unhandled error")
        if _is_ours(request.path):
            return jsonify(ApiError(500, "internal", "internal error; see the sandbox log").body()), 500
        return jsonify(payloads.evolution_error(500, str(err))), 500


def _install_call_log(app: Flask) -> None:
    # one JSON line per Evolution API call; the page's polling stays quiet
    @app.after_request
    def _log(response):
        if not _is_ours(request.path):
            log_event(log, "evolution api call", method=request.method, path=request.path,
                      status=response.status_code)
        return response
