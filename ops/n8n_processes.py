"""One stack's n8n processes: the main one, its queue-mode workers and webhook
processors, the flows imported and published before they start, the
encryption key checked before and explained after. What n8n itself needs
(install, settings, CLI, readiness) is in ops/n8n.py; this is the part of
ops.stack.Stack that runs it on that stack's ports, folders and database, kept
apart so the stack module stays about the whole system.
"""
from __future__ import annotations

from . import keys, n8n, procs
from .flow_files import flow_ids, render_credentials, render_flows
from .progress import StepFailed, log


class N8nProcesses:
    """Mixed into ops.stack.Stack, whose fields and helpers it uses: env, root,
    ports, data_dir, run_dir, n8n_folder, n8n_db, server_url, env_file,
    queue_workers, webhook_processors, n8n_log_offset, url(), pidfile(),
    log_file(), env_for(), service_env(), ensure_server()."""

    def n8n_command(self) -> list[str]:
        return n8n.command(n8n.install(self.root))

    def n8n_env(self) -> dict:
        return n8n.environment(self.env_for("n8n"), server_url=self.server_url, database=self.n8n_db,
                               port=self.ports["n8n"], broker_port=self.ports["n8n_broker"],
                               user_folder=self.n8n_folder, queue_workers=self.queue_workers,
                               owner=self.n8n_owner())

    def n8n_owner(self) -> tuple[str, str] | None:
        """n8n's owner account, made from the environment at every start (the
        e-mail, the bcrypt hash of N8N_OWNER_PASSWORD), so no first visitor can claim it."""
        password = self.env.get("N8N_OWNER_PASSWORD")
        if not password:
            return None
        return self.n8n_owner_email, n8n.password_hash(password, self.data_dir / "run" / "n8n-owner.hash")

    @property
    def n8n_owner_email(self) -> str:
        return self.env.get("N8N_OWNER_EMAIL") or n8n.DEFAULT_OWNER_EMAIL

    def n8n_cli(self, *args: str) -> str:
        rc, output = n8n.run_cli(self.n8n_command(), self.n8n_env(), self.root, self.log_file("n8n-cli"), *args)
        if rc != 0:
            self.explain_if_n8n_key_mismatch(output)
            raise StepFailed(f"n8n {' '.join(args)} failed ({rc}):\n{output[-3000:]}")
        return output

    def import_flows(self) -> None:
        ids = flow_ids(self.root / "flows")
        log(f"n8n: importing the credentials and {len(ids)} flows and publishing them ({len(ids) + 2} n8n "
            "commands of a few seconds each; the first also creates n8n's tables)...")
        n8n.import_and_publish(self.n8n_cli, render_credentials(self.service_env()),
                               render_flows(self.root / "flows", self.flow_addresses()), ids)
        log(f"n8n: imported credentials and {len(ids)} flows, published")

    def flow_addresses(self) -> dict:
        """The addresses written into the flows at import (the files in flows/
        hold placeholders): n8n reads no address from the environment."""
        return {"COLLISION_URL": self.url("collision"), "LLM_URL": self.url("llm"),
                "EVOLUTION_URL": self.url("evolution"), "N8N_URL": self.url("n8n")}

    def worker_env(self, n: int) -> dict:
        """`n8n worker` number n: a task broker port and a server port of its own.
        With metrics on (N8N_METRICS), a worker serves /metrics on QUEUE_HEALTH_CHECK_PORT,
        5678 unless told otherwise, and exits at once when that port is taken (by the
        main n8n of `make up`, or by another stack's worker: seen in the queue-mode tests)."""
        return {**self.n8n_env(), "QUEUE_HEALTH_CHECK_ACTIVE": "false",
                "N8N_RUNNERS_BROKER_PORT": str(self.ports.get(f"n8n_broker_{n}", self.ports["n8n_broker"] + n)),
                "QUEUE_HEALTH_CHECK_PORT": str(self.ports.get(f"n8n_worker_{n}", self.ports["n8n"] + 20 + n)),
                "N8N_WORKER_SERVER_ADDRESS": "127.0.0.1"}

    def start_n8n(self) -> None:
        self.n8n_log_offset = procs.log_size(self.log_file("n8n"))
        procs.start("n8n", self.n8n_command() + ["start"], self.n8n_env(), self.log_file("n8n"),
                    self.pidfile("n8n"), cwd=self.root)
        for i in range(self.queue_workers):
            name = f"n8n-worker-{i + 1}"
            procs.start(name, self.n8n_command() + ["worker"], self.worker_env(i + 1), self.log_file(name),
                        self.pidfile(name), cwd=self.root)
        for i in range(self.webhook_processors if self.queue_workers else 0):
            self.start_webhook_processor(i + 1)

    # ---- queue mode: webhook processors ----------------------------------------
    def webhook_processor_port(self, n: int) -> int:
        return self.ports.get(f"n8n_webhook_{n}", self.ports["n8n"] + 10 + n)

    def start_webhook_processor(self, n: int) -> None:
        """`n8n webhook` number n on a port of its own (and a task broker port of its own)."""
        name = f"n8n-webhook-{n}"
        env = {**self.n8n_env(), "N8N_PORT": str(self.webhook_processor_port(n)),
               "N8N_RUNNERS_BROKER_PORT": str(self.ports.get(f"n8n_webhook_broker_{n}",
                                                             self.ports["n8n_broker"] + 10 + n))}
        procs.start(name, self.n8n_command() + ["webhook"], env, self.log_file(name), self.pidfile(name),
                    cwd=self.root)

    def wait_webhook_processor(self, n: int, timeout: float = 180) -> None:
        name = f"n8n-webhook-{n}"
        procs.wait_until(f"{name}: the inbound webhook",
                         lambda: n8n.webhook_registered(f"http://127.0.0.1:{self.webhook_processor_port(n)}"),
                         timeout=timeout, interval=0.5, pidfile=self.pidfile(name), log_file=self.log_file(name))

    def restart_webhook_processor(self, n: int, crash: bool = False, timeout: float = 180) -> None:
        """One webhook processor stopped (gracefully, or killed) and started again; the others serve meanwhile."""
        procs.stop(self.pidfile(f"n8n-webhook-{n}"), timeout=40, crash=crash)
        self.start_webhook_processor(n)
        self.wait_webhook_processor(n, timeout)

    def webhook_upstreams(self) -> list[str]:
        """Where the door sends /webhook/*: the webhook processors in queue mode, else n8n itself."""
        count = self.webhook_processors if self.queue_workers else 0
        if count:
            return [f"127.0.0.1:{self.webhook_processor_port(n)}" for n in range(1, count + 1)]
        return [f"127.0.0.1:{self.ports['n8n']}"]

    def n8n_process_names(self) -> list[str]:
        return ["n8n"] + [p.stem for p in sorted(self.run_dir.glob("n8n-worker-*.pid"))] + \
            [p.stem for p in sorted(self.run_dir.glob("n8n-webhook-*.pid"))]

    def stop_n8n(self, crash: bool = False) -> list[str]:
        # n8n's graceful shutdown waits up to 30 s for running executions
        return [n for n in self.n8n_process_names() if procs.stop(self.pidfile(n), timeout=40, crash=crash)]

    def wait_n8n(self, timeout: float = 180) -> None:
        try:
            n8n.wait_ready(self.url("n8n"), self.pidfile("n8n"), self.log_file("n8n"), timeout)
            # then the flows published at import applied: until then n8n may take a
            # changed flow's webhooks down and up again (ops/n8n.py publications_pending)
            procs.wait_until("n8n: the published flows applied",
                             lambda: n8n.publications_pending(self.server_url, self.n8n_db) == 0,
                             timeout=timeout, interval=0.5, pidfile=self.pidfile("n8n"), log_file=self.log_file("n8n"))
        except procs.NotReady:
            # the lines of this start only: earlier starts' must not be taken for this one's
            self.explain_if_n8n_key_mismatch(procs.log_since(self.log_file("n8n"), self.n8n_log_offset))
            raise
        for n in range(1, (self.webhook_processors if self.queue_workers else 0) + 1):
            self.wait_webhook_processor(n, timeout)

    def check_n8n_key(self) -> None:
        """Before anything starts: is n8n's database or folder made with another key?"""
        problem = keys.n8n_key_problem(self.env["N8N_ENCRYPTION_KEY"], self.server_url, self.n8n_db,
                                       self.n8n_folder, self.env_file)
        if problem:
            raise keys.KeyMismatch(problem)

    def explain_if_n8n_key_mismatch(self, n8n_output: str) -> None:
        """n8n died saying its key does not fit (a database from before make up kept a fingerprint)."""
        if keys.shows_n8n_key_mismatch(n8n_output):
            raise keys.KeyMismatch(keys.explain_n8n_key_mismatch(
                keys.where_is("n8n's database", self.server_url, self.n8n_db), self.env_file))

    def ensure_n8n(self) -> None:
        """n8n running with the flows published; one that is running is left alone."""
        running = procs.read_pid(self.pidfile("n8n"))
        if running:
            log(f"n8n: already running (pid {running}), left alone")
            self.n8n_log_offset = procs.log_size(self.log_file("n8n"))
            self.wait_n8n()
            return
        n8n.install(self.root)  # the first time only; the script reports its own steps
        self.import_flows()
        log("n8n: starting, waiting for its webhook (about 15 s)...")
        self.start_n8n()
        self.wait_n8n()
        keys.remember_n8n_key(self.env["N8N_ENCRYPTION_KEY"], self.server_url, self.n8n_db)
        log(f"n8n: ready, its webhook registered at {self.url('n8n')}/webhook/evolution")

    def reset_n8n(self) -> list[str]:
        """n8n stopped, its database and folder made anew (see n8n.reset); returns what was stopped."""
        stopped = self.stop_n8n()
        self.ensure_server()
        n8n.reset(self.server_url, self.n8n_db, self.n8n_folder)
        return stopped
