"""CORS for /api/: off unless CORS_ORIGINS names origins (a business's own
frontend on another address; the console is same-origin and needs none).
Only listed origins get the headers; credentials (cookies) are never
allowed cross-origin: such a frontend sends a tenant token in the
Authorization header. A preflight (OPTIONS) passes the token check (a
browser sends no Authorization with it) and gets Flask's own empty answer
with the headers above."""
from __future__ import annotations

from flask import current_app, request

ALLOWED_HEADERS = "Authorization, Content-Type"
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
MAX_AGE_SECONDS = "600"


def is_preflight() -> bool:
    return request.method == "OPTIONS"


def install_cors(app) -> None:
    @app.after_request
    def _cors(response):
        if not request.path.startswith("/api/"):
            return response
        origins = current_app.config["HF"].cors_origins
        origin = (request.headers.get("Origin") or "").lower()
        if origins:
            response.vary.add("Origin")
        if not origin or origin not in origins:
            return response
        response.headers["Access-Control-Allow-Origin"] = origin
        if is_preflight():
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = MAX_AGE_SECONDS
        return response
