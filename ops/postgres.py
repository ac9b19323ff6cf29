"""Finding a Postgres to use: DATABASE_URL, else 127.0.0.1:5432, else a private
cluster under .data/pg started with the machine's initdb/pg_ctl (as the
postgres user when run as root), else the same with PostgreSQL binaries from
PyPI (pgserver) installed into the virtualenv."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2

from .progress import log

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def with_database(url: str, name: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


def find_server(env: dict, data_dir: Path, log_file: Path) -> tuple[str, str, int | None]:
    """(server URL, where it is in words, the private cluster's port or None):
    DATABASE_URL's server, else 127.0.0.1:5432 if it answers, else a private
    cluster under data_dir, started now."""
    if env.get("DATABASE_URL"):
        return with_database(env["DATABASE_URL"], "postgres"), "DATABASE_URL", None
    if answers(LOCAL_SERVER):
        return LOCAL_SERVER, "127.0.0.1:5432", None
    port = int(env.get("PG_PRIVATE_PORT", "54329"))
    log(f"starting a private Postgres cluster under {data_dir / 'pg'} on port {port}...")
    url = start_private_cluster(data_dir, port, log_file)
    return url, f"a private cluster under {data_dir / 'pg'} on port {port}", port


def answers(server_url: str) -> bool:
    try:
        psycopg2.connect(with_database(server_url, "postgres"), connect_timeout=2).close()
        return True
    except psycopg2.OperationalError:
        return False


def ensure_database(server_url: str, name: str) -> bool:
    """Creates the database if missing; True when it was created."""
    conn = psycopg2.connect(with_database(server_url, "postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone():
                return False
            cur.execute(f'CREATE DATABASE "{name}"')
            return True
    except psycopg2.errors.DuplicateDatabase:
        return False
    finally:
        conn.close()


def drop_database(server_url: str, name: str) -> None:
    conn = psycopg2.connect(with_database(server_url, "postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()


def database_comment(server_url: str, name: str) -> str | None:
    """The comment on a database (COMMENT ON DATABASE), None when it has none or does not exist."""
    conn = psycopg2.connect(with_database(server_url, "postgres"))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                        (name,))
            row = cur.fetchone()
            return row[0] if row else None
    finally:
        conn.close()


def set_database_comment(server_url: str, name: str, comment: str) -> None:
    conn = psycopg2.connect(with_database(server_url, "postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f'COMMENT ON DATABASE "{name}" IS %s', (comment,))
    finally:
        conn.close()


def _pg_bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if versions:
        return Path(versions[-1]).parent
    return None


def _pip_pg_bin_dir() -> Path:
    """PostgreSQL binaries from PyPI (pgserver ships a whole PostgreSQL 16),
    for a machine with none installed."""
    try:
        import pgserver  # type: ignore  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pgserver==0.1.4"], check=True)
    import importlib

    mod = importlib.import_module("pgserver")
    return Path(mod.__file__).parent / "pginstall" / "bin"


def start_private_cluster(data_dir: Path, port: int, log_file: Path) -> str:
    """initdb (once) and pg_ctl start of a cluster under data_dir; returns its URL."""
    bin_dir = _pg_bin_dir() or _pip_pg_bin_dir()
    pgdata = data_dir / "pg"
    as_user: list[str] = []
    if os.geteuid() == 0:
        # Postgres refuses to run as root
        user = "postgres"
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", user], check=True)
            pw = pwd.getpwnam(user)
        pgdata.mkdir(parents=True, exist_ok=True)
        os.chown(pgdata, pw.pw_uid, pw.pw_gid)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.touch()
        os.chown(log_file, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", user, "--"]
    if not (pgdata / "PG_VERSION").exists():
        subprocess.run(as_user + [str(bin_dir / "initdb"), "-D", str(pgdata), "-U", "postgres",
                                  "--auth=trust", "-E", "UTF8", "--no-locale"],
                       check=True, stdout=subprocess.DEVNULL)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    if not answers(url):
        subprocess.run(as_user + [str(bin_dir / "pg_ctl"), "-D", str(pgdata), "-l", str(log_file), "-w",
                                  "-o", f"-p {port} -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200",
                                  "start"], check=True, stdout=subprocess.DEVNULL)
    return url


def stop_private_cluster(data_dir: Path) -> bool:
    pgdata = data_dir / "pg"
    if not (pgdata / "postmaster.pid").exists():
        return False
    bin_dir = _pg_bin_dir() or _pip_pg_bin_dir()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(as_user + [str(bin_dir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return True
