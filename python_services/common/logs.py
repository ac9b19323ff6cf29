"""JSON log lines: one object per line with the request's context
(tenant, chat, message id, decision) and its duration.

A chat id is the customer's phone number: log_context() and log_event()
write it (fields `chat`, `number`) as a keyed hash, `h:` and 12 hex digits,
the same in every service of one deployment, unless the operator asks for
the numbers (LOG_PHONE_NUMBERS=true, or LOG_LEVEL=DEBUG). To find a chat's
lines: `python -m python_services.common.logs chat-hash 5511987654321`.

Lines go to stdout, or to LOG_FILE, rotated by size (SharedRotatingFileHandler:
gunicorn's workers of one service share the file)."""
from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import logging.handlers
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from flask import g, request

CONTEXT_KEYS = ("tenant", "chat", "message_id", "decision", "reply_token", "outcome")
# fields whose value is a chat id or a phone number: logged hashed
PHONE_KEYS = ("chat", "number")
# a phone JID is hashed by its digits, so `5511...@s.whatsapp.net` and `5511...` match
_PHONE_SUFFIXES = ("@s.whatsapp.net", "@c.us")
# what configure_logging() set: numbers shown as they are, and the hash key
_privacy = {"phone_numbers": False, "key": b"hybridflow"}
# a log line stays a line: any longer field is cut, saying how long it was
MAX_FIELD_CHARS = 1000
MAX_EXC_CHARS = 20_000


def _bounded(value, limit: int = MAX_FIELD_CHARS):
    """The value, or its first `limit` characters with a marker when it is longer
    (a 5 MB event name from a hostile body must not become a 5 MB log line)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (dict, list, tuple)):
        text = json.dumps(value, default=str, ensure_ascii=False)
        return value if len(text) <= limit else _bounded(text, limit)
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else f"{text[:limit]}... [{len(text)} characters, truncated]"


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
            "msg": _bounded(record.getMessage()),
        }
        extra = getattr(record, "fields", None)
        if extra:
            line.update((key, _bounded(value)) for key, value in extra.items())
        if record.exc_info:
            line["exc"] = _bounded(self.formatException(record.exc_info), MAX_EXC_CHARS)
        return json.dumps(line, default=str, ensure_ascii=False)


class SharedRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A RotatingFileHandler several processes may write to (gunicorn's
    workers of one service). Python's own one rotates by the size it wrote
    itself, so two workers would each rename the file under the other. Here
    the size is the file's on disk; one process at a time rotates (an flock
    on `<file>.lock`), and not again when another just did; and before each
    line a process whose file was renamed under it opens the new one. No
    line is lost: a line written while another worker rotates lands at the
    end of `<file>.1`."""

    def __init__(self, filename: str, max_bytes: int, backups: int):
        Path(filename).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(filename, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self._lock_path = self.baseFilename + ".lock"

    def _current(self) -> os.stat_result:
        """The file at the path, opened again if ours is no longer it."""
        try:
            on_disk = os.stat(self.baseFilename)
        except FileNotFoundError:
            on_disk = None
        if self.stream is None or on_disk is None or os.fstat(self.stream.fileno()).st_ino != on_disk.st_ino:
            if self.stream is not None:
                self.stream.close()
            self.stream = self._open()
            on_disk = os.fstat(self.stream.fileno())
        return on_disk

    def shouldRollover(self, record) -> bool:
        return self.maxBytes > 0 and self._current().st_size >= self.maxBytes

    def doRollover(self) -> None:
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if os.stat(self.baseFilename).st_size >= self.maxBytes:
                    super().doRollover()
            except FileNotFoundError:
                pass
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        self._current()


def configure_logging(service: str, level: str = "INFO", *, file: str = "", max_bytes: int = 10 * 1024 * 1024,
                      backups: int = 5, phone_numbers: bool = False, hash_key: str = "") -> None:
    """JSON lines to stdout, or to `file` rotated at `max_bytes` with `backups`
    older files kept. Phone numbers are hashed with a key derived from
    `hash_key` (the deployment's SERVICE_TOKEN) unless `phone_numbers` or DEBUG."""
    root = logging.getLogger()
    handler = SharedRotatingFileHandler(file, max_bytes, backups) if file else logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    handler._hybridflow = True
    for old in root.handlers:
        if getattr(old, "_hybridflow", False) and isinstance(old, logging.FileHandler):
            old.close()
    root.handlers[:] = [handler]
    root.setLevel(level)
    _privacy["phone_numbers"] = phone_numbers or str(level).upper() == "DEBUG"
    _privacy["key"] = chat_hash_key(hash_key)
    # werkzeug's own access lines would duplicate ours, and not as JSON
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def configure_service_logging(service: str, cfg) -> None:
    """configure_logging() with a service's Config (common/config.py); a
    `{service}` in LOG_FILE becomes the service's name (.data/logs/{service}.log)."""
    configure_logging(service, cfg.log_level, file=cfg.log_file.replace("{service}", service),
                      max_bytes=cfg.log_max_bytes, backups=cfg.log_backups, phone_numbers=cfg.log_phone_numbers,
                      hash_key=cfg.service_token)


def chat_hash_key(secret: str) -> bytes:
    return hmac.new((secret or "hybridflow").encode(), b"hybridflow log chat hash", hashlib.sha256).digest()


def chat_hash(value: str, key: bytes | None = None) -> str:
    """A chat id or phone number as the logs carry it: `h:` and the first 12
    hex digits of its HMAC-SHA256 (a plain hash of a phone number is undone
    by hashing every number); a phone JID is hashed by its digits."""
    for suffix in _PHONE_SUFFIXES:
        if value.endswith(suffix):
            value = value[: -len(suffix)]
            break
    digest = hmac.new(key or _privacy["key"], value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return "h:" + digest[:12]


def private(fields: dict) -> dict:
    """The fields with every phone number hashed (unless the operator asked for them)."""
    if _privacy["phone_numbers"]:
        return fields
    return {k: chat_hash(v) if k in PHONE_KEYS and isinstance(v, str) and v else v for k, v in fields.items()}


def log_context(**fields) -> None:
    """Attach context to the current request's log line (tenant, chat, ...)."""
    ctx = g.setdefault("log_fields", {})
    ctx.update(private({k: v for k, v in fields.items() if v is not None}))


def log_event(logger: logging.Logger, msg: str, level: int = logging.INFO, **fields) -> None:
    logger.log(level, msg, extra={"fields": private(fields)})


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


def main(argv=None) -> int:
    """python -m python_services.common.logs chat-hash NUMBER_OR_CHAT_ID: what
    the logs of this deployment (SERVICE_TOKEN from the environment or .env)
    carry in place of that chat, to grep for it."""
    import argparse

    from .config import Config

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("command", choices=["chat-hash"])
    parser.add_argument("chat", help="a phone number (digits) or a chat id such as 5511987654321@s.whatsapp.net")
    args = parser.parse_args(argv)
    print(chat_hash(args.chat.strip(), chat_hash_key(Config.from_env().service_token)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
