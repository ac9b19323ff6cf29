"""The collision service: tenants, sessions, messages, idempotency, the
outbound ledger, the pause/resume rules and the admin API."""
from __future__ import annotations

import logging

import psycopg2

from ..common import db, metrics
from ..common.logs import log_event
from ..common.web import create_base_app
from ..core import prices, secrets_at_rest, tenants

log = logging.getLogger("hybridflow.collision")

MAX_BODY_BYTES = 2 * 1024 * 1024


def seal_stored_secrets(app) -> int | None:
    """At start: every tenant secret stored plain (written before encryption
    at rest) or with an older application key is sealed with the first key of
    HYBRIDFLOW_SECRET_KEYS. A value no key opens stops the start (the wrong
    key); an unreachable database only postpones it to the next start (reads
    open plain and older values meanwhile)."""
    try:
        with app.app_context(), db.transaction() as cur:
            changed = tenants.seal_stored_secrets(cur, secrets_at_rest.keyring())
    except (psycopg2.OperationalError, *db.BUSY_ERRORS) as exc:
        log_event(log, "secrets_not_sealed", logging.WARNING, error=f"{type(exc).__name__}: {exc}".strip(),
                  retry="at the next start")
        return None
    if changed:
        log_event(log, "secrets_sealed", values=changed)
    return changed


def create_app(test_config: dict | None = None):
    app = create_base_app("collision", test_config)
    # a body past this is a 413 before anything reads it (the door lets in 1 MB;
    # n8n re-serialises what it forwards, so a little room above that)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    # tenants' Evolution and LLM keys are stored encrypted: no HYBRIDFLOW_SECRET_KEYS, no start
    secrets_at_rest.install(app)
    seal_stored_secrets(app)
    # the daily LLM budget counts with the llm service's price table (a malformed LLM_PRICES stops the start)
    app.extensions["llm_prices"] = prices.load_prices(app.config["HF"].llm_prices)
    from . import (accounts, connect, docs, events, flow_errors, knowledge, replies, retention, sessions, tenants,
                   webhooks)

    for blueprint in (webhooks.bp, replies.bp, tenants.bp, sessions.bp, sessions.cron_bp, events.bp, connect.bp,
                      flow_errors.bp, retention.bp, accounts.bp, knowledge.bp, docs.bp):
        app.register_blueprint(blueprint)
    # requests by route, decisions, pool usage at GET /metrics (service token; docs/metrics.md)
    metrics.install(app)
    return app
