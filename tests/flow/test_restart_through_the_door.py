"""Restarts lose nothing: a steady stream of customer messages through the
door, delivered the way Evolution delivers them (testkit/evolution_retry.py),
while n8n is killed with SIGKILL and started again. Every message is recorded
exactly once. (Runs late among the flow scenarios: it restarts n8n.)"""
from __future__ import annotations

import time

import pytest

from .steady_stream import decisions, message_ids, stream_into_a_paused_chat, summary

pytestmark = pytest.mark.flow


def test_a_steady_stream_through_the_door_survives_n8n_killed_and_started_again(flow_stack):
    # into a chat paused by hand: what is measured is the webhook path alone
    chat, prefix, stream = stream_into_a_paused_chat(flow_stack, "RESTART", threads=128)
    time.sleep(3)
    killed_at = time.monotonic()
    flow_stack.restart_n8n(crash=True)
    back_after = time.monotonic() - killed_at
    time.sleep(3)
    result = stream.stop()

    answers = result.answers()
    print(f"\nrestart through the door: n8n back after {back_after:.1f}s; {summary(result)}")
    assert result.sent > 50
    assert result.dropped == [], [(o.message_id, o.answers) for o in result.dropped]
    assert result.given_up == [], [(o.message_id, o.answers) for o in result.given_up]
    # never n8n's 404 (Evolution drops it) at the door
    assert 404 not in answers

    ids = message_ids(prefix, result.sent)
    rows = chat.query("SELECT wa_message_id, count(*) AS n FROM messages WHERE tenant_id = %s"
                      " AND wa_message_id = ANY(%s) GROUP BY wa_message_id", chat.tenant["id"], ids)
    recorded = {r["wa_message_id"]: r["n"] for r in rows}
    lost = sorted(set(ids) - set(recorded))
    assert lost == [], f"{len(lost)} messages lost: {lost[:10]}"
    assert all(n == 1 for n in recorded.values())
    decided = decisions(chat, ids)
    assert len(decided) == len(ids) and all(r["n"] == 1 for r in decided), "a message decided twice"
