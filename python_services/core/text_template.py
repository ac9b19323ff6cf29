"""Texts a tenant writes with variables in them (the system prompt, the away
message, the team's notifications): {name} or {{ name }} filled in for the
known names; anything else in braces (JSON examples, stray braces) stays as
written, so a template never fails to render."""
from __future__ import annotations

import re

# {name} or {{ name }}
_VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}|\{(\w+)\}")


def render_template(template: str, values: dict) -> str:
    """Fills {name} and {{name}} for the names in `values`; never raises on
    other braces, which stay as written."""

    def fill(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name in values:
            return str(values[name])
        return match.group(0)

    return _VARIABLE.sub(fill, template or "")
