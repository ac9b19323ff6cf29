"""Configuration, read once from the environment (and an optional .env file,
where the environment wins) into one small immutable object.

Every variable a service reads is a field below, parsed and checked when the
service starts: a bad value stops it with a message naming the variable,
instead of a 500 later (after a reply was already claimed, say)."""
from __future__ import annotations

import base64
import math
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ConfigError(ValueError):
    """A variable with a value the services cannot run with."""


def read_environment(environ=None, env_file=None) -> dict:
    """The process environment over the optional .env file: the environment wins."""
    environ = dict(os.environ if environ is None else environ)
    path = Path(env_file or environ.get("HYBRIDFLOW_ENV_FILE") or PROJECT_ROOT / ".env")
    from_file = {k: v for k, v in dotenv_values(path).items() if v is not None} if path.is_file() else {}
    return {**from_file, **environ}


def _number(env, name, default, kind, low=None, high=None):
    """A whole number (kind=int) or a number (kind=float) within [low, high]."""
    raw = env.get(name)
    if raw in (None, ""):
        return default
    what = "a whole number" if kind is int else "a number"
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from None
    if kind is float and not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {raw!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"from {low}" + (f" to {high}" if high is not None else "")
        raise ConfigError(f"{name} must be {what} {bounds}, got {raw!r}")
    return value


def _fernet_keys(env, name) -> tuple[str, ...]:
    """Comma-separated Fernet keys (32 random bytes, URL-safe base64; the
    trailing "=" may be left out, as secrets.token_urlsafe(32) makes them).
    Returned padded, in order: the first encrypts, every one decrypts. The
    value itself never appears in an error."""
    given = [part.strip() for part in (env.get(name) or "").split(",") if part.strip()]
    keys = []
    for position, key in enumerate(given, 1):
        padded = key + "=" * (-len(key) % 4)
        try:
            valid = len(base64.urlsafe_b64decode(padded.encode("ascii"))) == 32 and len(key) in (43, 44)
        except (ValueError, UnicodeError):
            valid = False
        if not valid:
            raise ConfigError(f"{name}: key {position} of {len(given)} is not a Fernet key (32 bytes, URL-safe "
                              "base64, 44 characters); make one with python -c \"from cryptography.fernet import "
                              "Fernet; print(Fernet.generate_key().decode())\"")
        keys.append(padded)
    return tuple(keys)


def _flag(env, name, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {env.get(name)!r}")


def _log_level(env, name, default):
    value = (env.get(name) or default).strip().upper()
    if value not in ("DEBUG", "INFO", "WARN", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"{name} must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {env.get(name)!r}")
    return value


def _url(env, name, default):
    value = (env.get(name) or default).strip()
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return value


def _origins(env, name) -> tuple[str, ...]:
    """Comma-separated origins, each scheme://host[:port] exactly as a browser
    sends it in the Origin header (no path, no trailing slash)."""
    origins = []
    for part in (env.get(name) or "").split(","):
        origin = part.strip()
        if not origin:
            continue
        if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", origin):
            raise ConfigError(f"{name}: {origin!r} is not an origin such as https://shop.example.com "
                              "(scheme://host[:port], no path)")
        origins.append(origin.lower())
    return tuple(origins)


def _smtp_security(env, name, default):
    value = (env.get(name) or default).strip().lower()
    if value not in ("starttls", "ssl", "none"):
        raise ConfigError(f"{name} must be starttls, ssl or none, got {env.get(name)!r}")
    return value


@dataclass(frozen=True)
class Config:
    database_url: str = "postgresql://postgres@127.0.0.1:5432/hybridflow"
    service_token: str = ""
    admin_token: str = ""
    collision_url: str = "http://127.0.0.1:8001"
    llm_url: str = "http://127.0.0.1:8002"
    evolution_url: str = "http://127.0.0.1:8003"
    sandbox_url: str = "http://127.0.0.1:8090"
    n8n_webhook_url: str = "http://127.0.0.1:5678/"
    # connections opened with the pool; it keeps every one it opens, up to
    # db_pool_max (by default the worker's GUNICORN_THREADS, so a worker never
    # waits for itself), and a transaction that finds all busy waits up to
    # db_pool_timeout seconds before the service answers 503 database_busy
    db_pool_min: int = 1
    db_pool_max: int = 8
    db_pool_timeout: float = 5.0
    # set on every connection: a statement (or a wait for a row lock) longer
    # than this is cancelled and its transaction rolled back (see common/db.py)
    db_statement_timeout_ms: int = 15000
    db_lock_timeout_ms: int = 5000
    log_level: str = "INFO"
    # --- logs: JSON lines to stdout, or with log_file to that file (a
    # `{service}` in it becomes the service's name), rotated once it reaches
    # log_max_bytes with log_backups older files kept (the workers of one
    # service share the file safely: common/logs.py). A chat's
    # phone number is logged as a hash unless log_phone_numbers is set or
    # log_level is DEBUG
    log_file: str = ""
    log_max_bytes: int = 10 * 1024 * 1024
    log_backups: int = 5
    log_phone_numbers: bool = False
    # seconds; a call between services must never hang the caller
    http_timeout: float = 30.0
    # how long a reply may take beyond its debounce wait before the recovery
    # flow takes it up again (n8n keeps short waits only in memory); the same
    # margin is given again to each retried reply
    reply_deadline_margin: float = 120.0
    # --- llm: seconds per provider call, the SDKs' own retries on top, and
    # the whole reply's budget (fallbacks included; past it only offline runs)
    llm_timeout: float = 30.0
    llm_max_retries: int = 2
    llm_reply_budget: float = 90.0
    # JSON price table over the built-in one (llm/usage.py checks it at start)
    llm_prices: str = ""
    anthropic_api_key: str = ""
    anthropic_base_url: str = ""
    openai_api_key: str = ""
    openai_base_url: str = ""
    # --- evolution: seconds per call (beyond the typing delay); attempts per
    # message (a send that never reached Evolution, or that Evolution says it
    # does not have, is tried again), the first backoff (it doubles); how long
    # a send whose fate is unknown (a read timeout, a broken connection, a
    # 5xx) waits for its echo or for Evolution's message list to show it
    # before it is given up (never sent again blindly)
    evo_timeout: float = 15.0
    evo_send_attempts: int = 3
    evo_retry_backoff: float = 0.5
    evo_fate_wait: float = 30.0
    # the largest voice note or photo fetched from Evolution (getBase64FromMediaMessage);
    # a larger one is not downloaded (its webhook says its size) nor kept
    media_max_bytes: int = 16 * 1024 * 1024
    # --- retention (POST /cron/prune, each tenant's settings.retention_days):
    # rows deleted per statement (each its own short transaction), statements
    # per call, and the days n8n's flow failures are kept (they belong to no tenant)
    prune_batch_size: int = 500
    prune_max_batches: int = 20
    flow_errors_retention_days: int = 90
    # --- secrets at rest: the application keys (HYBRIDFLOW_SECRET_KEYS) that
    # encrypt tenants' Evolution and LLM keys in Postgres; the first encrypts,
    # all decrypt (core/secrets_at_rest.py). No default: the services that read
    # tenants refuse to start without one (make up generates it into .env)
    secret_keys: tuple = field(default=(), repr=False)
    # --- accounts and access (core/accounts.py): console sessions end when
    # idle this many minutes, and this many hours after login whatever
    # happens; logins slow down (429) past this many failures per account
    # (e-mail) or per address within the window
    console_session_idle_minutes: float = 120.0
    console_session_max_hours: float = 12.0
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 20
    login_failure_window_minutes: float = 15.0
    # --- the console: the key flask-wtf signs its CSRF tokens with (no
    # default outside tests: `make up` generates it into .env); its session
    # cookie is Secure when this is set or the request came over TLS
    # (X-Forwarded-Proto https); where people open it (the sandbox page links there)
    console_secret_key: str = field(default="", repr=False)
    console_cookie_secure: bool = False
    console_url: str = "http://127.0.0.1:8080/console/"
    # origins (scheme://host[:port]) a browser may call /api/ from (CORS);
    # empty: none, the console is same-origin
    cors_origins: tuple = ()
    # --- e-mail to the team (the evolution service's POST /notify, a
    # tenant's settings.notify_email): off while smtp_host is empty;
    # smtp_security starttls (port 587), ssl (465) or none (a relay on the host)
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_from: str = ""
    smtp_security: str = "starttls"
    smtp_timeout: float = 15.0
    # --- sandbox (development only): its apikey has no default
    sandbox_api_key: str = ""
    sandbox_delivery_threads: int = 4
    # the full environment, kept for what is not HybridFlow's to parse
    # (gunicorn's own variables, the SDKs reading theirs) and test overrides
    env: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ=None, env_file=None) -> "Config":
        env = read_environment(environ, env_file)
        n = _number
        return cls(
            database_url=env.get("DATABASE_URL") or cls.database_url,
            service_token=env.get("SERVICE_TOKEN", ""),
            admin_token=env.get("ADMIN_TOKEN", ""),
            collision_url=_url(env, "COLLISION_URL", cls.collision_url).rstrip("/"),
            llm_url=_url(env, "LLM_URL", cls.llm_url).rstrip("/"),
            evolution_url=_url(env, "EVOLUTION_URL", cls.evolution_url).rstrip("/"),
            sandbox_url=_url(env, "SANDBOX_URL", cls.sandbox_url).rstrip("/"),
            n8n_webhook_url=_url(env, "N8N_WEBHOOK_URL", cls.n8n_webhook_url),
            db_pool_min=n(env, "DB_POOL_MIN", cls.db_pool_min, int, 0),
            db_pool_max=n(env, "DB_POOL_MAX", n(env, "GUNICORN_THREADS", cls.db_pool_max, int, 1), int, 1),
            db_pool_timeout=n(env, "DB_POOL_TIMEOUT_SECONDS", cls.db_pool_timeout, float, 0),
            db_statement_timeout_ms=n(env, "DB_STATEMENT_TIMEOUT_MS", cls.db_statement_timeout_ms, int, 0),
            db_lock_timeout_ms=n(env, "DB_LOCK_TIMEOUT_MS", cls.db_lock_timeout_ms, int, 0),
            log_level=_log_level(env, "LOG_LEVEL", cls.log_level),
            log_file=(env.get("LOG_FILE") or "").strip(),
            log_max_bytes=n(env, "LOG_MAX_BYTES", cls.log_max_bytes, int, 64 * 1024),
            log_backups=n(env, "LOG_BACKUPS", cls.log_backups, int, 1, 100),
            log_phone_numbers=_flag(env, "LOG_PHONE_NUMBERS", cls.log_phone_numbers),
            http_timeout=n(env, "HTTP_TIMEOUT", cls.http_timeout, float, 0.001),
            reply_deadline_margin=n(env, "REPLY_DEADLINE_MARGIN_SECONDS", cls.reply_deadline_margin, float, 1),
            llm_timeout=n(env, "LLM_TIMEOUT", cls.llm_timeout, float, 0.001),
            llm_max_retries=n(env, "LLM_MAX_RETRIES", cls.llm_max_retries, int, 0, 10),
            llm_reply_budget=n(env, "LLM_REPLY_BUDGET_SECONDS", cls.llm_reply_budget, float, 0),
            llm_prices=(env.get("LLM_PRICES") or "").strip(),
            anthropic_api_key=env.get("ANTHROPIC_API_KEY") or "",
            anthropic_base_url=env.get("ANTHROPIC_BASE_URL") or "",
            openai_api_key=env.get("OPENAI_API_KEY") or "",
            openai_base_url=env.get("OPENAI_BASE_URL") or "",
            evo_timeout=n(env, "EVO_TIMEOUT", cls.evo_timeout, float, 0.001),
            evo_send_attempts=n(env, "EVO_SEND_ATTEMPTS", cls.evo_send_attempts, int, 1, 10),
            evo_retry_backoff=n(env, "EVO_RETRY_BACKOFF", cls.evo_retry_backoff, float, 0),
            evo_fate_wait=n(env, "EVO_FATE_WAIT_SECONDS", cls.evo_fate_wait, float, 0, 600),
            media_max_bytes=n(env, "MEDIA_MAX_BYTES", cls.media_max_bytes, int, 1024, 512 * 1024 * 1024),
            prune_batch_size=n(env, "PRUNE_BATCH_SIZE", cls.prune_batch_size, int, 1, 10000),
            prune_max_batches=n(env, "PRUNE_MAX_BATCHES", cls.prune_max_batches, int, 1, 1000),
            flow_errors_retention_days=n(env, "FLOW_ERRORS_RETENTION_DAYS", cls.flow_errors_retention_days, int, 1,
                                         3650),
            secret_keys=_fernet_keys(env, "HYBRIDFLOW_SECRET_KEYS"),
            console_session_idle_minutes=n(env, "CONSOLE_SESSION_IDLE_MINUTES", cls.console_session_idle_minutes,
                                           float, 1, 60 * 24 * 30),
            console_session_max_hours=n(env, "CONSOLE_SESSION_MAX_HOURS", cls.console_session_max_hours, float,
                                        0.1, 24 * 90),
            login_max_failures_per_account=n(env, "LOGIN_MAX_FAILURES_PER_ACCOUNT",
                                             cls.login_max_failures_per_account, int, 1, 1000),
            login_max_failures_per_address=n(env, "LOGIN_MAX_FAILURES_PER_ADDRESS",
                                             cls.login_max_failures_per_address, int, 1, 100000),
            login_failure_window_minutes=n(env, "LOGIN_FAILURE_WINDOW_MINUTES", cls.login_failure_window_minutes,
                                           float, 0.1, 60 * 24),
            console_secret_key=env.get("CONSOLE_SECRET_KEY") or "",
            console_cookie_secure=_flag(env, "CONSOLE_COOKIE_SECURE", cls.console_cookie_secure),
            console_url=_url(env, "CONSOLE_URL", cls.console_url),
            cors_origins=_origins(env, "CORS_ORIGINS"),
            smtp_host=(env.get("SMTP_HOST") or "").strip(),
            smtp_port=n(env, "SMTP_PORT", cls.smtp_port, int, 1, 65535),
            smtp_user=(env.get("SMTP_USER") or "").strip(),
            smtp_password=env.get("SMTP_PASSWORD") or "",
            smtp_from=(env.get("SMTP_FROM") or "").strip(),
            smtp_security=_smtp_security(env, "SMTP_SECURITY", cls.smtp_security),
            smtp_timeout=n(env, "SMTP_TIMEOUT", cls.smtp_timeout, float, 0.1, 300),
            sandbox_api_key=env.get("SANDBOX_API_KEY") or "",
            sandbox_delivery_threads=n(env, "SANDBOX_DELIVERY_THREADS", cls.sandbox_delivery_threads, int, 1, 256),
            env=env,
        )

    def with_overrides(self, overrides: dict | None) -> "Config":
        """Test overrides: a variable's name (UPPER_CASE) is read again as the
        environment would be; a field's name replaces the field; anything else
        lands in env."""
        if not overrides:
            return self
        variables = {k: v for k, v in overrides.items() if k.isupper()}
        cfg = Config.from_env({**self.env, **variables}) if variables else self
        names = {f.name for f in fields(self)}
        known = {k: v for k, v in overrides.items() if k in names}
        extra = {k: v for k, v in overrides.items() if k not in names and k not in variables}
        cfg = replace(cfg, **known)
        if extra:
            cfg = replace(cfg, env={**cfg.env, **extra})
        return cfg
