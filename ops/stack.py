"""The whole system on one machine: Postgres, the Flask services under
gunicorn, n8n with the flows imported and published. `make up` / `make down`
drive it (ops/__main__.py), and so do the flow tests and `make bench`
(ops/isolated.py), so every one of them starts n8n the same way.

What n8n itself needs (install, settings, CLI, readiness, the encryption key)
is in ops/n8n.py, and its processes on this stack (workers, webhook processors,
the flows imported) in ops/n8n_processes.py; the front door (Caddy) is in
ops/door.py. This module wires them to one stack's ports, folders and
databases and says what it is doing while it does it.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from python_services.common.config import PROJECT_ROOT, read_environment
from python_services.common.migrate import migrate

from . import door, generated_secrets, keys, postgres, procs
from .n8n_processes import N8nProcesses
from .progress import log

SERVICES = ("collision", "llm", "evolution", "console", "sandbox")
DEFAULT_PORTS = {"collision": 8001, "llm": 8002, "evolution": 8003, "console": 8004, "sandbox": 8090, "n8n": 5678,
                 # n8n's task broker (its Code node runner); each n8n process on a machine needs its own
                 "n8n_broker": 5679,
                 # the front door (Caddy): the address Evolution is given
                 "door": 8080,
                 # the door's own Prometheus metrics (Caddy's), on loopback: never the public address
                 "door_metrics": 2019}
# the secrets of .env, and which process gets which: each only what it uses
# (the sandbox, development only, never the admin token nor the keys of the
# tenants' secrets; n8n none of them: its credentials are imported, and its
# flows cannot read the environment)
SECRETS = ("SERVICE_TOKEN", "ADMIN_TOKEN", "HYBRIDFLOW_SECRET_KEYS", "SANDBOX_API_KEY", "ANTHROPIC_API_KEY",
           "OPENAI_API_KEY", "N8N_ENCRYPTION_KEY", "N8N_OWNER_PASSWORD", "POSTGRES_PASSWORD", "DEMO_OWNER_PASSWORD",
           "CONSOLE_SECRET_KEY")
SECRETS_OF = {
    "collision": ("SERVICE_TOKEN", "ADMIN_TOKEN", "HYBRIDFLOW_SECRET_KEYS", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"),
    "llm": ("SERVICE_TOKEN", "ADMIN_TOKEN", "HYBRIDFLOW_SECRET_KEYS", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"),
    "evolution": ("SERVICE_TOKEN", "HYBRIDFLOW_SECRET_KEYS"),
    # SERVICE_TOKEN: its logs hash chats with it, and the login throttle keys failed e-mails with it
    "console": ("SERVICE_TOKEN", "HYBRIDFLOW_SECRET_KEYS", "CONSOLE_SECRET_KEY"),
    # SERVICE_TOKEN: the key every service's logs hash chats with, so a chat's lines match
    "sandbox": ("SANDBOX_API_KEY", "SERVICE_TOKEN"),
    "n8n": ("N8N_ENCRYPTION_KEY",),
}


@dataclass
class Stack(N8nProcesses):
    root: Path = PROJECT_ROOT
    data_dir: Path = PROJECT_ROOT / ".data"
    env: dict = field(default_factory=dict)
    ports: dict = field(default_factory=lambda: dict(DEFAULT_PORTS))
    app_db: str = "hybridflow"
    n8n_db: str = "hybridflow_n8n"
    server_url: str = ""
    services: tuple = SERVICES
    # queue mode: n8n hands executions to `n8n worker` processes through Redis
    queue_workers: int = 0
    # queue mode: `n8n webhook` processes that take the production webhooks (the
    # door passes /webhook/* to them in turn, so one can restart while the other serves)
    webhook_processors: int = 0
    # where this start's lines begin in n8n's log (the log is appended to across starts)
    n8n_log_offset: int = field(default=0, repr=False)

    # ---- configuration -------------------------------------------------
    @classmethod
    def from_environment(cls) -> Stack:
        env = read_environment()
        stack = cls(env=env)
        for name in DEFAULT_PORTS:
            key = "N8N_RUNNERS_BROKER_PORT" if name == "n8n_broker" else f"{name.upper()}_PORT"
            if env.get(key):
                stack.ports[name] = int(env[key])
        if env.get("DATABASE_URL"):
            stack.app_db = postgres.database_name(env["DATABASE_URL"])
        stack.n8n_db = env.get("N8N_DB_NAME") or stack.n8n_db
        return stack

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def env_file(self) -> Path:
        return self.root / ".env"

    @property
    def n8n_folder(self) -> Path:
        return self.data_dir / "n8n"

    def pidfile(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def metrics_dir(self, name: str) -> Path:
        """Where a service's gunicorn workers keep their Prometheus values (common/metrics.py)."""
        return self.run_dir / "metrics" / name

    def output_file(self, name: str) -> Path:
        """A service's stdout and stderr (gunicorn's own lines, a crash at
        start); its JSON log lines are in log_file(), rotated by the service."""
        return self.logs_dir / f"{name}.out"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports.get(name, DEFAULT_PORTS[name])}"

    @property
    def public_url(self) -> str:
        """Where Evolution and people reach the stack: N8N_WEBHOOK_URL when set
        (a domain in front), else the door on loopback; ends with /."""
        return self.env.get("N8N_WEBHOOK_URL") or self.url("door") + "/"

    @property
    def webhook_url(self) -> str:
        """The inbound flow's webhook through the door, where Evolution (or the sandbox) posts."""
        return self.url("door") + "/webhook/evolution"

    @property
    def database_url(self) -> str:
        return postgres.with_database(self.server_url, self.app_db)

    def ensure_secrets(self, env_file: Path | None = None) -> None:
        """Each secret of generated_secrets.GENERATED_SECRETS that is unset, made once and kept in .env."""
        env_file = env_file or self.env_file
        made = generated_secrets.ensure(self.env, env_file)
        if made:
            log(f"generated {', '.join(made)} into {env_file}")

    def service_env(self) -> dict:
        """What every child process sees: the merged environment plus the addresses."""
        env = {**os.environ, **self.env}
        env.update({
            "DATABASE_URL": self.database_url,
            "COLLISION_URL": self.url("collision"),
            "LLM_URL": self.url("llm"),
            "EVOLUTION_URL": self.url("evolution"),
            "SANDBOX_URL": self.url("sandbox"),
            "N8N_WEBHOOK_URL": self.public_url,
            # where people open the console (the sandbox page links there)
            "CONSOLE_URL": self.env.get("CONSOLE_URL") or self.public_url + "console/",
            # the sandbox delivers webhooks to the door (and the public address) only
            "SANDBOX_WEBHOOK_ALLOWED": self.env.get("SANDBOX_WEBHOOK_ALLOWED")
            or f"{self.url('door')}/webhook/,{self.public_url}webhook/",
            "HYBRIDFLOW_ENV_FILE": str(self.env_file),
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def env_for(self, name: str) -> dict:
        """service_env() less the secrets this process does not use (SECRETS_OF)."""
        keep = SECRETS_OF.get(name, ())
        env = {k: v for k, v in self.service_env().items() if k not in SECRETS or k in keep}
        if name in ("sandbox", "n8n"):
            # it reads no HybridFlow table (n8n's own database is given to it apart)
            env.pop("DATABASE_URL", None)
        return env

    # ---- Postgres ------------------------------------------------------
    def ensure_postgres(self) -> None:
        where = self.ensure_server()
        for name in (self.app_db, self.n8n_db):
            postgres.ensure_database(self.server_url, name)
        applied = migrate(self.database_url)
        log(f"postgres: {where}; databases {self.app_db} and {self.n8n_db}; "
            f"migrations applied: {', '.join(applied) or 'none (up to date)'}")

    def ensure_server(self) -> str:
        """Finds (or starts) a Postgres server; sets server_url, says where."""
        if self.server_url:
            return "the given server"
        self.server_url, where, private_port = postgres.find_server(self.env, self.data_dir, self.log_file("postgres"))
        if private_port:
            # make down stops the private cluster it finds noted here
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "postgres.private").write_text(str(private_port))
        return where

    # ---- services ------------------------------------------------------
    def start_services(self) -> None:
        """Starts each service that is not running (a live pid is left alone)
        and waits until every one answers /health."""
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        starting = []
        for name in self.services:
            if not (self.root / "python_services" / name / "app.py").exists():
                continue
            running = procs.read_pid(self.pidfile(name))
            if running:
                log(f"{name}: already running (pid {running}), left alone")
                continue
            svc_env = {**self.env_for(name), "BIND": f"127.0.0.1:{self.ports[name]}"}
            # JSON lines: written and rotated by the service itself (LOG_MAX_BYTES,
            # LOG_BACKUPS); gunicorn's own output (a crash at start) goes to <name>.out
            if not svc_env.get("LOG_FILE"):
                svc_env["LOG_FILE"] = str(self.log_file(name))
            # its workers' metrics files, one folder per service (never shared: a start empties
            # it, gunicorn_conf.py); the metrics of any earlier run are gone with them
            svc_env["PROMETHEUS_MULTIPROC_DIR"] = str(self.metrics_dir(name))
            if name == "console":
                # people, not webhooks: fewer threads, so fewer database connections (gunicorn_conf.py)
                svc_env.setdefault("GUNICORN_THREADS", "4")
            if name == "sandbox":
                # in-memory state: one worker, many threads
                svc_env["GUNICORN_WORKERS"] = "1"
                svc_env["GUNICORN_THREADS"] = svc_env.get("SANDBOX_THREADS", "16")
            procs.start(name, [gunicorn, "-c", str(self.root / "python_services/gunicorn_conf.py"),
                               f"python_services.{name}.app:create_app()"],
                        svc_env, self.output_file(name), self.pidfile(name), cwd=self.root)
            starting.append(name)
        if starting:
            log(f"starting {', '.join(starting)} (gunicorn), waiting for /health...")
        for name in self.services:
            if self.pidfile(name).exists():
                self.wait_service(name)

    def wait_service(self, name: str) -> None:
        try:
            procs.wait_until(f"{name} /health", lambda: procs.http_ok(self.url(name) + "/health"),
                             timeout=60, pidfile=self.pidfile(name), log_file=self.output_file(name))
        except procs.NotReady as err:
            # the tail of its log (the reason of this start: a stack trace of dozens of lines)
            self.explain_if_secrets_key_mismatch(str(err))
            raise

    def explain_if_secrets_key_mismatch(self, service_output: str) -> None:
        """A service died because no HYBRIDFLOW_SECRET_KEYS key opens what is stored."""
        if keys.shows_secrets_key_mismatch(service_output):
            raise keys.KeyMismatch(keys.explain_secrets_key_mismatch(
                keys.where_is("HybridFlow's database", self.server_url, self.app_db), self.env_file))

    # ---- the front door (what Caddy needs is in ops/door.py) -------------
    def door_env(self) -> dict:
        return door.environment(port=self.ports["door"], metrics_port=self.ports["door_metrics"],
                                webhook_upstreams=self.webhook_upstreams(),
                                collision=f"127.0.0.1:{self.ports['collision']}",
                                llm=f"127.0.0.1:{self.ports['llm']}", console=f"127.0.0.1:{self.ports['console']}",
                                state_dir=self.data_dir / "caddy",
                                hold=self.env.get("DOOR_HOLD") or door.DEFAULT_HOLD)

    def start_door(self) -> None:
        procs.start("door", door.command(), self.door_env(), self.log_file("door"), self.pidfile("door"),
                    cwd=self.root)

    def wait_door(self, timeout: float = 60) -> None:
        door.wait_ready(self.url("door"), self.pidfile("door"), self.log_file("door"), timeout)

    def ensure_door(self) -> None:
        """The door running and passing webhooks to n8n; one that runs is left alone."""
        running = procs.read_pid(self.pidfile("door"))
        if running:
            log(f"door: already running (pid {running}), left alone")
        else:
            log(f"door: starting Caddy on {self.url('door')} (webhooks to n8n, /api/ to the services)...")
            self.start_door()
        self.wait_door()
        log(f"door: ready, webhook live at {self.webhook_url}")

    # ---- whole system --------------------------------------------------
    def up(self) -> None:
        """Starts whatever part is not running; what runs is left alone."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.ensure_secrets()
        self.ensure_postgres()
        if not procs.read_pid(self.pidfile("n8n")):
            self.check_n8n_key()
        self.start_services()
        self.ensure_n8n()
        self.ensure_door()

    def down(self) -> list[str]:
        stopped = ["door"] if procs.stop(self.pidfile("door")) else []
        stopped += self.stop_n8n()
        for name in reversed(self.services):
            if procs.stop(self.pidfile(name)):
                stopped.append(name)
        marker = self.run_dir / "postgres.private"
        if marker.exists():
            if postgres.stop_private_cluster(self.data_dir):
                stopped.append("postgres (private cluster)")
            marker.unlink()
        return stopped

    def status(self) -> dict:
        names = ("door", *self.n8n_process_names(), *self.services)
        return {n: procs.read_pid(self.pidfile(n)) for n in names}
