"""Calls from one HybridFlow service to another: one keep-alive session per
process, the service token attached, errors turned into ApiError values."""
from __future__ import annotations

import threading

import requests
from flask import current_app

from .errors import ApiError

_local = threading.local()


def _session() -> requests.Session:
    s = getattr(_local, "session", None)
    if s is None:
        s = _local.session = requests.Session()
    return s


def call_service(base_url: str, method: str, path: str, *, json=None, params=None, timeout=None, config=None):
    cfg = config or current_app.config["HF"]
    try:
        resp = _session().request(
            method, base_url + path, json=json, params=params,
            headers={"X-Service-Token": cfg.service_token},
            timeout=timeout or cfg.http_timeout,
        )
    except requests.RequestException as exc:
        raise ApiError(502, "upstream_unreachable", f"{base_url}{path}: {type(exc).__name__}") from exc
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if resp.status_code >= 400:
        err = body.get("error", {}) if isinstance(body, dict) else {}
        raise ApiError(resp.status_code, err.get("code", "upstream_error"),
                       err.get("message", f"{path} answered {resp.status_code}"), err.get("field"))
    return body
