"""WhatsApp addresses (JIDs) and phone numbers, as Evolution and people write them."""
from __future__ import annotations

import re

import phonenumbers

_PHONE_JID = re.compile(r"^\+?(\d{6,20})(?:@s\.whatsapp\.net|@c\.us)?$")


def number_for(chat_id: str) -> str:
    """What Evolution's sendText wants: the digits of a phone JID, else the JID."""
    local, _, server = chat_id.partition("@")
    return local if server == "s.whatsapp.net" else chat_id


def phone_number(value) -> str | None:
    """The digits to send to, from a phone JID or a number; None for a @lid
    (sending to a LID fails on some Evolution versions) or anything else."""
    if not isinstance(value, str):
        return None
    match = _PHONE_JID.match(value.strip().replace(" ", "").replace("-", ""))
    return match.group(1) if match else None


def chat_jid(value: str | None) -> str | None:
    """A chat as a person types it: the JID, or just the phone number."""
    if not value:
        return None
    value = value.strip()
    return value if "@" in value else value.lstrip("+") + "@s.whatsapp.net"


def chat_from_text(value: str) -> str:
    """A chat as a person types it into a filter (?chat_id=, ?number=): a JID
    as it is (5511987654321@s.whatsapp.net, 120363...@g.us, ...@lid), or a
    phone number in any common international format (+55 11 98765-4321,
    5511987654321, +1 (415) 555-0100), read by Google's libphonenumber
    (`phonenumbers`) and made the JID WhatsApp gives that number. The
    country code is needed (a chat has no country of its own to assume).
    ValueError when it is neither."""
    value = value.strip()
    if "@" in value:
        local, _, server = value.partition("@")
        if not local or not server or any(c.isspace() for c in value):
            raise ValueError("must be a WhatsApp JID or a phone number with its country code")
        return value
    digits = value if value.startswith("+") else "+" + value
    try:
        number = phonenumbers.parse(digits, None)
    except phonenumbers.NumberParseException:
        raise ValueError("must be a phone number with its country code (+55 11 98765-4321) "
                         "or a WhatsApp JID") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError("is not a possible phone number (give it with its country code)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+") + "@s.whatsapp.net"
