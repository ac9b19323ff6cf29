"""n8n serves a flow's webhooks before it has applied the publications made
at import; while it applies one it takes the changed flow's webhooks down and
up again. A stack counts as ready only once none is pending (ops/n8n.py)."""
import os
import uuid

import psycopg2
import pytest

from ops import n8n, postgres

SERVER = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def n8n_database():
    name = f"hf_pub_{uuid.uuid4().hex[:8]}"
    postgres.ensure_database(SERVER, name)
    yield name
    conn = psycopg2.connect(postgres.with_database(SERVER, "postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    conn.close()


def run(database, sql):
    conn = psycopg2.connect(postgres.with_database(SERVER, database))
    with conn, conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def test_an_n8n_without_a_publication_outbox_has_nothing_pending(n8n_database):
    assert n8n.publications_pending(SERVER, n8n_database) == 0


def test_publications_pending_or_in_progress_keep_the_stack_waiting_done_ones_do_not(n8n_database):
    run(n8n_database, "CREATE TABLE workflow_publication_outbox (id serial, status varchar(20))")
    run(n8n_database, "INSERT INTO workflow_publication_outbox (status) VALUES ('completed'), ('failed')")
    assert n8n.publications_pending(SERVER, n8n_database) == 0

    run(n8n_database, "INSERT INTO workflow_publication_outbox (status) VALUES ('pending'), ('in_progress')")
    assert n8n.publications_pending(SERVER, n8n_database) == 2
