"""Queue mode (Redis, a worker, two `n8n webhook` processors behind the door):
a rolling restart of the webhook processors, one after the other, under a
steady stream delivered the way Evolution delivers, loses nothing, records
nothing twice, and holds nothing (the door sends each webhook to the
processor that is up). A stack of its own: n8n in queue mode."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ops.isolated import IsolatedStack

from ..conftest import _server_url
from .helpers import wait_for
from .steady_stream import decisions, message_ids, stream_into_a_paused_chat, summary

pytestmark = pytest.mark.flow


@pytest.fixture(scope="module")
def queue_stack(tmp_path_factory):
    stack = IsolatedStack.create(
        Path(tmp_path_factory.mktemp("queue-stack")), _server_url(), prefix=f"rolling_{os.getpid()}",
        queue_workers=1, webhook_processors=2,
        env={"GUNICORN_WORKERS": "1", "LLM_MAX_RETRIES": "1"},
    )
    try:
        stack.start(n8n_timeout=300)
        yield stack
    finally:
        stack.destroy()


def test_the_door_passes_webhooks_to_the_webhook_processors(queue_stack):
    upstreams = queue_stack.door_env()["DOOR_WEBHOOK_UPSTREAMS"].split()
    assert upstreams == [f"127.0.0.1:{queue_stack.webhook_processor_port(n)}" for n in (1, 2)]


def test_a_rolling_restart_of_the_webhook_processors_loses_nothing_and_holds_nothing(queue_stack):
    chat, prefix, stream = stream_into_a_paused_chat(queue_stack, "ROLLING", threads=64, pause_timeout=60)
    time.sleep(3)
    for n in (1, 2):
        queue_stack.restart_webhook_processor(n)
        # the door's health check (every second) lets it back in before the next one goes
        time.sleep(3)
    result = stream.stop()

    print(f"\nrolling restart of 2 webhook processors: {summary(result)}")
    assert result.sent > 30
    assert result.dropped == [] and result.given_up == []
    ids = message_ids(prefix, result.sent)
    wait_for("every message recorded", lambda: len(chat.query(
        "SELECT 1 FROM messages WHERE tenant_id = %s AND wa_message_id = ANY(%s)", chat.tenant["id"], ids))
        == len(ids), timeout=60)
    decided = decisions(chat, ids)
    assert len(decided) == len(ids) and all(r["n"] == 1 for r in decided)
    # another processor was there all along; how long the slowest message waited
    # (what the door held) is printed with the figures above, not
    # asserted: wall-clock limits do not belong in tests (it was 2 s alone, 35-56 s
    # with another stack loading the machine)
