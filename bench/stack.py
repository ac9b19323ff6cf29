"""The benchmark's own stack: a private Postgres cluster under a temporary
folder (so it may be restarted mid-run without touching anyone else's), the
services, n8n with the flows and the trivial ceiling workflow, the fake LLM
and the sandbox as Evolution — all on free ports, all stopped at the end."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from ops import n8n, postgres, procs
from ops.flow_files import flow_files, flow_ids, render_credentials, render_flows
from ops.isolated import IsolatedStack

from .common import say
from .db import open_replies

TRIVIAL_FLOW = Path(__file__).with_name("trivial_flow.json")
TRIVIAL_PATH = "bench-trivial"

# the bench's own settings; the caller's environment still wins for the
# gunicorn and n8n knobs it sets (GUNICORN_WORKERS=1 make bench, ...)
BENCH_ENV = {
    "LOG_LEVEL": "INFO",
    # the sandbox holds one thread per waiting follower and per stalled send
    "SANDBOX_THREADS": "64",
    # the bots' echoes go back to n8n at once, as from a real server, not through 4 threads
    "SANDBOX_DELIVERY_THREADS": "32",
    # replies not finished 10 s after their (zero) debounce are the recovery flow's
    "REPLY_DEADLINE_MARGIN_SECONDS": "10",
    "LLM_MAX_RETRIES": "2",
    # bench/logs.py reads the services' log files by byte offset: no rotation mid-phase
    "LOG_MAX_BYTES": "1073741824",
}
CALLER_WINS = ("GUNICORN_WORKERS", "GUNICORN_THREADS", "DB_POOL_MAX", "N8N_EXPRESSION_ENGINE",
               "N8N_EXPRESSION_ENGINE_COMPILE_CACHE",
               "EXECUTIONS_DATA_SAVE_ON_SUCCESS", "N8N_LOG_LEVEL")


class BenchStack(IsolatedStack):
    tmp_root: Path | None = None
    redis_prefixes: list

    @classmethod
    def build(cls, fallback_server_url: str) -> "BenchStack":
        tmp_root = Path(tempfile.mkdtemp(prefix="hf-bench-"))
        # run as root, the private cluster belongs to the postgres user, who must reach it
        os.chmod(tmp_root, 0o755)
        env = dict(BENCH_ENV)
        for key in CALLER_WINS:
            if os.environ.get(key):
                env[key] = os.environ[key]
        stack = cls.create(tmp_root, "", prefix=f"bench_{os.getpid()}", env=env)
        stack.tmp_root = tmp_root
        stack.redis_prefixes = []
        if postgres._pg_bin_dir() is not None:
            stack.start_private_postgres()
        else:
            # no Postgres binaries: the databases go on the given server, and
            # the "Postgres restarted" fault is skipped (never restart a shared server)
            stack.server_url = postgres.with_database(fallback_server_url, "postgres")
        return stack

    # ---- start / stop -------------------------------------------------------
    def start_all(self) -> None:
        self.ensure_postgres()
        self.start_fake_llm()
        self.start_services()
        self.import_flows()
        self.import_trivial_flow()
        self.start_n8n()
        self.wait_n8n(timeout=240)
        self.wait_trivial()
        # the sandbox's webhooks (the bots' echoes) go through the door, as Evolution's would
        self.start_door()
        self.wait_door()

    def import_trivial_flow(self) -> None:
        wf_id = json.loads(TRIVIAL_FLOW.read_text())["id"]
        self.n8n_cli("import:workflow", f"--input={TRIVIAL_FLOW}")
        self.n8n_cli("publish:workflow", f"--id={wf_id}")

    def wait_trivial(self, timeout: float = 60) -> None:
        url = self.url("n8n") + "/webhook/" + TRIVIAL_PATH
        procs.wait_until("the trivial workflow", lambda: requests.post(url, json={}, timeout=5).status_code == 200,
                         timeout=timeout, pidfile=self.pidfile("n8n"), log_file=self.log_file("n8n"))

    def use_flows(self, inbound_dir: Path) -> None:
        """n8n again with flows/ as in git, but inbound.json from `inbound_dir`
        (bench/flows_before: the flow the lean path is measured against)."""
        self.stop_n8n()
        with tempfile.TemporaryDirectory(prefix="hf-bench-flows-") as tmp:
            for path in flow_files(self.root / "flows"):
                shutil.copy(path, tmp)
            shutil.copy(Path(inbound_dir) / "inbound.json", tmp)
            n8n.import_and_publish(self.n8n_cli, render_credentials(self.service_env()),
                                   render_flows(Path(tmp), self.flow_addresses()), flow_ids(Path(tmp)))
        self.start_n8n()
        self.wait_n8n(timeout=240)
        self.wait_trivial()

    def set_queue_workers(self, workers: int) -> None:
        """n8n again, in queue mode with `workers` workers (0: regular mode)."""
        self.stop_n8n()
        self.queue_workers = workers
        if workers:
            prefix = f"hf-bench-{os.getpid()}-{workers}w"
            self.env["QUEUE_BULL_PREFIX"] = prefix
            self.redis_prefixes.append(prefix)
        self.start_n8n()
        self.wait_n8n(timeout=240)
        self.wait_trivial()

    def n8n_alive(self) -> bool:
        return procs.read_pid(self.pidfile("n8n")) is not None

    def teardown(self) -> None:
        say("stopping the bench stack (n8n, services, fake LLM, Postgres) and removing its folder")
        try:
            self.destroy()
        finally:
            self.clean_redis()
            if self.tmp_root and os.environ.get("BENCH_KEEP_DATA") != "1":
                shutil.rmtree(self.tmp_root, ignore_errors=True)

    def clean_redis(self) -> None:
        """Deletes the Bull queue keys the run made (its own prefixes only)."""
        cli = shutil.which("redis-cli")
        if not cli or not self.redis_prefixes:
            return
        host = self.env.get("QUEUE_BULL_REDIS_HOST", "127.0.0.1")
        port = self.env.get("QUEUE_BULL_REDIS_PORT", "6379")
        for prefix in self.redis_prefixes:
            try:
                keys = subprocess.run([cli, "-h", host, "-p", port, "--scan", "--pattern", f"{prefix}:*"],
                                      capture_output=True, text=True, timeout=30).stdout.split()
                for i in range(0, len(keys), 500):
                    subprocess.run([cli, "-h", host, "-p", port, "DEL", *keys[i:i + 500]],
                                   capture_output=True, timeout=30)
            except (OSError, subprocess.SubprocessError):
                pass

    # ---- knobs -----------------------------------------------------------------
    def sandbox_knobs(self, **knobs) -> None:
        resp = requests.post(self.url("sandbox") + "/sandbox/knobs", json=knobs, timeout=10)
        resp.raise_for_status()

    def drain(self, timeout: float = 60) -> int:
        """Waits until the sandbox has delivered every webhook (the bots' echoes
        lag behind under load) and no reply is open; returns what is still open."""
        deadline = time.monotonic() + timeout
        pending = -1
        while time.monotonic() < deadline:
            resp = requests.get(self.url("sandbox") + "/sandbox/deliveries",
                                params={"wait": "1", "timeout": "5", "instance": "-"}, timeout=30).json()
            pending = resp["pending"] + open_replies(self, recent_only=True)
            if pending == 0:
                break
            time.sleep(0.5)
        return pending

    def sandbox_reset(self) -> None:
        requests.post(self.url("sandbox") + "/sandbox/reset", json={}, timeout=60).raise_for_status()

    def fake_llm(self, reset: bool = False, **script) -> None:
        if reset:
            requests.post(self.fake_llm_url + "/_fake/reset", timeout=10).raise_for_status()
        if script:
            requests.post(self.fake_llm_url + "/_fake/script", json=script, timeout=10).raise_for_status()

    def query(self, sql: str, *params) -> list[dict]:
        conn = self.db()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()
