"""Sends that cannot duplicate, on the real n8n (issue 12): when Evolution
answers a send after the client's timeout, or fails with a 5xx after it
really sent the message, the customer still gets exactly one copy, the bot
does not take its own echo for a person, and the timeline says what happened.

This module runs its own stack: the evolution service gives Evolution 1 s
(EVO_TIMEOUT) where the shared stack gives it the default 15 s."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ..conftest import _server_url
from .conftest import FlowStack
from .helpers import FakeLLMControl, SandboxControl, new_chat, wait_for

pytestmark = pytest.mark.flow

QUIET_SECONDS = 4.0  # longer than a second send would take to show up
DEFAULT_KNOBS = dict(send_delay_ms=0, answer_delay_ms=0, fail_next_sends=0, fail_next_after_sending=0,
                     fail_status=500, fail_find_messages=False, echo="async", bot_echo_event="send.message")


@pytest.fixture(scope="module")
def impatient_stack(tmp_path_factory):
    """A flow stack whose evolution service waits 1 s for Evolution's answer."""
    stack = FlowStack.create(
        Path(tmp_path_factory.mktemp("impatient")), _server_url(), prefix=f"fate_{os.getpid()}",
        env={
            "SERVICE_TOKEN": "fate-service-token",
            "ADMIN_TOKEN": "fate-admin-token",
            "N8N_ENCRYPTION_KEY": "fate-test-encryption-key",
            "GUNICORN_WORKERS": "2",
            "LLM_MAX_RETRIES": "1",
            "EVO_TIMEOUT": "1",
            "EVO_FATE_WAIT_SECONDS": "10",
            # the recovery flow leaves a reply alone while its send waits for the truth
            "REPLY_DEADLINE_MARGIN_SECONDS": "60",
        },
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.destroy()


@pytest.fixture
def fake_llm(impatient_stack):
    fake = FakeLLMControl(impatient_stack.fake_llm_url)
    fake.reset()
    fake.script(rules=[{"when": "size 38", "text": "Yes, the blue sneakers come in size 38."}])
    yield fake
    fake.reset()


@pytest.fixture
def sandbox(impatient_stack):
    sb = SandboxControl(impatient_stack.url("sandbox"))
    sb.knobs(**DEFAULT_KNOBS)
    yield sb
    sb.knobs(**DEFAULT_KNOBS)


def _parts(chat):
    return chat.query("SELECT o.state, o.confirmed_by, o.error FROM outbound o JOIN reply_tokens t"
                      " ON t.id = o.reply_token_id WHERE t.tenant_id = %s AND t.chat_id = %s ORDER BY o.id",
                      chat.tenant["id"], chat.chat_id)


def _one_copy_and_the_chat_still_active(chat, sandbox):
    assert chat.wait_for_bot_replies(1) == ["Yes, the blue sneakers come in size 38."]
    wait_for("the reply is recorded as sent", lambda: [t["state"] for t in chat.tokens()] == ["sent"])
    wait_for("the echo is recorded", lambda: "bot_echo" in chat.decisions())
    time.sleep(QUIET_SECONDS)
    assert chat.bot_replies() == ["Yes, the blue sneakers come in size 38."]
    assert len(sandbox.calls(chat.instance, "sendText")) == 1
    assert "human_takeover" not in chat.decisions()
    assert not chat.session()["paused"]


def test_evolution_answering_after_the_timeout_still_gets_the_customer_exactly_one_copy(
        impatient_stack, fake_llm, sandbox):
    # Evolution sends 2 s after the service stopped waiting for its answer; its
    # message list cannot be read, so only the echo can tell the truth
    sandbox.knobs(send_delay_ms=3000, fail_find_messages=True)
    chat = new_chat(impatient_stack)
    chat.customer_says("Do you have the blue sneakers in size 38?")

    _one_copy_and_the_chat_still_active(chat, sandbox)

    [token] = chat.tokens()
    assert (token["state"], token["reason"], token["error"]) == ("sent", "confirmed_by_echo", None)
    [part] = _parts(chat)
    assert (part["state"], part["confirmed_by"]) == ("sent", "echo")
    assert "did not answer within 1 s" in part["error"]
    echo = [e for e in chat.events() if e["decision"] == "bot_echo"][0]
    assert "whose fate was unknown" in echo["reason"]


def test_a_5xx_after_evolution_really_sent_the_reply_still_gets_the_customer_exactly_one_copy(
        impatient_stack, fake_llm, sandbox):
    sandbox.knobs(fail_next_after_sending=1, fail_status=500)
    chat = new_chat(impatient_stack)
    chat.customer_says("Do you have the blue sneakers in size 38?")

    _one_copy_and_the_chat_still_active(chat, sandbox)

    assert [c["status"] for c in sandbox.calls(chat.instance, "sendText")] == [500]
    [token] = chat.tokens()
    # Evolution's message list or the echo, whichever told first
    assert token["state"] == "sent" and token["reason"] in ("confirmed_by_evolution", "confirmed_by_echo")
    [part] = _parts(chat)
    assert part["state"] == "sent" and part["confirmed_by"] in ("evolution", "echo")
    assert "Connection Closed" in part["error"]
