"""Console pages under load: the inbox of a tenant with 1,000 chats and the
page of a chat with 2,000 events, rendered by the console app (its views,
queries and templates; no browser). Prints figures; asserts nothing.

    python -m bench.console_pages [--rounds 20]

On a database of its own (TEST_DATABASE_URL's or DATABASE_URL's server,
migrated, dropped at the end): one tenant, 1,000 chats in every state
(each with a customer message and its event), one of them with 2,000 events
(every decision, half carrying a message, with the bot's replies and some
cancelled replies among them), and an owner who logs in. Each page is asked
`rounds` times after a warm-up; the figures are milliseconds per request
through Flask's test client (the view, its queries, the template)."""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import psycopg2
import psycopg2.extras

from bench.login_timing import scratch_database
from python_services.common.db import close_pool
from python_services.console.app import create_app
from python_services.core import accounts

CHATS = 1000
EVENTS = 2000
PASSWORD = "a console bench password"
# a Fernet key for this run's database only (no secret is stored in it)
SECRET_KEYS = "YmVuY2gtY29uc29sZS1wYWdlcy1hcHBsaWNhdGlvbiE="

SEED = """
INSERT INTO tenants (instance_name, business_name, webhook_secret_hash)
VALUES ('bench-console', 'Bench Shop', repeat('a', 64)) RETURNING id;
"""
SEED_CHATS = """
INSERT INTO sessions (tenant_id, chat_id, customer_name, paused, pause_reason, paused_until, paused_by, paused_at,
                      updated_at)
SELECT %(tenant)s, (5511900000000 + n)::text || '@s.whatsapp.net', 'Customer ' || n,
       n %% 4 <> 0,
       (ARRAY[NULL, 'human_takeover', 'customer_request', 'owner_command'])[n %% 4 + 1],
       CASE WHEN n %% 4 = 1 THEN now() + interval '2 hours' END,
       CASE WHEN n %% 4 <> 0 THEN 'the owner''s phone' END,
       CASE WHEN n %% 4 <> 0 THEN now() END,
       now() - n * interval '1 minute'
  FROM generate_series(1, %(chats)s) n;
INSERT INTO messages (tenant_id, session_id, chat_id, wa_message_id, author, message_type, text, sent_at)
SELECT tenant_id, id, chat_id, 'WA-' || chat_id, 'customer', 'conversation', 'hello, do you deliver?', updated_at
  FROM sessions WHERE tenant_id = %(tenant)s;
INSERT INTO events (tenant_id, event_type, chat_id, wa_message_id, from_me, author, decision, reason, message_id,
                    received_at)
SELECT tenant_id, 'messages.upsert', chat_id, wa_message_id, false, 'customer', 'reply',
       'customer message in an active chat', id, sent_at
  FROM messages WHERE tenant_id = %(tenant)s;
"""
# the long chat: the first one's, every decision in turn, half with a message
SEED_LONG_CHAT = """
WITH chat AS (SELECT id, chat_id FROM sessions WHERE tenant_id = %(tenant)s ORDER BY updated_at DESC LIMIT 1),
     made AS (
       INSERT INTO messages (tenant_id, session_id, chat_id, wa_message_id, author, message_type, text, sent_at)
       SELECT %(tenant)s, chat.id, chat.chat_id, 'LONG-' || n, CASE WHEN n %% 3 = 0 THEN 'business' ELSE 'customer' END,
              'conversation', 'message number ' || n, now() - (%(events)s - n) * interval '10 seconds'
         FROM chat, generate_series(1, %(events)s, 2) n
       RETURNING id, chat_id, sent_at, wa_message_id)
INSERT INTO events (tenant_id, event_type, chat_id, wa_message_id, author, decision, reason, message_id, received_at)
SELECT %(tenant)s, 'messages.upsert', chat_id, wa_message_id, 'customer',
       (ARRAY['reply', 'duplicate', 'human_takeover', 'paused', 'ignore'])[(substr(wa_message_id, 6)::int / 2) %% 5 + 1],
       'a person wrote; bot paused until ' || to_char(sent_at + interval '2 hours', 'YYYY-MM-DD"T"HH24:MI:SS+00:00'),
       id, sent_at
  FROM made;
INSERT INTO events (tenant_id, event_type, chat_id, author, decision, reason, actor, received_at)
SELECT %(tenant)s, 'hybridflow.chat_paused', chat.chat_id, 'system', 'command', 'paused by user ana@example.com',
       'user ana@example.com', now() - (%(events)s - n) * interval '10 seconds'
  FROM (SELECT chat_id FROM sessions WHERE tenant_id = %(tenant)s ORDER BY updated_at DESC LIMIT 1) chat,
       generate_series(2, %(events)s, 2) n;
INSERT INTO messages (tenant_id, session_id, chat_id, wa_message_id, author, message_type, text, sent_at)
SELECT %(tenant)s, chat.id, chat.chat_id, 'BOT-' || n, 'bot', 'conversation', 'the bot answers ' || n,
       now() - (%(events)s - n) * interval '10 seconds' + interval '3 seconds'
  FROM (SELECT id, chat_id FROM sessions WHERE tenant_id = %(tenant)s ORDER BY updated_at DESC LIMIT 1) chat,
       generate_series(1, %(events)s, 10) n;
INSERT INTO reply_tokens (tenant_id, session_id, chat_id, state, reason, deadline_at, finished_at, created_at)
SELECT %(tenant)s, chat.id, chat.chat_id, 'cancelled', 'human_takeover', now(),
       now() - (%(events)s - n) * interval '10 seconds' + interval '5 seconds',
       now() - (%(events)s - n) * interval '10 seconds'
  FROM (SELECT id, chat_id FROM sessions WHERE tenant_id = %(tenant)s ORDER BY updated_at DESC LIMIT 1) chat,
       generate_series(1, %(events)s, 25) n;
ANALYZE;
"""


def seed(url: str) -> tuple[str, str]:
    """(tenant id, the long chat's session id), with an owner to log in as."""
    conn = psycopg2.connect(url, cursor_factory=psycopg2.extras.RealDictCursor)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(SEED)
            tenant = cur.fetchone()["id"]
            params = {"tenant": tenant, "chats": CHATS, "events": EVENTS}
            cur.execute(SEED_CHATS, params)
            cur.execute(SEED_LONG_CHAT, params)
            cur.execute("SELECT id FROM sessions WHERE tenant_id = %s ORDER BY updated_at DESC LIMIT 1", (tenant,))
            long_chat = cur.fetchone()["id"]
            accounts.add_member(cur, tenant, "owner@bench.example", PASSWORD, "owner")
    finally:
        conn.close()
    return str(tenant), str(long_chat)


def timed(client, path: str, rounds: int, headers=None) -> list[float]:
    client.get(path, headers=headers)  # warm-up: templates compiled, the pool opened
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        resp = client.get(path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        if resp.status_code != 200:
            raise SystemExit(f"{path} answered {resp.status_code}")
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    htmx = {"HX-Request": "true"}
    with scratch_database("hf_bench_console") as url:
        tenant, long_chat = seed(url)
        app = create_app({"database_url": url, "HYBRIDFLOW_SECRET_KEYS": SECRET_KEYS, "service_token": "bench",
                          "CONSOLE_SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                          "LOG_LEVEL": "WARNING"})
        try:
            client = app.test_client()
            client.post("/console/login", data={"email": "owner@bench.example", "password": PASSWORD})
            inbox, chat = f"/console/t/{tenant}/inbox", f"/console/t/{tenant}/chats/{long_chat}"
            pages = [
                ("inbox, first page (50 of 1,000 chats)", inbox, None),
                ("inbox, page 20", inbox + "?page=20", None),
                ("inbox, state=paused", inbox + "?state=paused", None),
                ("inbox, search by number", inbox + "?q=%2B55+11+90000-0500", None),
                ("inbox, search by name", inbox + "?q=customer+99", None),
                ("inbox, the polled fragment", inbox + "/rows", htmx),
                ("chat of 2,000 events, newest page", chat, None),
                ("chat, the polled timeline", chat + "/timeline", htmx),
                ("chat, the polled state", chat + "/state", htmx),
            ]
            results = [(label, timed(client, path, args.rounds, headers)) for label, path, headers in pages]
            older = client.get(chat).get_data(as_text=True).split('?before=')[1].split('"')[0]
            results.append(("chat, an older page", timed(client, f"{chat}?before={older}", args.rounds)))
        finally:
            close_pool(app)
    print(f"console pages, {CHATS} chats and a chat of {EVENTS} events, {args.rounds} rounds each "
          "(ms: median, p90, max)")
    for label, times in results:
        p90 = statistics.quantiles(times, n=10, method="inclusive")[-1]
        print(f"  {label:<40} {statistics.median(times):7.1f} {p90:7.1f} {max(times):7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
