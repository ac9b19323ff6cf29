"""Every query on `reply_sources`: which knowledge entries a reply was
written from, best first, with each entry's title as it was then. The llm
service records them with the generation; the timeline shows them
(GET /api/events) and the knowledge list counts them per entry. They go
with their reply token (retention)."""
from __future__ import annotations

from psycopg2.extras import execute_values


def record(cur, token_id, tenant_id, sources: list[dict]) -> None:
    """The reply's sources ([{"id", "title", "score"}], best first), in place
    of any an earlier try of the same reply recorded."""
    cur.execute("DELETE FROM reply_sources WHERE reply_token_id = %s", (token_id,))
    if sources:
        execute_values(
            cur,
            "INSERT INTO reply_sources (reply_token_id, rank, tenant_id, entry_id, title, score) VALUES %s",
            [(token_id, rank, tenant_id, s["id"], s["title"], s.get("score"))
             for rank, s in enumerate(sources, start=1)],
        )


def for_tokens(cur, token_ids: list) -> dict:
    """{reply_token_id: [{"id", "title"}, ...]} for the tokens that have sources."""
    if not token_ids:
        return {}
    cur.execute("SELECT reply_token_id, entry_id, title FROM reply_sources WHERE reply_token_id = ANY(%s::uuid[])"
                " ORDER BY reply_token_id, rank", ([str(t) for t in token_ids],))
    found: dict = {}
    for row in cur.fetchall():
        found.setdefault(row["reply_token_id"], []).append({"id": row["entry_id"], "title": row["title"]})
    return found


def usage(cur, tenant_id, entry_ids: list) -> dict:
    """{entry_id: {"used": replies written from it, "last_used_at"}} for the
    entries some reply was written from (within the tenant's retention)."""
    if not entry_ids:
        return {}
    cur.execute(
        "SELECT entry_id, count(*) AS used, max(created_at) AS last_used_at FROM reply_sources"
        " WHERE tenant_id = %s AND entry_id = ANY(%s::uuid[]) GROUP BY entry_id",
        (tenant_id, [str(i) for i in entry_ids]),
    )
    return {r["entry_id"]: {"used": r["used"], "last_used_at": r["last_used_at"]} for r in cur.fetchall()}
