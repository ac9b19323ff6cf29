"""The settings form both ways: a tenant's values as the inputs show them,
and a posted form read back into the tenant's columns and the settings
that changed. Every value is checked by the same rules as the admin API
(core/settings.py's for settings, TenantChanges for the columns); errors
come back per input, in words, for the page to put next to each field."""
from __future__ import annotations

import json
import re

from ..common.errors import ApiError
from ..common.params import check_storable
from ..common.validation import validated
from ..core.api_models import TenantChanges
from ..core.hours import DAYS
from ..core.settings import SECRET_SETTINGS, effective_settings, mask_secret, validate_settings
from .settings_fields import DAY_NAMES, Field, shown_groups

_INTEGER = re.compile(r"^[+-]?\d+$")
_RANGE = re.compile(r"^(\d{1,2}:\d{2})\s*(?:-|–|to)\s*(\d{1,2}:\d{2})$")


class Invalid(ValueError):
    """A form value that cannot even be read (the rules never see it)."""


# ---------------------------------------------------------------- showing


def _number_text(value) -> str:
    if value is None:
        return ""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _hours_text(ranges) -> str:
    return ", ".join(f"{start}-{end}" for start, end in ranges)


def display_value(field: Field, value):
    """What the field's input holds for `value`."""
    widget = field.widget
    if widget == "number":
        return _number_text(value)
    if widget == "check":
        return bool(value)
    if widget == "lines":
        return "\n".join(value or [])
    if widget == "choices":
        return list(value or [])
    if widget == "texts":
        return dict(value or {})
    if widget == "hours":
        return {"always": value is None, **{day: _hours_text((value or {}).get(day, [])) for day in DAYS}}
    if widget == "json":
        return "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)
    if widget == "secret":
        return ""  # a secret is never sent back to the browser
    return "" if value is None else str(value)


def current_values(tenant: dict) -> dict:
    """Every shown field's value for the tenant (defaults filled in)."""
    settings = effective_settings(tenant["settings"])
    values = {}
    for _, _, fields in shown_groups():
        for field in fields:
            values[field.key] = display_value(field, tenant[field.key] if field.column else settings[field.key])
    return values


def posted_values(form, tenant: dict) -> dict:
    """The inputs as the person left them (shown again beside the errors;
    never a secret): a wrong value stays in its field, to be corrected."""
    values = current_values(tenant)
    for _, _, fields in shown_groups():
        for field in fields:
            key, widget = field.key, field.widget
            if widget == "check":
                values[key] = key in form
            elif widget == "choices":
                values[key] = form.getlist(key)
            elif widget == "texts":
                values[key] = {sub: form.get(f"{key}.{sub}", "") for sub in values[key]}
            elif widget == "hours":
                values[key] = {"always": f"{key}.always" in form, **{d: form.get(f"{key}.{d}", "") for d in DAYS}}
            elif widget != "secret" and key in form:
                values[key] = form[key]
    return values


def secret_hints(tenant: dict) -> dict:
    """The secrets the tenant has set, masked (****1234): "a key is set"."""
    stored = tenant["settings"] or {}
    return {key: mask_secret(stored[key]) for key in SECRET_SETTINGS if stored.get(key)}


# ---------------------------------------------------------------- reading a post


def _number(text: str, nullable: bool):
    text = text.strip().replace(",", ".") if text.count(",") == 1 and "." not in text else text.strip()
    if not text:
        if nullable:
            return None
        raise Invalid("must be a number")
    try:
        return int(text) if _INTEGER.match(text) else float(text)
    except ValueError:
        raise Invalid("must be a number") from None


def _hours(form, key: str):
    if form.get(f"{key}.always"):
        return None
    week = {}
    for day in DAYS:
        text = (form.get(f"{key}.{day}") or "").strip()
        if not text or text.lower() == "closed":
            continue
        ranges = []
        for part in text.split(","):
            match = _RANGE.match(part.strip())
            if not match:
                raise Invalid(f"{DAY_NAMES[day]}: write times like 09:00-12:00, several separated by commas")
            ranges.append([t.zfill(5) for t in match.groups()])
        week[day] = ranges
    if not week:
        raise Invalid("give the hours of at least one day, or tick \"Open around the clock\"")
    return week


def read_value(field: Field, form, current):
    """The field's posted value, typed as the setting is (Invalid when it cannot be read)."""
    key, widget = field.key, field.widget
    raw = form.get(key)
    if widget == "check":
        return raw is not None
    if widget == "number":
        return _number(raw or "", field.nullable)
    if widget == "lines":
        return [line.strip() for line in (raw or "").splitlines() if line.strip()]
    if widget == "choices":
        picked = set(form.getlist(key))
        # the ones already chosen keep their order (fallbacks are tried in it), new ones follow
        return [v for v in (current or []) if v in picked] + [v for v, _ in field.options
                                                              if v in picked and v not in (current or [])]
    if widget == "texts":
        texts = {sub: (form.get(f"{key}.{sub}") or "").replace("\r\n", "\n").strip() for sub in (current or {})}
        empty = [sub for sub, text in texts.items() if not text]
        if empty:
            raise Invalid(f"— {', '.join(empty)}: write something (every one is needed)")
        return texts
    if widget == "hours":
        return _hours(form, key)
    if widget == "json":
        if not (raw or "").strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise Invalid(f"must be JSON ({exc.msg} at line {exc.lineno})") from None
    text = (raw or "").replace("\r\n", "\n").strip()
    if field.nullable and not text:
        return None
    return text


def error_key(field_name: str | None) -> str:
    """The input an error belongs to: "settings.business_hours.mon[0]" -> "business_hours"."""
    name = (field_name or "").removeprefix("settings.")
    return re.split(r"[.\[]", name, maxsplit=1)[0]


def in_words(message: str, field: Field) -> str:
    """The rule's message with the setting's name put as the page names it."""
    for prefix in (f"settings.{field.key}", field.key):
        if message.startswith(prefix):
            rest = message[len(prefix):]
            rest = re.sub(r"^(\.[a-z]+|\[\d+\])+", "", rest)
            return f"{field.label}{rest}" if rest.startswith((" ", ":")) else message
    return message


def _secret(field: Field, form, current: str) -> str:
    """A secret's new value: typed, removed (its "remove" box), else the one it has."""
    if form.get(f"{field.key}.clear"):
        return ""
    return (form.get(field.key) or "").strip() or current


def read_form(form, tenant: dict, only: tuple[Field, ...] | None = None) -> tuple[dict, dict, dict]:
    """(column changes, settings changes, errors by input): only what differs
    from the tenant's values, each checked alone so that every wrong field
    gets its own message; a secret left empty stays as it is. `only`: the
    fields of a page that shows a few of them (the hours page)."""
    settings = effective_settings(tenant["settings"])
    columns, changes, errors = {}, {}, {}
    for _, _, fields in shown_groups() if only is None else [("", "", only)]:
        for field in fields:
            current = tenant[field.key] if field.column else settings[field.key]
            try:
                if field.widget == "secret":
                    value = _secret(field, form, current)
                else:
                    value = read_value(field, form, current)
                # what Postgres cannot store (a NUL) is refused here, never a 500 at the write
                check_storable(field.key, value)
                if field.column:
                    value = getattr(validated(TenantChanges, {field.key: value}), field.key)
                elif value is not None:
                    value = validate_settings({field.key: value})[field.key]
            except Invalid as err:
                errors[field.key] = f"{field.label} {err}"
                continue
            except ApiError as err:
                errors[error_key(err.field) or field.key] = in_words(err.message, field)
                continue
            if value != current:
                (columns if field.column else changes)[field.key] = value
    return columns, changes, errors
