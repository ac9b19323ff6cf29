"""Outbound HTTP from a service (to Evolution, say): one keep-alive
requests.Session per thread, so repeated calls reuse their connection."""
from __future__ import annotations

import threading

import requests

_local = threading.local()


def keepalive_session() -> requests.Session:
    s = getattr(_local, "session", None)
    if s is None:
        s = _local.session = requests.Session()
    return s
