"""The conversation the model sees: the chat's last messages in both
directions from Postgres, then the burst of customer messages the reply
token gathered, as alternating user / assistant turns."""
from __future__ import annotations

from .prompt import HUMAN_PREFIX

ROLE_OF_AUTHOR = {"customer": "user", "bot": "assistant", "business": "assistant"}


def burst_lines(check: dict) -> list[str]:
    """What the customer said in the burst, oldest first; a message without
    text (a photo, a voice note) is named by its type so the model knows."""
    messages = check.get("messages")
    if messages is None:
        return [t for t in check.get("texts") or [] if t and t.strip()]
    return [(m.get("text") or "").strip() or f"[{m.get('type') or 'message'} without text]" for m in messages]


def turn_text(row: dict) -> str:
    text = (row["text"] or "").strip()
    return f"{HUMAN_PREFIX} {text}" if row["author"] == "business" else text


def build_conversation(history: list[dict], burst: list[str], window: int) -> list[dict]:
    """[{"role": "user"|"assistant", "content": str}, ...]: at most `window`
    earlier messages, then the burst as one user turn. Consecutive turns of
    one role are merged (both APIs want the roles to alternate) and the
    conversation starts with the customer (the Messages API requires it)."""
    earlier = history[-window:] if window > 0 else []
    turns: list[tuple[str, str]] = [(ROLE_OF_AUTHOR[row["author"]], turn_text(row)) for row in earlier]
    texts = [t.strip() for t in burst if t and t.strip()]
    if texts:
        turns.append(("user", "\n".join(texts)))
    merged: list[dict] = []
    for role, content in turns:
        if merged and merged[-1]["role"] == role:
            merged[-1]["content"] += "\n" + content
        else:
            merged.append({"role": role, "content": content})
    while merged and merged[0]["role"] != "user":
        merged.pop(0)
    return merged

