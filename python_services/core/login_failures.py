"""Every query on `login_failures`: failed console logins of the last
window, per account (a keyed hash of the e-mail typed) and per address.
Postgres is where every gunicorn worker (and every service) sees the same
counts; core/accounts.py decides when logins slow down."""
from __future__ import annotations


def lock_account(cur, account_key: str) -> None:
    """Serialises attempts on one account until the transaction ends, so
    parallel guesses cannot all slip under the limit."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 13))", (account_key,))


def recent(cur, account_key: str, address: str, window_seconds: float) -> dict:
    """How many failures the account and the address had within the window,
    and when the oldest of each (that still counts) stops counting."""
    cur.execute(
        "SELECT count(*) FILTER (WHERE account_key = %(account)s) AS account,"
        " count(*) FILTER (WHERE address = %(address)s) AS address,"
        " min(failed_at) FILTER (WHERE account_key = %(account)s) + make_interval(secs => %(window)s)"
        "   AS account_until,"
        " min(failed_at) FILTER (WHERE address = %(address)s) + make_interval(secs => %(window)s) AS address_until,"
        " now() AS now"
        " FROM login_failures WHERE (account_key = %(account)s OR address = %(address)s)"
        " AND failed_at > now() - make_interval(secs => %(window)s)",
        {"account": account_key, "address": address, "window": window_seconds},
    )
    return cur.fetchone()


def record(cur, account_key: str, address: str, window_seconds: float) -> None:
    """One more failure; failures older than the window are deleted meanwhile (a few at a time)."""
    cur.execute("INSERT INTO login_failures (account_key, address) VALUES (%s, %s)", (account_key, address))
    cur.execute(
        "DELETE FROM login_failures WHERE id IN (SELECT id FROM login_failures"
        " WHERE failed_at < now() - make_interval(secs => %s) ORDER BY failed_at LIMIT 100)",
        (window_seconds,),
    )


def forget_account(cur, account_key: str) -> None:
    """A successful login clears the account's failures (the address keeps its own)."""
    cur.execute("DELETE FROM login_failures WHERE account_key = %s", (account_key,))
