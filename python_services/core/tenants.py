"""Every query on `tenants`. A tenant is one business: its Evolution
instance, its webhook secret's hash, its prompt, provider and settings.

Its Evolution API key and its own LLM key (settings.llm_api_key) are stored
encrypted (core/secrets_at_rest.py): sealed here on every write, opened here
on every read, so the rest of the code sees plain values only."""
from __future__ import annotations

import re

import psycopg2.extras

from .secrets_at_rest import Keyring, keyring

# how Evolution names an instance (and so do we: it selects the tenant)
INSTANCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")


def valid_instance_name(value) -> bool:
    return isinstance(value, str) and INSTANCE_NAME.match(value) is not None


# ---------------------------------------------------------------- secrets at rest


def _opened(row: dict | None) -> dict | None:
    """A row as the code sees it: its secrets decrypted."""
    if row is None:
        return None
    ring = keyring()
    what = f"tenant {row['instance_name']!r}"
    if "evo_api_key" in row:
        row["evo_api_key"] = ring.open(row["evo_api_key"], f"the Evolution API key of {what}")
    settings = row.get("settings")
    if isinstance(settings, dict) and isinstance(settings.get("llm_api_key"), str):
        row["settings"] = {**settings, "llm_api_key": ring.open(settings["llm_api_key"],
                                                                f"settings.llm_api_key of {what}")}
    return row


def _sealed(name: str, value, ring: Keyring):
    """A column's value as stored: the secrets encrypted."""
    if name == "evo_api_key" and isinstance(value, str):
        return ring.seal(value)
    if name == "settings":
        if isinstance(value, dict) and isinstance(value.get("llm_api_key"), str):
            value = {**value, "llm_api_key": ring.seal(value["llm_api_key"])}
        return psycopg2.extras.Json(value)
    return value


def seal_stored_secrets(cur, ring: Keyring) -> int:
    """Seals every stored secret with the first application key: plain
    (legacy) values and values sealed with an older key. Idempotent, and safe
    while another process does the same (each update only applies over the
    value it read). Returns how many values it changed; a value no key opens
    raises UnreadableSecret."""
    cur.execute(
        "SELECT id, instance_name, evo_api_key, settings->>'llm_api_key' AS llm_api_key FROM tenants"
        " WHERE evo_api_key <> '' OR coalesce(settings->>'llm_api_key', '') <> '' ORDER BY id"
    )
    changed = 0
    for row in cur.fetchall():
        what = f"tenant {row['instance_name']!r}"
        evo = ring.reseal(row["evo_api_key"], f"the Evolution API key of {what}")
        if evo is not None:
            cur.execute("UPDATE tenants SET evo_api_key = %s WHERE id = %s AND evo_api_key = %s",
                        (evo, row["id"], row["evo_api_key"]))
            changed += cur.rowcount
        llm = ring.reseal(row["llm_api_key"], f"settings.llm_api_key of {what}")
        if llm is not None:
            cur.execute(
                "UPDATE tenants SET settings = jsonb_set(settings, '{llm_api_key}', to_jsonb(%s::text))"
                " WHERE id = %s AND settings->>'llm_api_key' = %s",
                (llm, row["id"], row["llm_api_key"]),
            )
            changed += cur.rowcount
    return changed


# ---------------------------------------------------------------- queries


def by_instance(cur, instance: str) -> dict | None:
    cur.execute("SELECT * FROM tenants WHERE instance_name = %s", (instance,))
    return _opened(cur.fetchone())


def by_id(cur, tenant_id, *, lock: bool = False) -> dict | None:
    cur.execute("SELECT * FROM tenants WHERE id = %s" + (" FOR UPDATE" if lock else ""), (tenant_id,))
    return _opened(cur.fetchone())


def all_tenants(cur) -> list[dict]:
    cur.execute("SELECT * FROM tenants ORDER BY created_at, instance_name")
    return [_opened(row) for row in cur.fetchall()]


def instance_name_of(cur, tenant_id) -> str:
    cur.execute("SELECT instance_name FROM tenants WHERE id = %s", (tenant_id,))
    return cur.fetchone()["instance_name"]


def insert(cur, fields: dict, settings: dict, secret_hash: str) -> dict:
    ring = keyring()
    cols = [*fields, "settings", "webhook_secret_hash"]
    cur.execute(
        f"INSERT INTO tenants ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) RETURNING *",
        [*(_sealed(name, v, ring) for name, v in fields.items()), _sealed("settings", settings, ring), secret_hash],
    )
    return _opened(cur.fetchone())


def update(cur, tenant_id, changes: dict) -> dict:
    """Sets the given columns (names come from the validated field list, never from a client)."""
    ring = keyring()
    assigns = ", ".join(f"{name} = %s" for name in changes)
    values = [_sealed(name, v, ring) for name, v in changes.items()]
    cur.execute(f"UPDATE tenants SET {assigns}, updated_at = now() WHERE id = %s RETURNING *", [*values, tenant_id])
    return _opened(cur.fetchone())


def rotate_webhook_secret(cur, tenant_id, new_hash: str, *, replacing: str | None = None) -> dict | None:
    """The new secret's hash becomes current; the one it replaces stays
    accepted for the tenant's grace period, counted from now. With
    `replacing`, only while that hash is still the current one (None if not)."""
    cur.execute(
        "UPDATE tenants SET previous_webhook_secret_hash = webhook_secret_hash, webhook_secret_hash = %s,"
        " webhook_secret_rotated_at = now(), updated_at = now()"
        " WHERE id = %s AND (%s::text IS NULL OR webhook_secret_hash = %s) RETURNING *",
        (new_hash, tenant_id, replacing, replacing),
    )
    return _opened(cur.fetchone())


def retention_settings(cur) -> list[dict]:
    """Every tenant's id with its own retention_days (None: the default)."""
    cur.execute("SELECT id, settings->'retention_days' AS retention_days FROM tenants ORDER BY id")
    return cur.fetchall()
