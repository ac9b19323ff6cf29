"""n8n keeps short waits only in memory: when it restarts during the debounce
wait, the recovery flow still gets the customer an answer. (Runs after the
other flow scenarios: it restarts n8n.)"""
import pytest

from .helpers import FakeLLMControl, new_chat, wait_for

pytestmark = pytest.mark.flow


def test_n8n_restarted_during_the_debounce_wait_still_answers_the_customer(flow_stack):
    fake = FakeLLMControl(flow_stack.fake_llm_url)
    fake.reset()
    fake.script(rules=[{"when": "after the restart", "text": "Here is your answer, even after a restart."}])
    chat = new_chat(flow_stack, settings={"debounce_seconds": 8})
    chat.customer_says("will I get an answer after the restart?")
    wait_for("the reply is waiting", lambda: [t["state"] for t in chat.tokens()] == ["pending"])
    flow_stack.restart_n8n()
    # the in-memory wait died with n8n; the recovery flow (every minute) takes the reply up
    replies = chat.wait_for_bot_replies(1, timeout=150)
    assert replies == ["Here is your answer, even after a restart."]
    # the send is confirmed just after the message reaches the phone
    wait_for("the reply is recorded as sent", lambda: [t["state"] for t in chat.tokens()] == ["sent"])
    assert chat.tokens_attempts() == [1]
