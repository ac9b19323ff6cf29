"""Applies db/migrations/NNNN_*.sql in order, each once, recording the version.
    python -m python_services.common.migrate [DATABASE_URL]"""
from __future__ import annotations

import sys
from pathlib import Path

import psycopg2

from .config import PROJECT_ROOT, Config

MIGRATIONS_DIR = PROJECT_ROOT / "db" / "migrations"
# one migrator at a time, even when two `make up`s race
_LOCK_ID = 727_001


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    return sorted(p for p in directory.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def migrate(database_url: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Returns the versions applied by this call (empty when up to date)."""
    applied_now = []
    conn = psycopg2.connect(database_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur.execute("SELECT version FROM schema_migrations")
            done = {row[0] for row in cur.fetchall()}
            for path in migration_files(directory):
                version = path.stem
                if version in done:
                    continue
                cur.execute(path.read_text())
                cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied_now.append(version)
    finally:
        conn.close()
    return applied_now


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    url = argv[0] if argv else Config.from_env().database_url
    applied = migrate(url)
    print("migrations applied: " + (", ".join(applied) if applied else "none (up to date)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
