"""Changing a tenant: its columns and its settings, the way the admin API's
PATCH /api/tenants/<id> and the console's settings page both do it.

Settings merge: only the keys given change, a null puts a key back to its
default; every value is checked by core/settings.py's rules, and the
cross-field rules (typing_min_ms <= typing_max_ms) over what takes effect.
A change is a row in the tenant's timeline naming who made it and which
fields (never their values: one may be a secret); a new knowledge_language
indexes the knowledge base again."""
from __future__ import annotations

from ..common.errors import bad_request
from . import events, knowledge, tenants
from .settings import DEFAULT_SETTINGS, effective_settings, validate_settings

TENANT_CHANGED = "hybridflow.tenant_changed"


def merged_settings(stored: dict, changes) -> dict:
    """PATCH semantics for settings: given keys replace stored ones, a null
    puts a key back to its default."""
    if not isinstance(changes, dict):
        raise bad_request("settings must be a JSON object", "settings")
    for key, value in changes.items():
        if value is None and key not in DEFAULT_SETTINGS:
            raise bad_request(f"settings.{key} is not a known setting", f"settings.{key}")
    checked = validate_settings({k: v for k, v in changes.items() if v is not None})
    merged = {**stored, **checked}
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
    # cross-field rules (typing_min_ms <= typing_max_ms) hold over what takes effect
    validate_settings(effective_settings(merged))
    return merged


def changed_fields(changes: dict, settings_given: dict | None) -> list[str]:
    """The names of what a change touched, settings by key (never a value: a key may be a secret)."""
    names = [name for name in changes if name != "settings"]
    return names + [f"settings.{key}" for key in (settings_given or {})]


def change_tenant(cur, row: dict, changes: dict, settings_given: dict | None, *, actor: str) -> dict:
    """The tenant `row` (read FOR UPDATE in this transaction) with `changes`
    (checked column values) and `settings_given` (keys to merge; None: the
    settings stay) applied and recorded; the row unchanged when nothing is given."""
    changes = dict(changes)
    if settings_given is not None:
        changes["settings"] = merged_settings(row["settings"], settings_given)
    if not changes:
        return row
    before = effective_settings(row["settings"])["knowledge_language"]
    row = tenants.update(cur, row["id"], changes)
    # the knowledge base is indexed in its language: a new one indexes it again
    language = effective_settings(row["settings"])["knowledge_language"]
    if language != before:
        knowledge.apply_language(cur, row["id"], language)
    events.record_tenant_event(
        cur, row["id"], TENANT_CHANGED,
        f"changed by {actor}: {', '.join(changed_fields(changes, settings_given)) or 'nothing'}", actor=actor)
    return row
