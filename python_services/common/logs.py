"""JSON log lines: one object per line with the request's context
(tenant, chat, message id, decision) and its duration."""
from __future__ import annotations

import json
import logging
import sys
import time
from datetime import datetime, timezone

from flask import g, request

CONTEXT_KEYS = ("tenant", "chat", "message_id", "decision", "reply_token", "outcome")


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if extra:
            line.update(extra)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root.handlers[:] = [handler]
    root.setLevel(level)
    # werkzeug's own access lines would duplicate ours, and not as JSON
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def log_context(**fields) -> None:
    """Attach context to the current request's log line (tenant, chat, ...)."""
    ctx = g.setdefault("log_fields", {})
    ctx.update({k: v for k, v in fields.items() if v is not None})


def log_event(logger: logging.Logger, msg: str, level: int = logging.INFO, **fields) -> None:
    logger.log(level, msg, extra={"fields": fields})


def install_request_logging(app) -> None:
    access = logging.getLogger("hybridflow.request")

    @app.before_request
    def _start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        started = g.get("started")
        duration_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
        fields = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
            # time spent in Postgres (statements, commits, taking a pooled connection)
            "db_ms": round(g.db_ms, 2) if "db_ms" in g else None,
            **{k: None for k in CONTEXT_KEYS},
            **g.get("log_fields", {}),
        }
        access.info("request", extra={"fields": fields})
        return response
