"""Keys that must fit the data they encrypted, and what `make up` says when
they do not.

n8n encrypts its own keys and the credentials in its database with
N8N_ENCRYPTION_KEY; the collision service encrypts tenants' API keys in
HybridFlow's database with HYBRIDFLOW_SECRET_KEYS. Both are generated into
.env by the first `make up`. A second checkout on the same machine (same
Postgres, same database names) or a lost .env brings new keys to old data,
and n8n dies at start with a stack trace ("Deployment key 'signing.hmac'
cannot be read with this instance encryption key"), the collision service
with another ("UnreadableSecret").

Chosen for n8n: `make up` writes a fingerprint of the key it started n8n
with into the database's comment (COMMENT ON DATABASE: no table of ours
inside n8n's schema, nothing to migrate) and compares it before anything
starts, so the mismatch is found before anything happens and explained in
one paragraph; n8n's settings file (which keeps the key it first ran with)
is compared too. Naming the databases per checkout was not chosen: it would
not help a lost .env, would leave databases behind for every clone, and
would move the databases people know by name. A database made before the
fingerprint existed (or by docker compose) has none: for it, and for the
collision service's keys (which rotate: several may be valid at once), the
words come from the process's own message when it dies at start."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import psycopg2

from . import postgres
from .progress import StepFailed, log

KEY_MARKER = "hybridflow: made by n8n with the encryption key whose fingerprint is "
# what n8n says when the key does not fit its database, or its settings file
N8N_MISMATCH_SIGNS = ("cannot be read with this instance encryption key", "Mismatching encryption keys")
# what the collision service dies of when no key in HYBRIDFLOW_SECRET_KEYS opens a stored secret
# (python_services/core/secrets_at_rest.py)
SECRETS_MISMATCH_SIGNS = ("UnreadableSecret",)


class KeyMismatch(StepFailed):
    """Data made with another key; the message says in words what to run."""


def key_fingerprint(key: str) -> str:
    """One-way, so it can sit beside the data the key protects."""
    return hashlib.sha256(f"hybridflow n8n encryption key:{key}".encode()).hexdigest()[:16]


def key_marker(key: str) -> str:
    return KEY_MARKER + key_fingerprint(key)


def settings_file(user_folder: Path) -> Path:
    """n8n's settings file, which keeps the key n8n first ran with in this folder."""
    return user_folder / ".n8n" / "config"


def settings_file_key(user_folder: Path) -> str | None:
    try:
        return json.loads(settings_file(user_folder).read_text()).get("encryptionKey")
    except (FileNotFoundError, ValueError, AttributeError):
        return None


def key_mismatch(key: str, database_comment: str | None, settings_key: str | None) -> str | None:
    """Which of n8n's own stores holds data made with another key: "database",
    "settings file", or None when neither is known to differ (a database with
    no fingerprint of ours is not judged here)."""
    if database_comment and database_comment.startswith(KEY_MARKER) and database_comment != key_marker(key):
        return "database"
    if settings_key is not None and settings_key != key:
        return "settings file"
    return None


def shows_n8n_key_mismatch(output: str) -> bool:
    """True when n8n's output says its key does not fit."""
    return any(sign in output for sign in N8N_MISMATCH_SIGNS)


def shows_secrets_key_mismatch(output: str) -> bool:
    """True when a service's output says no HYBRIDFLOW_SECRET_KEYS key opens a stored secret."""
    return any(sign in output for sign in SECRETS_MISMATCH_SIGNS)


def where_is(what: str, server_url: str, database: str) -> str:
    """A database for a message: what it is, its name and server, never the password."""
    srv = postgres.urlsplit(server_url)
    return f"{what} {database!r} on {srv.hostname or '127.0.0.1'}:{srv.port or 5432}"


def explain_n8n_key_mismatch(found_in: str, env_file: Path) -> str:
    """One paragraph in plain words: what happened and exactly what to run."""
    return (
        f"n8n cannot start: {found_in} was made with another N8N_ENCRYPTION_KEY than the one in {env_file}. "
        "This happens when a second checkout of HybridFlow on this machine uses the same databases, or when "
        ".env was lost and `make up` generated new keys. If you still have the old .env (the other "
        "checkout's, or a backup), copy the lines `make up` generated there (N8N_ENCRYPTION_KEY and "
        f"HYBRIDFLOW_SECRET_KEYS among them) into {env_file} in place of the new ones and run `make up` again: "
        "nothing is lost. Otherwise run `make reset-n8n`, then `make up`: that empties n8n's own database and "
        "folder (its execution history, its editor accounts, and flow edits not yet saved to git with "
        "`make flows-export`); the flows and credentials come back from git and .env, and HybridFlow's own "
        "data (tenants, chats, messages) is not touched. To run two checkouts side by side instead, give each "
        "its own DATABASE_URL and N8N_DB_NAME in .env."
    )


def explain_secrets_key_mismatch(found_in: str, env_file: Path) -> str:
    """One paragraph in plain words: what happened and exactly what to run."""
    return (
        f"The collision service cannot start: {found_in} holds tenants' API keys encrypted with another "
        f"HYBRIDFLOW_SECRET_KEYS than the one in {env_file}. This happens when a second checkout of "
        "HybridFlow on this machine uses the same databases, or when .env was lost and `make up` generated "
        "new keys. If you still have the old .env (the other checkout's, or a backup), copy the lines "
        "`make up` generated there (HYBRIDFLOW_SECRET_KEYS and N8N_ENCRYPTION_KEY among them) into "
        f"{env_file} in place of the new ones and run `make up` again: nothing is lost. To run two checkouts "
        "side by side instead, give this one its own DATABASE_URL and N8N_DB_NAME in .env (new, empty "
        "databases) and run `make up` again. Without the old key, the tenants' API keys stored there cannot "
        "be decrypted by anyone: start on new databases as just said."
    )


def n8n_key_problem(key: str, server_url: str, database: str, user_folder: Path, env_file: Path) -> str | None:
    """The paragraph to show when n8n's database or folder was made with another key, else None."""
    found = key_mismatch(key, postgres.database_comment(server_url, database), settings_file_key(user_folder))
    if found == "database":
        return explain_n8n_key_mismatch(where_is("n8n's database", server_url, database), env_file)
    if found == "settings file":
        return explain_n8n_key_mismatch(f"n8n's settings file {settings_file(user_folder)}", env_file)
    return None


def remember_n8n_key(key: str, server_url: str, database: str) -> None:
    """n8n started with this key: its fingerprint goes on the database, for the next start to compare."""
    marker = key_marker(key)
    try:
        if postgres.database_comment(server_url, database) != marker:
            postgres.set_database_comment(server_url, database, marker)
    except psycopg2.Error as err:
        # not the database's owner: a mismatch is still explained when n8n dies of it
        log(f"n8n: could not note the key's fingerprint on {database} ({type(err).__name__})")
