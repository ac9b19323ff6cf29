"""The sandbox app (port 8090): Evolution's routes, the JSON API, the page.
No database; the state lives in memory, so serve it with ONE gunicorn worker
(GUNICORN_WORKERS=1) and as many threads as you like."""
from __future__ import annotations

import logging
import time

from flask import Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from ..common import __version__, metrics
from ..common.config import Config, ConfigError
from ..common.errors import http_error, register_error_handlers, unexpected_error
from ..common.logs import configure_service_logging, log_event
from . import api, evolution_api, media, payloads
from .delivery import Deliverer
from .state import Sandbox

log = logging.getLogger("hybridflow.sandbox")

# Fixed settings; tests may override any of them through test_config. The API
# key comes from the environment (SANDBOX_API_KEY, no default: `make up`
# generates one): instances are made by POST /webhook/set/<name> with that
# key, or POST /sandbox/instances.
DEFAULTS = {
    "api_key": "",
    "instances": (),
    "owner_number": "5511999990000",
    "customer_number": "5511987654321",
    "delivery_threads": 4,
    "webhook_timeout": 30.0,
    "webhook_attempts": 3,
    "webhook_backoff": 0.2,
    # URL prefixes the sandbox delivers webhooks to (SANDBOX_WEBHOOK_ALLOWED,
    # comma-separated; unset: N8N_WEBHOOK_URL, the door): it refuses to set
    # a webhook anywhere else, so it cannot be made to post inside the network
    "webhook_allowed": (),
}


def create_app(test_config: dict | None = None) -> Flask:
    """Defaults, then the environment, then the test overrides."""
    app = Flask("sandbox", static_folder=None)
    app.json.sort_keys = False
    cfg = Config.from_env().with_overrides(test_config)
    app.config["HF"] = cfg
    app.config["TESTING"] = bool(test_config)
    configure_service_logging("sandbox", cfg)
    opts = {**DEFAULTS, "api_key": cfg.sandbox_api_key,
            # webhooks delivered at once (benchmarks raise it: the bot's echoes queue up under load)
            "delivery_threads": cfg.sandbox_delivery_threads,
            **{k: v for k, v in (test_config or {}).items() if k in DEFAULTS}}
    if not opts["webhook_allowed"]:
        listed = cfg.env.get("SANDBOX_WEBHOOK_ALLOWED") or cfg.n8n_webhook_url
        opts["webhook_allowed"] = tuple(p.strip() for p in listed.split(",") if p.strip())
    if not opts["api_key"]:
        raise ConfigError("SANDBOX_API_KEY is not set: the sandbox's Evolution apikey has no default "
                          "(`make up` generates one into .env)")
    deliverer = Deliverer(threads=int(opts["delivery_threads"]), timeout=float(opts["webhook_timeout"]),
                          attempts=int(opts["webhook_attempts"]), backoff=float(opts["webhook_backoff"]))
    app.extensions["sandbox"] = Sandbox(
        api_key=opts["api_key"], server_url=cfg.sandbox_url.rstrip("/"), instances=opts["instances"],
        owner_number=opts["owner_number"], default_number=opts["customer_number"], deliverer=deliverer,
        webhook_allowed=opts["webhook_allowed"],
    )
    app.register_blueprint(evolution_api.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(media.bp)

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
    # requests by route at GET /metrics (service token; docs/metrics.md)
    metrics.install(app)
    return app


def _is_ours(path: str) -> bool:
    return path.startswith("/sandbox") or path in ("/", "/health", "/metrics")


def _install_errors(app: Flask) -> None:
    """HybridFlow's error shape on the sandbox's own routes; Evolution's on the
    routes it imitates."""
    register_error_handlers(app)

    @app.errorhandler(evolution_api.EvolutionHttpError)
    def _evolution(err):
        return jsonify(payloads.evolution_error(err.status, err.message)), err.status

    @app.errorhandler(HTTPException)
    def _http(err):
        if _is_ours(request.path):
            return http_error(err)
        # Evolution answers an unknown route (or method) with a 404 of its own
        message = [f"Cannot {request.method} {request.path}"]
        return jsonify(payloads.evolution_error(404, message)), 404

    @app.errorhandler(Exception)
    def _unexpected(err):
        if _is_ours(request.path):
            return unexpected_error(err)
        log.exception("unhandled error")
        return jsonify(payloads.evolution_error(500, str(err))), 500


def _install_call_log(app: Flask) -> None:
    # one JSON line per Evolution API call; the page's polling stays quiet
    @app.after_request
    def _log(response):
        if not _is_ours(request.path):
            log_event(log, "evolution api call", method=request.method, path=request.path,
                      status=response.status_code)
        return response
