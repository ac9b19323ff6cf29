"""A whole stack of its own: free ports, a temporary folder, its own databases
(on a given server or on a private cluster), the fake LLM as a process. The
flow tests and `make bench` both run one, started the way `make up` starts
the real thing (ops.stack.Stack)."""
from __future__ import annotations

import secrets
import socket
import sys
import time
from pathlib import Path

import psycopg2
import psycopg2.extras
import requests

from . import postgres, procs
from .stack import Stack

# n8n's task broker needs a port of its own per n8n process (main and each worker)
PORT_NAMES = ("collision", "llm", "evolution", "console", "sandbox", "n8n", "n8n_broker", "n8n_broker_1", "n8n_broker_2",
              "n8n_worker_1", "n8n_worker_2",
              "door", "door_metrics", "n8n_webhook_1", "n8n_webhook_2", "n8n_webhook_broker_1", "n8n_webhook_broker_2")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class IsolatedStack(Stack):
    """A Stack on free ports, in a temporary folder, with its own databases."""

    fake_llm_port: int = 0
    # a private Postgres cluster this stack started (under data_dir), if any
    private_pg_port: int = 0

    @classmethod
    def create(cls, data_dir: Path, server_url: str, prefix: str, env: dict | None = None,
               queue_workers: int = 0, webhook_processors: int = 0) -> IsolatedStack:
        suffix = f"{prefix}_{secrets.token_hex(3)}"
        stack = cls(
            data_dir=Path(data_dir),
            ports={name: free_port() for name in PORT_NAMES},
            app_db=f"hf_{suffix}",
            n8n_db=f"hf_{suffix}_n8n",
            server_url=postgres.with_database(server_url, "postgres") if server_url else "",
            queue_workers=queue_workers,
            webhook_processors=webhook_processors,
        )
        stack.fake_llm_port = free_port()
        stack.env = {
            "SERVICE_TOKEN": f"{prefix}-service-token",
            "ADMIN_TOKEN": f"{prefix}-admin-token",
            "N8N_ENCRYPTION_KEY": f"{prefix}-encryption-key",
            "HYBRIDFLOW_SECRET_KEYS": secrets.token_urlsafe(32),
            "CONSOLE_SECRET_KEY": secrets.token_urlsafe(32),
            "LOG_LEVEL": "INFO",
            "ANTHROPIC_BASE_URL": stack.fake_llm_url,
            "OPENAI_BASE_URL": stack.fake_llm_url + "/v1",
            "ANTHROPIC_API_KEY": "fake-anthropic-key",
            "OPENAI_API_KEY": "fake-openai-key",
            "SANDBOX_API_KEY": "sandbox-key",
            "QUEUE_BULL_PREFIX": f"hf-{suffix}",
            # n8n's owner, made from the environment at start (tests/flow/test_door.py signs in with it)
            "N8N_OWNER_EMAIL": f"owner-{suffix.replace('_', '-')}@hybridflow.test",
            "N8N_OWNER_PASSWORD": secrets.token_urlsafe(16),
            **(env or {}),
        }
        return stack

    # ---- Postgres of its own ---------------------------------------------------
    def start_private_postgres(self) -> str:
        """A private cluster under data_dir on a free port (the folder must be
        reachable by the postgres user when run as root: 755)."""
        self.private_pg_port = free_port()
        self.server_url = postgres.start_private_cluster(self.data_dir, self.private_pg_port,
                                                         self.log_file("postgres"))
        return self.server_url

    def restart_private_postgres(self) -> None:
        postgres.stop_private_cluster(self.data_dir)
        postgres.start_private_cluster(self.data_dir, self.private_pg_port, self.log_file("postgres"))

    # ---- the fake LLM ----------------------------------------------------------
    @property
    def fake_llm_url(self) -> str:
        return f"http://127.0.0.1:{self.fake_llm_port}"

    def start_fake_llm(self) -> None:
        if not (self.root / "testkit/fake_llm.py").exists():
            return
        procs.start("fake-llm", [sys.executable, "-m", "testkit.fake_llm", "--port", str(self.fake_llm_port)],
                    self.service_env(), self.log_file("fake-llm"), self.pidfile("fake-llm"), cwd=self.root)
        procs.wait_until("fake LLM", lambda: port_open(self.fake_llm_port), timeout=30,
                         pidfile=self.pidfile("fake-llm"), log_file=self.log_file("fake-llm"))

    # ---- whole ---------------------------------------------------------------------
    def start(self, n8n_timeout: float = 240) -> None:
        self.ensure_postgres()
        self.start_fake_llm()
        self.start_services()
        self.import_flows()
        self.start_n8n()
        self.wait_n8n(timeout=n8n_timeout)
        self.start_door()
        self.wait_door()
        # n8n recovers interrupted executions after the webhooks are live: let start-up finish
        time.sleep(1)

    def destroy(self) -> None:
        """Stops everything it started and drops its databases (or its private cluster)."""
        self.down()
        procs.stop(self.pidfile("fake-llm"))
        if self.private_pg_port:
            postgres.stop_private_cluster(self.data_dir)
            return
        if not self.server_url:
            return
        for name in (self.app_db, self.n8n_db):
            try:
                postgres.drop_database(self.server_url, name)
            except psycopg2.Error:
                pass

    # ---- talking to it -------------------------------------------------------------
    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.env['ADMIN_TOKEN']}"}
        return requests.request(method, self.url("collision") + path, headers=headers, timeout=30, **kwargs)

    def post_webhook(self, body: dict, secret: str | None) -> requests.Response:
        """As Evolution posts it: through the door."""
        headers = {"X-Webhook-Secret": secret} if secret is not None else {}
        return requests.post(self.webhook_url, json=body, headers=headers, timeout=60)

    def restart_n8n(self, crash: bool = True, timeout: float = 240) -> None:
        """Kills n8n (and its workers) mid-flight and starts it again, as a crash would."""
        self.stop_n8n(crash=crash)
        self.start_n8n()
        self.wait_n8n(timeout=timeout)
        time.sleep(1)

    def db(self):
        conn = psycopg2.connect(self.database_url, cursor_factory=psycopg2.extras.RealDictCursor)
        conn.autocommit = True
        return conn
