"""The prune flow on a real n8n: every minute it asks the collision service to
delete what is older than each tenant's retention_days; what is newer stays."""
from __future__ import annotations

import pytest

from .helpers import new_chat, wait_for

pytestmark = pytest.mark.flow


def age_chat(stack, chat, days: int) -> None:
    """Moves everything of the chat so far `days` into the past."""
    ago = f"now() - interval '{days} days'"
    with stack.db() as conn, conn.cursor() as cur:
        for table, column in (("events", "received_at"), ("messages", "created_at"), ("reply_tokens", "created_at"),
                              ("outbound", "claimed_at")):
            cur.execute(f"UPDATE {table} SET {column} = {ago} WHERE tenant_id = %s AND chat_id = %s",
                        (chat.tenant["id"], chat.chat_id))


def rows_of(chat, table: str, column: str, older: bool) -> int:
    return chat.query(f"SELECT count(*) AS n FROM {table} WHERE tenant_id = %s AND chat_id = %s"
                      f" AND {column} {'<' if older else '>='} now() - interval '1 day'",
                      chat.tenant["id"], chat.chat_id)[0]["n"]


def test_the_prune_flow_deletes_what_is_older_than_retention_days_and_keeps_what_is_newer(flow_stack):
    chat = new_chat(flow_stack, settings={"retention_days": 1})
    chat.customer_says("an old question")
    chat.wait_for_bot_replies(1)
    wait_for("the old reply is recorded as sent", chat.all_tokens_ended)
    age_chat(flow_stack, chat, 2)
    old = {t: rows_of(chat, t, c, older=True) for t, c in (("events", "received_at"), ("messages", "created_at"))}
    assert all(old.values()), old

    chat.customer_says("a new question")
    chat.wait_for_bot_replies(2)

    # the prune flow runs every minute
    wait_for("the prune flow deleted the old rows",
             lambda: rows_of(chat, "events", "received_at", True) == 0
             and rows_of(chat, "messages", "created_at", True) == 0
             and rows_of(chat, "reply_tokens", "created_at", True) == 0,
             timeout=100, interval=2)
    assert rows_of(chat, "events", "received_at", False) > 0
    assert [m["text"] for m in chat.query("SELECT text FROM messages WHERE tenant_id = %s AND chat_id = %s"
                                          " AND author = 'customer'", chat.tenant["id"], chat.chat_id)] \
        == ["a new question"]
    assert chat.query("SELECT count(*) AS n FROM flow_errors WHERE workflow_id = 'hfPruneOldData01'")[0]["n"] == 0
