"""The sandbox's test knobs: how its fake Evolution misbehaves on purpose
(slow or failing sends, an echo before or after the answer, webhooks
delivered twice, numbers not on WhatsApp), their defaults, and the check of
a value a test sets through POST /sandbox/knobs. The state that holds them
is state.py's."""
from __future__ import annotations

import re

ECHO_MODES = ("async", "before", "after", "none")
BOT_ECHO_EVENTS = ("send.message", "messages.upsert")

DEFAULT_KNOBS = {
    # milliseconds every sendText waits before answering
    "send_delay_ms": 0,
    # the next N sendText calls answer fail_status (Evolution's error shape)
    "fail_next_sends": 0,
    "fail_status": 500,
    # the next N sendText calls send the message (it reaches the phone, its
    # echo goes out) and then answer fail_status: a failure after sending
    "fail_next_after_sending": 0,
    # every sendText sends at once and holds its answer this long (the message
    # is on the phone while the client may have given up waiting)
    "answer_delay_ms": 0,
    # POST /chat/findMessages answers 500 (Evolution cannot say what it sent)
    "fail_find_messages": False,
    # when the bot's own send comes back as a webhook: "async" (a background
    # thread, racing the answer, as a real server does), "before" the answer,
    # "after" the answer has gone out, or "none"
    "echo": "async",
    # how that echo is reported: "send.message" (v2.3) or "messages.upsert"
    # with fromMe true (Evolution 2.2)
    "bot_echo_event": "send.message",
    # every webhook delivered twice (Evolution retrying a delivery)
    "duplicate_webhooks": False,
    # numbers sendText/sendPresence answer 400 exists:false for
    "not_on_whatsapp": [],
    # at random: this share of sendText calls answer fail_status (0.0-1.0) ...
    "fail_ratio": 0.0,
    # ... and this share of the others wait stall_ms before answering
    "stall_ratio": 0.0,
    "stall_ms": 0,
}
RATIO_KNOBS = ("fail_ratio", "stall_ratio")


class KnobError(ValueError):
    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


def check_knob(name, value):
    """The value to store for knob `name` (numbers from the allowed range,
    digits only for phone numbers), or KnobError naming the knob."""
    if name in ("send_delay_ms", "fail_next_sends", "stall_ms", "fail_next_after_sending", "answer_delay_ms"):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 600_000:
            raise KnobError(name, f"{name} must be a whole number from 0 to 600000")
    elif name in RATIO_KNOBS:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise KnobError(name, f"{name} must be a number from 0 to 1")
        value = float(value)
    elif name == "fail_status":
        if isinstance(value, bool) or not isinstance(value, int) or not 400 <= value <= 599:
            raise KnobError(name, "fail_status must be an HTTP error status (400-599)")
    elif name == "echo":
        if value not in ECHO_MODES:
            raise KnobError(name, f"echo must be one of {', '.join(ECHO_MODES)}")
    elif name == "bot_echo_event":
        if value not in BOT_ECHO_EVENTS:
            raise KnobError(name, f"bot_echo_event must be one of {', '.join(BOT_ECHO_EVENTS)}")
    elif name in ("duplicate_webhooks", "fail_find_messages"):
        if not isinstance(value, bool):
            raise KnobError(name, f"{name} must be true or false")
    elif name == "not_on_whatsapp":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise KnobError(name, "not_on_whatsapp must be a list of numbers (strings)")
        value = [re.sub(r"\D", "", v) for v in value]
    else:
        raise KnobError(name, f"{name} is not a knob (known: {', '.join(DEFAULT_KNOBS)})")
    return value
