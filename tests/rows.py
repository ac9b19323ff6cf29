"""Reading rows back from the test database for assertions, with the
RealDictCursor connection of tests/conftest.py (`db_conn`)."""
from __future__ import annotations


def rows(db_conn, sql, *args) -> list[dict]:
    with db_conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def token_row(db_conn, token_id) -> dict | None:
    """The reply token's row, or None."""
    found = rows(db_conn, "SELECT * FROM reply_tokens WHERE id = %s", token_id)
    return found[0] if found else None
