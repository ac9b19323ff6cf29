"""The migration runner: numbered files applied in order, each once; a file
numbered below what a database already has stops the run, naming the file."""
from __future__ import annotations


import psycopg2
import pytest

from python_services.common import migrate as runner
from python_services.common.migrate import MigrationOrderError, migrate, migration_files
from tests.conftest import scratch_database


@pytest.fixture
def scratch_url():
    """An empty database of its own (the shared one is already migrated)."""
    with scratch_database("hf_migrate") as url:
        yield url


def write(directory, name):
    """A migration that records its own name, so the order it ran in shows."""
    setup = "CREATE TABLE IF NOT EXISTS ran (n serial, name text);"
    (directory / name).write_text(f"{setup} INSERT INTO ran (name) VALUES ('{name}');")


def ran(url) -> list[str]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('ran') IS NOT NULL")
            if not cur.fetchone()[0]:
                return []
            cur.execute("SELECT name FROM ran ORDER BY n")
            return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


def test_migrations_run_in_their_numbered_order_each_once_and_gaps_are_fine(scratch_url, tmp_path):
    for name in ("0010_later.sql", "0002_second.sql", "0001_first.sql", "0005_gap.sql"):
        write(tmp_path, name)
    assert migrate(scratch_url, tmp_path) == ["0001_first", "0002_second", "0005_gap", "0010_later"]
    assert migrate(scratch_url, tmp_path) == []
    assert ran(scratch_url) == ["0001_first.sql", "0002_second.sql", "0005_gap.sql", "0010_later.sql"]


def test_a_newer_migration_is_applied_on_a_database_that_has_the_older_ones(scratch_url, tmp_path):
    write(tmp_path, "0001_first.sql")
    write(tmp_path, "0005_flow_errors.sql")
    migrate(scratch_url, tmp_path)
    write(tmp_path, "0006_retention.sql")
    assert migrate(scratch_url, tmp_path) == ["0006_retention"]


def test_a_migration_numbered_below_the_newest_applied_one_stops_the_run_naming_it(scratch_url, tmp_path):
    write(tmp_path, "0001_first.sql")
    write(tmp_path, "0005_flow_errors.sql")
    migrate(scratch_url, tmp_path)
    write(tmp_path, "0003_forgotten.sql")
    write(tmp_path, "0006_retention.sql")
    with pytest.raises(MigrationOrderError) as stopped:
        migrate(scratch_url, tmp_path)
    message = str(stopped.value)
    assert "0003_forgotten.sql" in message and "0005_flow_errors" in message
    assert "Renumber" in message and "0007_forgotten.sql" in message
    # nothing of the run was applied, not even the newer file
    assert ran(scratch_url) == ["0001_first.sql", "0005_flow_errors.sql"]


def test_the_command_says_why_it_stopped_and_fails(scratch_url, tmp_path, monkeypatch, capsys):
    write(tmp_path, "0002_second.sql")
    migrate(scratch_url, tmp_path)
    write(tmp_path, "0001_first.sql")
    monkeypatch.setattr(runner, "MIGRATIONS_DIR", tmp_path)
    assert runner.main([scratch_url]) == 1
    assert "0001_first.sql" in capsys.readouterr().err


def test_two_migrations_with_the_same_number_stop_the_run(scratch_url, tmp_path):
    write(tmp_path, "0006_retention.sql")
    write(tmp_path, "0006_encryption.sql")
    with pytest.raises(MigrationOrderError, match="0006_encryption.sql and 0006_retention.sql"):
        migrate(scratch_url, tmp_path)
    assert ran(scratch_url) == []


def test_the_projects_own_migrations_have_one_file_per_number():
    files = migration_files()
    assert [p.stem[:4] for p in files] == sorted({p.stem[:4] for p in files})
