"""Shared fixtures: a real Postgres database created for the run, migrated,
and dropped at the end; tables emptied between tests."""
from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.extras
import pytest

import hashlib
import json
from python_services.common import db as service_db
from python_services.common.config import read_environment
from python_services.common.migrate import migrate

psycopg2.extras.register_uuid()

APP_TABLES = ("flow_errors", "outbound", "events", "messages", "reply_sources", "reply_tokens", "chat_aliases",
              "sessions", "knowledge_words", "knowledge_entries", "tenants", "login_failures", "web_sessions",
              "api_tokens", "memberships", "users")


def _server_url() -> str:
    """The Postgres server the tests use: TEST_DATABASE_URL, else DATABASE_URL's
    server (from the environment or .env), else 127.0.0.1:5432."""
    env = read_environment()
    return env.get("TEST_DATABASE_URL") or env.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _admin(url: str):
    conn = psycopg2.connect(_with_database(url, "postgres"))
    conn.autocommit = True
    return conn


@contextlib.contextmanager
def scratch_database(prefix: str):
    """An empty database of its own on the test server, dropped afterwards."""
    server = _server_url()
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    admin = _admin(server)
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(server, name)
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def database_url():
    with scratch_database("hf_test") as url:
        migrate(url)
        yield url


@pytest.fixture(autouse=True)
def _close_service_pools():
    """Every app a test made gives its connections back when the test ends,
    so long suites stay under the server's connection limit."""
    yield
    service_db.close_all_pools()


@pytest.fixture
def clean_db(database_url):
    """Empties every app table before the test: each scenario starts from nothing."""
    conn = psycopg2.connect(database_url)
    with conn, conn.cursor() as cur:
        cur.execute("TRUNCATE " + ", ".join(APP_TABLES) + " RESTART IDENTITY CASCADE")
    conn.close()
    return database_url


@pytest.fixture
def db_conn(clean_db):
    """A direct connection (RealDictCursor) for arranging and checking state."""
    conn = psycopg2.connect(clean_db, cursor_factory=psycopg2.extras.RealDictCursor)
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture
def tx(clean_db):
    """tx(fn, *args): runs fn(cur, *args) in its own committed transaction, on
    its own connection, as the services do."""

    def run(fn, *args, **kwargs):
        conn = psycopg2.connect(clean_db, cursor_factory=psycopg2.extras.RealDictCursor)
        try:
            with conn, conn.cursor() as cur:
                return fn(cur, *args, **kwargs)
        finally:
            conn.close()

    return run


SERVICE_TOKEN = "test-service-token"
ADMIN_TOKEN = "test-admin-token"
# the application key that encrypts tenants' secrets at rest in the tests (a Fernet key)
SECRET_KEY = "aHlicmlkZmxvdy10ZXN0cy1hcHBsaWNhdGlvbi1rZXk="


@pytest.fixture
def service_config(clean_db):
    """test_config for any service's create_app()."""
    return {"database_url": clean_db, "service_token": SERVICE_TOKEN, "admin_token": ADMIN_TOKEN,
            "HYBRIDFLOW_SECRET_KEYS": SECRET_KEY}


@pytest.fixture
def service_headers():
    return {"X-Service-Token": SERVICE_TOKEN}


@pytest.fixture
def admin_headers():
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def new_uuid() -> str:
    return str(uuid.uuid4())


WEBHOOK_SECRET = "test-webhook-secret"


@pytest.fixture
def make_tenant(db_conn):
    """Inserts a tenant straight into the database (webhook secret WEBHOOK_SECRET
    unless given) and returns its row."""

    def make(instance_name="acme-store", **fields):
        secret = fields.pop("webhook_secret", WEBHOOK_SECRET)
        row = {
            "instance_name": instance_name,
            "business_name": "Acme Store",
            "evo_server_url": "http://127.0.0.1:9",
            "evo_api_key": "evo-test-key",
            "webhook_secret_hash": hashlib.sha256(secret.encode()).hexdigest(),
            "system_prompt": "You are the assistant of {business_name}.",
            "llm_provider": "offline",
            "llm_model": "",
            "settings": {},
        }
        row.update(fields)
        row["settings"] = json.dumps(row["settings"])
        cols = ", ".join(row)
        marks = ", ".join(["%s"] * len(row))
        with db_conn.cursor() as cur:
            cur.execute(f"INSERT INTO tenants ({cols}) VALUES ({marks}) RETURNING *", list(row.values()))
            return cur.fetchone()

    return make
