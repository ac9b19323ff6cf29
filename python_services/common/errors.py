"""One JSON error shape for every 4xx and 5xx: {"error": {"code", "message", "field"?}}."""
from __future__ import annotations

import logging

from flask import jsonify
from werkzeug.exceptions import HTTPException

from . import db

log = logging.getLogger("hybridflow.errors")


class ApiError(Exception):
    """An error the client can act on; raised anywhere, answered as JSON."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def body(self) -> dict:
        err = {"code": self.code, "message": self.message}
        if self.field is not None:
            err["field"] = self.field
        return {"error": err}


def bad_request(message: str, field: str | None = None, code: str = "invalid") -> ApiError:
    return ApiError(400, code, message, field)


def not_found(message: str, field: str | None = None) -> ApiError:
    return ApiError(404, "not_found", message, field)


def error_response(status: int, code: str, message: str, field: str | None = None):
    return jsonify(ApiError(status, code, message, field).body()), status


def register_error_handlers(app) -> None:
    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return jsonify(err.body()), err.status

    def _database_busy(err: Exception):
        # no free connection, or a statement/lock timeout: rolled back, safe to
        # retry (Evolution redelivers the webhook); see the top of common/db.py
        log.warning("database busy: %s: %s", type(err).__name__, str(err).strip())
        response, status = error_response(503, "database_busy", db.busy_message(err))
        response.headers["Retry-After"] = "1"
        return response, status

    for busy in db.BUSY_ERRORS:
        app.register_error_handler(busy, _database_busy)

    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)


def http_error(err: HTTPException):
    """Werkzeug's own errors (404 route, 405 method, 413 body) in our shape."""
    code = (err.name or "error").lower().replace(" ", "_")
    return error_response(err.code or 500, code, err.description or err.name)


def unexpected_error(err: Exception):
    log.exception("unhandled error")
    return error_response(500, "internal", "internal error; see the service log")
