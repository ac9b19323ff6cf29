"""Prometheus metrics: every series the services export is defined here,
once; install(app) counts each request and serves GET /metrics.

Under gunicorn each worker is its own process, so the values live in files
(prometheus-client's multiprocess mode) in PROMETHEUS_MULTIPROC_DIR, one
folder per service that gunicorn_conf.py empties when the service starts
and where it marks each dead worker's gauges gone. /metrics then sums every
worker's files. Without that variable (tests, `flask run`) the values live
in this process, in prometheus-client's default registry.

/metrics answers only with the service token, as every internal route does:
the header X-Service-Token, or `Authorization: Bearer <SERVICE_TOKEN>` for a
Prometheus that can send only that (its `authorization: credentials_file`).
The door never routes /metrics. docs/metrics.md lists the series.

Labels are bounded: a route is the url rule (`/api/tenants/<tenant_id>`),
never the path; no tenant id, chat or phone number is ever a label."""
from __future__ import annotations

import os
import threading
import time
import weakref

from flask import Blueprint, Response, g, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder

from . import pool as db_pool
from .auth import has_service_bearer, has_service_token
from .errors import ApiError

# ---------------------------------------------------------------- the series

REQUESTS = Counter("hybridflow_http_requests_total", "HTTP requests answered, by route (url rule), method and status",
                   ["route", "method", "status"])
# a reply waits for the model (up to LLM_TIMEOUT and fallbacks): buckets go to a minute
LATENCY = Histogram("hybridflow_http_request_duration_seconds", "Time to answer a request, by route, method and status",
                    ["route", "method", "status"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0))
DECISIONS = Counter("hybridflow_decisions_total", "Webhooks recorded by the collision service, by decision",
                    ["decision"])
REPLIES = Counter("hybridflow_replies_total", "Answers of the llm service's POST /reply, by outcome", ["outcome"])
LLM_TOKENS = Counter("hybridflow_llm_tokens_total", "Tokens the LLM providers counted, by provider, model and "
                     "direction (input, output)", ["provider", "model", "direction"])
LLM_COST = Counter("hybridflow_llm_cost_usd_total", "Estimated cost of those tokens in USD (core/prices.py), by "
                   "provider and model", ["provider", "model"])
SENDS = Counter("hybridflow_sends_total", "Replies handed to the evolution service's POST /send, by outcome",
                ["outcome"])
SEND_RETRIES = Counter("hybridflow_send_retries_total", "Messages sent to Evolution again after a failed attempt, "
                       "by the outcome of the reply they belonged to", ["outcome"])
# livesum: the workers alive now, added up (a dead worker's files are dropped by gunicorn_conf.child_exit)
POOL_IN_USE = Gauge("hybridflow_db_pool_connections_in_use", "Database connections handed out right now",
                    multiprocess_mode="livesum")
POOL_OPEN = Gauge("hybridflow_db_pool_connections_open", "Database connections open (in use, idle or opening)",
                  multiprocess_mode="livesum")
POOL_MAX = Gauge("hybridflow_db_pool_connections_max", "The most connections the pools may open (DB_POOL_MAX "
                 "per worker)", multiprocess_mode="livesum")

# a method label outside these (any token is a valid HTTP method) would be unbounded
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
# a request no route matched (404, or 405: the path matched a rule, but not for this method)
UNMATCHED = "<unmatched>"


def route_label() -> str:
    """The url rule that matched the request (`/api/tenants/<tenant_id>`), or
    <unmatched>: never the raw path, which carries ids and is any string."""
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def method_label() -> str:
    return request.method if request.method in METHODS else "other"


# ---------------------------------------------------------------- the pool

# the pools of this process (one per app; tests make many), summed into the gauges
_pools: weakref.WeakSet = weakref.WeakSet()
_pools_lock = threading.Lock()


def pool_changed(pool) -> None:
    """A pool's watcher (common/pool.py): under gunicorn only a worker itself
    can write its gauges, so they are set as its pools change, never read at
    scrape time (the scrape is served by any one worker)."""
    with _pools_lock:  # one thread at a time walks (and adds to) the set
        _pools.add(pool)
        POOL_IN_USE.set(sum(p.in_use for p in _pools))
        POOL_OPEN.set(sum(p.size for p in _pools))
        POOL_MAX.set(sum(p.maxconn for p in _pools if not p.closed))


# ---------------------------------------------------------------- the app

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics():
    if not (has_service_token() or has_service_bearer()):
        raise ApiError(401, "unauthorized", "missing or wrong X-Service-Token header "
                                            "(or Authorization: Bearer with the service token)", "X-Service-Token")
    # Prometheus' text format, or OpenMetrics when the scraper asks for it (Accept)
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encode(registry()), content_type=content_type, headers={"Cache-Control": "no-store"})


def registry():
    """Under gunicorn every worker's files, added up; otherwise this process' own registry."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return merged
    return REGISTRY


def install(app) -> None:
    """Counts and times every request by route and status, and serves GET /metrics."""

    def _start():
        g.metrics_started = time.perf_counter()

    def _count(response):
        labels = (route_label(), method_label(), str(response.status_code))
        REQUESTS.labels(*labels).inc()
        started = g.get("metrics_started")
        if started is not None:
            LATENCY.labels(*labels).observe(time.perf_counter() - started)
        return response

    # first of all before_request functions: the clock starts even when a later one refuses the request
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_count)
    app.register_blueprint(bp)
    if pool_changed not in db_pool.watchers:
        db_pool.watchers.append(pool_changed)
