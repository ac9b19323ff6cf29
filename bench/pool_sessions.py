"""New Postgres sessions per request: one service under gunicorn (the
settings `make up` uses), 800 /health calls at a given concurrency, and the
number of sessions Postgres saw open for its database meanwhile.

    python -m bench.pool_sessions [--requests 800] [--app "python_services.llm.app:create_app()"]

Each scenario gets a database of its own (dropped at the end), so
pg_stat_database.sessions (PostgreSQL 14+) counts the service's sessions only;
it is read after gunicorn has stopped, when every backend has reported. The
figures go into docs/benchmarks.md ("Database pool: sessions per request")."""
from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import requests

from ops import postgres
from ops.isolated import free_port
from python_services.common.config import read_environment

ROOT = Path(__file__).resolve().parents[1]
# the skeleton every service starts from (configuration, errors, the pool,
# /health): what is measured here is the same in each of them
DEFAULT_APP = "python_services.common.web:create_base_app('pool-bench')"

# (label, gunicorn/pool environment, concurrency)
SCENARIOS = [
    ("defaults (2 workers x 8 threads)", {}, 8),
    ("defaults (2 workers x 8 threads)", {}, 16),
    ("16 threads, DB_POOL_MAX=4", {"GUNICORN_THREADS": "16", "DB_POOL_MAX": "4"}, 16),
]


def _server_url() -> str:
    env = read_environment()
    return env.get("TEST_DATABASE_URL") or env.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


def _sessions(admin, name: str) -> tuple[int, int]:
    """(sessions ever opened, backends open now) for database `name`."""
    with admin.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute("SELECT sessions, numbackends FROM pg_stat_database WHERE datname = %s", (name,))
        row = cur.fetchone()
    return (row[0] or 0, row[1] or 0) if row else (0, 0)


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")


def _hammer(url: str, total: int, concurrency: int) -> tuple[Counter, float]:
    """`total` GETs from `concurrency` threads, each on a keep-alive session."""
    local = threading.local()

    def one(_):
        if not hasattr(local, "s"):
            local.s = requests.Session()
        try:
            r = local.s.get(url, timeout=30)
        except requests.RequestException as exc:
            return type(exc).__name__
        if r.status_code == 200:
            return "200"
        try:
            why = r.json()["checks"]["database"].get("error") or ""
        except (ValueError, KeyError, TypeError):
            why = ""
        return f"{r.status_code} {why}".strip()

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        outcomes = Counter(pool.map(one, range(total)))
    return outcomes, time.perf_counter() - started


def _run_gunicorn(app_spec: str, env: dict, url: str, total: int, concurrency: int):
    """Starts gunicorn, sends the calls, stops it (its log is shown if it fails to start)."""
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen([gunicorn, "-c", str(ROOT / "python_services/gunicorn_conf.py"), app_spec],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_http(url, proc)
            return _hammer(url, total, concurrency)
        except RuntimeError:
            log.seek(0)
            print(log.read()[-3000:], file=sys.stderr)
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_scenario(server: str, app_spec: str, label: str, extra_env: dict, concurrency: int, total: int) -> dict:
    name = f"hf_pool_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = psycopg2.connect(postgres.with_database(server, "postgres"))
    admin.autocommit = True  # each read of the statistics sees them fresh
    postgres.ensure_database(server, name)
    try:
        port = free_port()
        env = {**os.environ, "DATABASE_URL": postgres.with_database(server, name), "BIND": f"127.0.0.1:{port}",
               "LOG_LEVEL": "WARNING", **extra_env}
        outcomes, seconds = _run_gunicorn(app_spec, env, f"http://127.0.0.1:{port}/health", total, concurrency)
        # the backends report their session when they exit: wait until all have
        deadline = time.monotonic() + 15
        while _sessions(admin, name)[1] and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        sessions, _ = _sessions(admin, name)
    finally:
        admin.close()
        postgres.drop_database(server, name)
    non_200 = {k: v for k, v in outcomes.items() if k != "200"}
    return {"label": label, "concurrency": concurrency, "requests": total, "sessions": sessions,
            "per_request": sessions / total, "non_200": sum(non_200.values()), "why": non_200,
            "seconds": seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--app", default=DEFAULT_APP, help="gunicorn app spec (default: %(default)s)")
    args = parser.parse_args(argv)
    server = _server_url()
    rows = []
    for label, extra_env, concurrency in SCENARIOS:
        print(f"{label}, concurrency {concurrency}: {args.requests} x /health ...", flush=True)
        rows.append(run_scenario(server, args.app, label, extra_env, concurrency, args.requests))
    print()
    print("| service settings | concurrency | requests | new sessions | sessions per request | non-200 | req/s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        why = ", ".join(f"{v} x {k}" for k, v in sorted(r["why"].items()))
        non_200 = f"{r['non_200']} ({why})" if why else "0"
        print(f"| {r['label']} | {r['concurrency']} | {r['requests']} | {r['sessions']} | "
              f"{r['per_request']:.3f} | {non_200} | {r['requests'] / r['seconds']:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
