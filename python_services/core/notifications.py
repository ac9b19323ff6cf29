"""Every query on `notifications`: one row per event the team was told of
(the evolution service's POST /notify), with the text and what each
channel did. The event id is the key: a second call for the same event
finds it there and sends nothing again."""
from __future__ import annotations


def claim(cur, event_id, tenant_id, event: str, text: str) -> bool:
    """True for the first call about this event (it goes on to send)."""
    cur.execute("INSERT INTO notifications (event_id, tenant_id, event, text) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (event_id) DO NOTHING RETURNING event_id", (event_id, tenant_id, event, text))
    return cur.fetchone() is not None


def finish(cur, event_id, *, whatsapp: str, email: str) -> None:
    cur.execute("UPDATE notifications SET whatsapp = %s, email = %s WHERE event_id = %s",
                (whatsapp[:2000], email[:2000], event_id))


def by_event(cur, event_id) -> dict | None:
    cur.execute("SELECT * FROM notifications WHERE event_id = %s", (event_id,))
    return cur.fetchone()
