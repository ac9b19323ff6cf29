"""Every query on `users`: a person who logs in to the console, by e-mail
(stored lower-cased) and a password hash (core/accounts.py makes and checks
it; nothing here ever sees a password)."""
from __future__ import annotations

# what is shown of a person: never the hash
SHOWN = "id, email, password_changed_at, last_login_at, created_at, updated_at"


def normal_email(email: str) -> str:
    """How an e-mail is stored and compared: trimmed, lower-cased."""
    return email.strip().lower()


def by_email(cur, email: str) -> dict | None:
    """The person with this e-mail, with the password hash (for checking it only)."""
    cur.execute("SELECT * FROM users WHERE email = %s", (normal_email(email),))
    return cur.fetchone()


def by_id(cur, user_id) -> dict | None:
    cur.execute(f"SELECT {SHOWN} FROM users WHERE id = %s", (user_id,))
    return cur.fetchone()


def insert(cur, email: str, password_hash: str) -> dict | None:
    """The new person, or None when the e-mail is taken."""
    cur.execute(
        f"INSERT INTO users (email, password_hash) VALUES (%s, %s) ON CONFLICT (email) DO NOTHING RETURNING {SHOWN}",
        (normal_email(email), password_hash),
    )
    return cur.fetchone()


def set_password_hash(cur, user_id, password_hash: str) -> dict | None:
    cur.execute(
        "UPDATE users SET password_hash = %s, password_changed_at = now(), updated_at = now() WHERE id = %s"
        f" RETURNING {SHOWN}",
        (password_hash, user_id),
    )
    return cur.fetchone()


def mark_logged_in(cur, user_id) -> None:
    cur.execute("UPDATE users SET last_login_at = now() WHERE id = %s", (user_id,))


def delete(cur, user_id) -> bool:
    """Removes the person (their memberships and console sessions go with them)."""
    cur.execute("DELETE FROM users WHERE id = %s", (user_id,))
    return cur.rowcount == 1
