"""Every query on `web_sessions`: console logins kept server-side. The
cookie holds a random id (32 bytes); the table only its sha256, so a copy
of the database opens no session. A session is alive while it is not
revoked, not past expires_at (the absolute limit) and seen within the idle
limit; core/accounts.py decides the limits."""
from __future__ import annotations

import hashlib
import secrets

# last_seen_at is written at most this often per session
SEEN_EVERY_SECONDS = 30


def id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


def insert(cur, user_id, *, max_age_seconds: float, address: str = "", user_agent: str = "") -> tuple[str, dict]:
    """A new session for the person: its id (for the cookie, shown this once) and its row."""
    session_id = secrets.token_urlsafe(32)
    cur.execute(
        "INSERT INTO web_sessions (id_hash, user_id, expires_at, address, user_agent)"
        " VALUES (%s, %s, now() + make_interval(secs => %s), %s, %s) RETURNING *",
        (id_hash(session_id), user_id, max_age_seconds, address[:100], user_agent[:300]),
    )
    return session_id, cur.fetchone()


def alive(cur, session_id: str, idle_seconds: float) -> dict | None:
    """The live session with this id, its use noted; None when unknown,
    revoked, past its absolute expiry or idle too long."""
    cur.execute(
        "SELECT * FROM web_sessions WHERE id_hash = %s AND revoked_at IS NULL AND expires_at > now()"
        " AND last_seen_at > now() - make_interval(secs => %s)",
        (id_hash(session_id), idle_seconds),
    )
    row = cur.fetchone()
    if row is not None:
        cur.execute(
            "UPDATE web_sessions SET last_seen_at = now() WHERE id_hash = %s"
            " AND last_seen_at < now() - make_interval(secs => %s)",
            (row["id_hash"], SEEN_EVERY_SECONDS),
        )
    return row


def revoke(cur, session_id: str) -> bool:
    cur.execute("UPDATE web_sessions SET revoked_at = now() WHERE id_hash = %s AND revoked_at IS NULL",
                (id_hash(session_id),))
    return cur.rowcount == 1


def revoke_all_of(cur, user_id) -> int:
    """Logs the person out everywhere (a password change, a removal)."""
    cur.execute("UPDATE web_sessions SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL", (user_id,))
    return cur.rowcount


def forget_ended(cur, user_id) -> int:
    """Deletes the person's sessions that can no longer be used (done at each login)."""
    cur.execute("DELETE FROM web_sessions WHERE user_id = %s AND (revoked_at IS NOT NULL OR expires_at <= now())",
                (user_id,))
    return cur.rowcount
