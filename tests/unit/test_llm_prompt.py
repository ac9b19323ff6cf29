"""The system prompt's variables and the conversation's shape, as pure functions."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from python_services.llm.history import build_conversation
from python_services.llm.prompt import (HANDOFF_MARKER, HUMAN_PREFIX, build_system_prompt, prompt_variables,
                                        render_template)

NOW = datetime(2025, 3, 4, 17, 5, tzinfo=timezone.utc)


def variables(tz="America/Sao_Paulo"):
    return prompt_variables(business_name="Acme", customer_name="Ana", timezone_name=tz, now=NOW)


def test_time_variables_are_in_the_tenants_time_zone():
    v = variables()
    assert (v["date"], v["time"], v["weekday"]) == ("2025-03-04", "14:05", "Tuesday")
    assert v["now"] == "Tuesday, 2025-03-04 14:05 (America/Sao_Paulo)"


def test_an_unknown_time_zone_falls_back_to_utc():
    assert variables("Mars/Olympus")["time"] == "17:05"


@pytest.mark.parametrize("template, rendered", [
    ("Hi {customer_name}, this is {business_name}.", "Hi Ana, this is Acme."),
    ("Today is {date} at {time}", "Today is 2025-03-04 at 14:05"),
    ("{{ business_name }} and {{customer_name}}", "Acme and Ana"),
    ("Stray { brace and } more {", "Stray { brace and } more {"),
    ('Answer as JSON: {"ok": true}', 'Answer as JSON: {"ok": true}'),
    ("{unknown} {0} {} {business_name.upper}", "{unknown} {0} {} {business_name.upper}"),
    ("", ""),
])
def test_the_template_fills_known_variables_and_never_crashes_on_braces(template, rendered):
    assert render_template(template, variables()) == rendered


def test_every_system_prompt_ends_with_the_rules_about_the_marker_and_the_team():
    system = build_system_prompt("Be nice at {business_name}.", variables(), 500)
    assert system.startswith("Be nice at Acme.\n\n")
    assert HANDOFF_MARKER in system and HUMAN_PREFIX in system and "500 characters" in system


def row(author, text):
    return {"author": author, "text": text}


def test_the_conversation_alternates_and_starts_with_the_customer():
    history = [row("bot", "welcome"), row("customer", "a"), row("customer", "b"), row("bot", "c"),
               row("business", "d")]
    assert build_conversation(history, ["e", "f"], window=10) == [
        {"role": "user", "content": "a\nb"},
        {"role": "assistant", "content": f"c\n{HUMAN_PREFIX} d"},
        {"role": "user", "content": "e\nf"},
    ]


def test_the_window_keeps_the_newest_messages():
    history = [row("customer", str(n)) if n % 2 else row("bot", str(n)) for n in range(1, 11)]
    conversation = build_conversation(history, ["new"], window=3)
    assert conversation == [{"role": "user", "content": "9"}, {"role": "assistant", "content": "10"},
                            {"role": "user", "content": "new"}]
