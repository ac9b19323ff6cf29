"""Applies db/migrations/NNNN_*.sql in order, each once, recording the version.
A file numbered below the newest one a database already has stops the run
(it would run after that one here and before it on a new database).
    python -m python_services.common.migrate [DATABASE_URL]"""
from __future__ import annotations

import sys
from pathlib import Path

import psycopg2

from .config import PROJECT_ROOT, Config

MIGRATIONS_DIR = PROJECT_ROOT / "db" / "migrations"
# one migrator at a time, even when two `make up`s race
_LOCK_ID = 727_001


class MigrationOrderError(RuntimeError):
    """The migrations on disk cannot be applied in their numbered order."""


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    files = sorted(p for p in directory.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    numbers: dict[str, Path] = {}
    for path in files:
        other = numbers.setdefault(_number(path.stem), path)
        if other is not path:
            raise MigrationOrderError(
                f"{other.name} and {path.name} share the number {_number(path.stem)}: "
                "renumber the newer one after the last migration")
    return files


def _number(version: str) -> str:
    return version[:4]


def out_of_order(files: list[Path], done: set[str]) -> str | None:
    """Why the run must stop, or None: a file not applied yet whose number is
    below the newest migration this database has."""
    numbered = [v for v in done if _number(v).isdigit()]
    if not numbered:
        return None
    newest = max(numbered, key=_number)
    for path in files:
        if path.stem not in done and _number(path.stem) < _number(newest):
            after = max(int(_number(v)) for v in numbered + [p.stem for p in files]) + 1
            return (f"{path.name} is numbered before {newest}, which this database already has: it would run "
                    f"after {newest} here but before it on a new database. Nothing was applied. Renumber it "
                    f"after the newest migration (e.g. {after:04d}_{path.stem[5:]}.sql) and run again.")
    return None


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
            files = migration_files(directory)
            stop = out_of_order(files, done)
            if stop:
                raise MigrationOrderError(stop)
            for path in files:
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
    try:
        applied = migrate(url, MIGRATIONS_DIR)
    except MigrationOrderError as err:
        print(f"migrations stopped: {err}", file=sys.stderr)
        return 1
    print("migrations applied: " + (", ".join(applied) if applied else "none (up to date)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
