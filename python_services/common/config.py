"""Configuration, read once from the environment (and an optional .env file,
where the environment wins) into one small immutable object."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _int(env, name, default):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None


def _float(env, name, default):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def read_environment(environ=None, env_file=None) -> dict:
    """The process environment over the optional .env file: the environment wins."""
    environ = dict(os.environ if environ is None else environ)
    path = Path(env_file or environ.get("HYBRIDFLOW_ENV_FILE") or PROJECT_ROOT / ".env")
    from_file = {k: v for k, v in dotenv_values(path).items() if v is not None} if path.is_file() else {}
    return {**from_file, **environ}


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
    db_pool_min: int = 1
    db_pool_max: int = 8
    log_level: str = "INFO"
    # seconds; a call between services must never hang the caller
    http_timeout: float = 30.0
    # seconds per provider call (the SDKs retry on top: see LLM_MAX_RETRIES)
    llm_timeout: float = 30.0
    # how long a reply may take beyond its debounce wait before the recovery
    # flow takes it up again (n8n keeps short waits only in memory)
    reply_deadline_margin: float = 120.0
    # the full environment, for the few service-specific settings
    # (ANTHROPIC_API_KEY, price tables, ...) read by that service alone
    env: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ=None, env_file=None) -> "Config":
        env = read_environment(environ, env_file)
        return cls(
            database_url=env.get("DATABASE_URL") or cls.database_url,
            service_token=env.get("SERVICE_TOKEN", ""),
            admin_token=env.get("ADMIN_TOKEN", ""),
            collision_url=(env.get("COLLISION_URL") or cls.collision_url).rstrip("/"),
            llm_url=(env.get("LLM_URL") or cls.llm_url).rstrip("/"),
            evolution_url=(env.get("EVOLUTION_URL") or cls.evolution_url).rstrip("/"),
            sandbox_url=(env.get("SANDBOX_URL") or cls.sandbox_url).rstrip("/"),
            n8n_webhook_url=env.get("N8N_WEBHOOK_URL") or cls.n8n_webhook_url,
            db_pool_min=_int(env, "DB_POOL_MIN", cls.db_pool_min),
            db_pool_max=_int(env, "DB_POOL_MAX", cls.db_pool_max),
            log_level=(env.get("LOG_LEVEL") or cls.log_level).upper(),
            http_timeout=_float(env, "HTTP_TIMEOUT", cls.http_timeout),
            llm_timeout=_float(env, "LLM_TIMEOUT", cls.llm_timeout),
            reply_deadline_margin=_float(env, "REPLY_DEADLINE_MARGIN_SECONDS", cls.reply_deadline_margin),
            env=env,
        )

    def with_overrides(self, overrides: dict | None) -> "Config":
        """Test overrides: known fields replace the attribute, anything else lands in env."""
        if not overrides:
            return self
        names = {f.name for f in fields(self)}
        known = {k: v for k, v in overrides.items() if k in names}
        extra = {k: v for k, v in overrides.items() if k not in names}
        cfg = replace(self, **known)
        if extra:
            cfg = replace(cfg, env={**cfg.env, **extra})
        return cfg
