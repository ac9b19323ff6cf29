"""Every query on `api_tokens`: a tenant's named, role-bound API tokens.
A token is `hft_` and 43 random URL-safe characters, shown once when made;
only its sha256 is kept (it has 256 bits of randomness: a fast hash is
enough, and lets a request find its token with one indexed lookup)."""
from __future__ import annotations

import hashlib
import secrets

PREFIX = "hft_"
# last_used_at is written at most this often per token (not on every request)
LAST_USED_EVERY_SECONDS = 60
SHOWN = "id, tenant_id, name, role, prefix, created_by, created_at, last_used_at, revoked_at"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh token and its hash."""
    token = PREFIX + secrets.token_urlsafe(32)
    return token, token_hash(token)


def looks_like_token(value: str) -> bool:
    return value.startswith(PREFIX) and 20 <= len(value) <= 100


def insert(cur, tenant_id, name: str, role: str, token: str, created_by: str) -> dict | None:
    """The new token's row (never the token), or None when a live token of the tenant has that name."""
    cur.execute(
        "INSERT INTO api_tokens (tenant_id, name, role, token_hash, prefix, created_by) VALUES (%s, %s, %s, %s, %s, %s)"
        f" ON CONFLICT (tenant_id, name) WHERE revoked_at IS NULL DO NOTHING RETURNING {SHOWN}",
        (tenant_id, name, role, token_hash(token), token[: len(PREFIX) + 4], created_by),
    )
    return cur.fetchone()


def of_tenant(cur, tenant_id) -> list[dict]:
    cur.execute(f"SELECT {SHOWN} FROM api_tokens WHERE tenant_id = %s ORDER BY created_at, name", (tenant_id,))
    return cur.fetchall()


def by_id(cur, tenant_id, token_id) -> dict | None:
    cur.execute(f"SELECT {SHOWN} FROM api_tokens WHERE tenant_id = %s AND id = %s", (tenant_id, token_id))
    return cur.fetchone()


def revoke(cur, tenant_id, token_id) -> dict | None:
    """Revoked from now on (a token revoked before keeps its first revocation time)."""
    cur.execute(
        "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE tenant_id = %s AND id = %s"
        f" RETURNING {SHOWN}",
        (tenant_id, token_id),
    )
    return cur.fetchone()


def live(cur, token: str) -> dict | None:
    """The live (not revoked) token with this value, its use noted (at most
    once a minute); None for an unknown or revoked one."""
    cur.execute(f"SELECT {SHOWN} FROM api_tokens WHERE token_hash = %s AND revoked_at IS NULL", (token_hash(token),))
    row = cur.fetchone()
    if row is not None:
        cur.execute(
            "UPDATE api_tokens SET last_used_at = now() WHERE id = %s AND revoked_at IS NULL"
            " AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => %s))",
            (row["id"], LAST_USED_EVERY_SECONDS),
        )
    return row
