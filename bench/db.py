"""The question several phases ask Postgres: is any reply still open?"""
from __future__ import annotations

import time

OPEN_REPLIES = """
SELECT count(*) AS n FROM reply_tokens
 WHERE state IN ('pending', 'claimed')
   AND (%s::uuid[] IS NULL OR tenant_id = ANY(%s::uuid[]))
   AND (NOT %s OR deadline_at > now() - interval '1 minute')
"""


def open_replies(stack, tenant_ids: list[str] | None = None, recent_only: bool = False) -> int:
    """Reply tokens still pending or claimed: of these tenants (every tenant
    when None); with `recent_only`, leaving out those whose deadline passed
    more than a minute ago (stuck: the recovery flow's)."""
    tenants = None if tenant_ids is None else list(tenant_ids)
    return stack.query(OPEN_REPLIES, tenants, tenants, recent_only)[0]["n"]


def wait_until_no_open_replies(stack, tenant_ids: list[str] | None, seconds: float, poll: float) -> float:
    """Asks every `poll` s until no reply of these tenants is open, or `seconds`
    pass; returns the seconds it waited."""
    started = time.monotonic()
    while time.monotonic() < started + seconds and open_replies(stack, tenant_ids):
        time.sleep(poll)
    return time.monotonic() - started
