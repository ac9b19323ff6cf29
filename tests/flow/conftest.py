"""The flow harness: the real n8n running the files in flows/, started once per
test session the same way `make up` starts it (ops.stack), with the real
services, the sandbox as Evolution and the fake LLM server. If n8n cannot
start, the suite fails; it never skips."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from ops.isolated import IsolatedStack, free_port  # noqa: F401  (free_port: for scenarios)

from ..conftest import _server_url
from .helpers import FakeLLMControl, SandboxControl

QUEUE_MODE = os.environ.get("HF_TEST_QUEUE_MODE") == "1"

# the stack of the flow tests (ops.isolated: free ports, a temp folder, its own databases)
FlowStack = IsolatedStack


@pytest.fixture(scope="session")
def flow_stack(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("stack")
    stack = FlowStack.create(
        Path(data_dir), _server_url(), prefix=f"flow_{os.getpid()}",
        queue_workers=1 if QUEUE_MODE else 0,
        env={
            "SERVICE_TOKEN": "flow-service-token",
            "ADMIN_TOKEN": "flow-admin-token",
            "N8N_ENCRYPTION_KEY": "flow-test-encryption-key",
            "GUNICORN_WORKERS": "2",
            "LLM_MAX_RETRIES": "1",
            # a reply not finished 10 s after its debounce wait is taken up by the recovery flow
            "REPLY_DEADLINE_MARGIN_SECONDS": "10",
        },
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.destroy()


@pytest.fixture
def fake_llm(flow_stack):
    """The fake LLM server, its scripted answers and recorded requests cleared before and after."""
    fake = FakeLLMControl(flow_stack.fake_llm_url)
    fake.reset()
    yield fake
    fake.reset()


SANDBOX_DEFAULTS = dict(send_delay_ms=0, fail_next_sends=0, echo="async", bot_echo_event="send.message",
                        duplicate_webhooks=False)


@pytest.fixture
def sandbox(flow_stack):
    """The sandbox as Evolution, its knobs at their defaults before and after."""
    sb = SandboxControl(flow_stack.url("sandbox"))
    sb.knobs(**SANDBOX_DEFAULTS)
    yield sb
    sb.knobs(**SANDBOX_DEFAULTS)
