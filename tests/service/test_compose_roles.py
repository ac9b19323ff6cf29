"""db/init/01-roles.sql, run the way the Postgres image runs it on a new
volume (psql as the superuser, on POSTGRES_DB), on a private cluster: n8n
and the services get roles of their own that are no superusers, HybridFlow's
migrations run as its role, and neither role reaches the other's database."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg2
import pytest

from ops import postgres
from ops.isolated import free_port
from python_services.common.config import PROJECT_ROOT
from python_services.common.migrate import migrate

INIT_SQL = PROJECT_ROOT / "db" / "init" / "01-roles.sql"


@pytest.fixture(scope="module")
def cluster():
    # the postgres user must reach the folder (the private cluster runs as it when we are root)
    data_dir = Path(tempfile.mkdtemp(prefix="hf-roles-"))
    os.chmod(data_dir, 0o755)
    port = free_port()
    url = postgres.start_private_cluster(data_dir, port, data_dir / "pg.log")
    try:
        postgres.ensure_database(url, "hybridflow")  # POSTGRES_DB
        bin_dir = postgres._pg_bin_dir() or postgres._pip_pg_bin_dir()
        env = {**os.environ, "HYBRIDFLOW_DB_PASSWORD": "app-pass", "N8N_DB_PASSWORD": "n8n-pass"}
        done = subprocess.run([str(bin_dir / "psql"), "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-h", "127.0.0.1",
                               "-p", str(port), "-U", "postgres", "-d", "hybridflow", "-f", str(INIT_SQL)],
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        yield port
    finally:
        postgres.stop_private_cluster(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def _url(port: int, user: str, database: str) -> str:
    return f"postgresql://{user}@127.0.0.1:{port}/{database}"


def test_n8n_and_the_services_have_roles_that_are_no_superusers(cluster):
    conn = psycopg2.connect(_url(cluster, "postgres", "postgres"))
    with conn, conn.cursor() as cur:
        cur.execute("SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
                    " WHERE rolname IN ('hybridflow', 'hybridflow_n8n') ORDER BY rolname")
        rows = cur.fetchall()
        cur.execute("SELECT datname, pg_get_userbyid(datdba) FROM pg_database"
                    " WHERE datname IN ('hybridflow', 'hybridflow_n8n') ORDER BY datname")
        owners = cur.fetchall()
    conn.close()
    assert rows == [("hybridflow", False, False, False), ("hybridflow_n8n", False, False, False)]
    assert owners == [("hybridflow", "hybridflow"), ("hybridflow_n8n", "hybridflow_n8n")]


def test_the_migrations_run_as_hybridflows_own_role(cluster):
    applied = migrate(_url(cluster, "hybridflow", "hybridflow"))
    assert applied, "no migration applied"
    conn = psycopg2.connect(_url(cluster, "hybridflow", "hybridflow"))
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM tenants")
        assert cur.fetchone() == (0,)
    conn.close()


def test_n8n_makes_its_tables_in_its_own_database(cluster):
    conn = psycopg2.connect(_url(cluster, "hybridflow_n8n", "hybridflow_n8n"))
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE workflow_probe (id int)")
    conn.close()


@pytest.mark.parametrize("user, database", [("hybridflow_n8n", "hybridflow"), ("hybridflow", "hybridflow_n8n")])
def test_neither_role_reaches_the_others_database(cluster, user, database):
    with pytest.raises(psycopg2.OperationalError, match="permission denied"):
        psycopg2.connect(_url(cluster, user, database)).close()
