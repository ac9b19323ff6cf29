"""The flow harness: the real n8n running the files in flows/, started once per
test session the same way `make up` starts it (ops.stack), with the real
services, the sandbox as Evolution and the fake LLM server. If n8n cannot
start, the suite fails; it never skips."""
from __future__ import annotations

import os
import secrets
import socket
import sys
import time
from pathlib import Path

import psycopg2
import psycopg2.extras
import pytest
import requests

from ops import postgres, procs
from ops.stack import Stack
from python_services.common.config import PROJECT_ROOT

from ..conftest import _server_url

QUEUE_MODE = os.environ.get("HF_TEST_QUEUE_MODE") == "1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FlowStack(Stack):
    """A Stack on free ports, in a temporary folder, with its own databases."""

    fake_llm_port: int = 0

    @property
    def fake_llm_url(self) -> str:
        return f"http://127.0.0.1:{self.fake_llm_port}"

    def start_fake_llm(self) -> None:
        if not (self.root / "tests/fakes/fake_llm.py").exists():
            return
        procs.start("fake-llm", [sys.executable, "-m", "tests.fakes.fake_llm", "--port", str(self.fake_llm_port)],
                    self.service_env(), self.log_file("fake-llm"), self.pidfile("fake-llm"), cwd=self.root)
        procs.wait_until("fake LLM", lambda: _port_open(self.fake_llm_port), timeout=30,
                         pidfile=self.pidfile("fake-llm"), log_file=self.log_file("fake-llm"))

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.env['ADMIN_TOKEN']}"}
        return requests.request(method, self.url("collision") + path, headers=headers, timeout=30, **kwargs)

    def post_webhook(self, body: dict, secret: str | None) -> requests.Response:
        headers = {"X-Webhook-Secret": secret} if secret is not None else {}
        return requests.post(self.url("n8n") + "/webhook/evolution", json=body, headers=headers, timeout=60)

    def restart_n8n(self, crash: bool = True) -> None:
        """Kills n8n (and its workers) mid-flight and starts it again, as a crash would."""
        self.stop_n8n(crash=crash)
        self.start_n8n()
        self.wait_n8n(timeout=240)
        time.sleep(1)

    def db(self):
        conn = psycopg2.connect(self.database_url, cursor_factory=psycopg2.extras.RealDictCursor)
        conn.autocommit = True
        return conn


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def flow_stack(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("stack")
    suffix = f"{os.getpid()}_{secrets.token_hex(3)}"
    stack = FlowStack(
        root=PROJECT_ROOT,
        data_dir=Path(data_dir),
        ports={name: free_port() for name in ("collision", "llm", "evolution", "sandbox", "n8n", "n8n_broker",
                                              "n8n_broker_1", "n8n_broker_2")},
        app_db=f"hf_flow_{suffix}",
        n8n_db=f"hf_flow_n8n_{suffix}",
        server_url=postgres.with_database(_server_url(), "postgres"),
        queue_workers=1 if QUEUE_MODE else 0,
    )
    stack.fake_llm_port = free_port()
    stack.env = {
        "SERVICE_TOKEN": "flow-service-token",
        "ADMIN_TOKEN": "flow-admin-token",
        "N8N_ENCRYPTION_KEY": "flow-test-encryption-key",
        "LOG_LEVEL": "INFO",
        "GUNICORN_WORKERS": "2",
        "ANTHROPIC_BASE_URL": stack.fake_llm_url,
        "OPENAI_BASE_URL": stack.fake_llm_url + "/v1",
        "ANTHROPIC_API_KEY": "fake-anthropic-key",
        "OPENAI_API_KEY": "fake-openai-key",
        "LLM_MAX_RETRIES": "1",
        "SANDBOX_API_KEY": "sandbox-key",
        "QUEUE_BULL_PREFIX": f"hf-test-{suffix}",
        # a reply not finished 10 s after its debounce wait is taken up by the recovery flow
        "REPLY_DEADLINE_MARGIN_SECONDS": "10",
    }
    try:
        stack.ensure_postgres()
        stack.start_fake_llm()
        stack.start_services()
        stack.import_flows()
        stack.start_n8n()
        stack.wait_n8n(timeout=240)
        # n8n recovers interrupted executions after the webhooks are live: let start-up finish
        time.sleep(1)
        yield stack
    finally:
        stack.down()
        procs.stop(stack.pidfile("fake-llm"))
        for name in (stack.app_db, stack.n8n_db):
            try:
                postgres.drop_database(stack.server_url, name)
            except psycopg2.Error:
                pass
