"""Every query on `knowledge_entries`: a tenant's facts (title, content,
tags, source), each with its full-text vector (a generated column:
knowledge_vector() in db/migrations/0010_knowledge.sql, in the entry's
`language`). The rules (limits, imports, retrieval) are in knowledge.py.

Queries take tsquery texts built by knowledge.tsquery_literal(): one quoted
lexeme each, never a customer's raw words."""
from __future__ import annotations

from psycopg2.extras import execute_values

_NAMES = ("id", "tenant_id", "title", "content", "tags", "source", "position", "created_at", "updated_at",
          "updated_by")
COLUMNS = ", ".join(_NAMES) + ", language::text AS language"
E_COLUMNS = ", ".join(f"e.{name}" for name in _NAMES) + ", e.language::text AS language"


def insert_many(cur, tenant_id, entries: list[dict], *, language: str, actor: str) -> list[dict]:
    """The entries ({title, content, tags, source, position}) added, in order."""
    if not entries:
        return []
    rows = execute_values(
        cur,
        "INSERT INTO knowledge_entries (tenant_id, title, content, tags, source, position, language, updated_by)"
        f" VALUES %s RETURNING {COLUMNS}",
        [(tenant_id, e["title"], e["content"], list(e.get("tags") or []), e.get("source"), e.get("position", 0),
          language, actor) for e in entries],
        template="(%s, %s, %s, %s::text[], %s, %s, %s::regconfig, %s)", fetch=True, page_size=500,
    )
    return rows


def get(cur, tenant_id, entry_id, *, lock: bool = False) -> dict | None:
    cur.execute(f"SELECT {COLUMNS} FROM knowledge_entries WHERE tenant_id = %s AND id = %s"
                + (" FOR UPDATE" if lock else ""), (tenant_id, entry_id))
    return cur.fetchone()


def update(cur, tenant_id, entry_id, *, title: str, content: str, tags: list[str], language: str,
           actor: str) -> dict | None:
    cur.execute(
        "UPDATE knowledge_entries SET title = %s, content = %s, tags = %s::text[], language = %s::regconfig,"
        f" updated_at = now(), updated_by = %s WHERE tenant_id = %s AND id = %s RETURNING {COLUMNS}",
        (title, content, list(tags), language, actor, tenant_id, entry_id),
    )
    return cur.fetchone()


def delete(cur, tenant_id, entry_id) -> dict | None:
    cur.execute(f"DELETE FROM knowledge_entries WHERE tenant_id = %s AND id = %s RETURNING {COLUMNS}",
                (tenant_id, entry_id))
    return cur.fetchone()


def delete_source(cur, tenant_id, source: str) -> int:
    """Removes every entry imported from `source`; how many went."""
    cur.execute("DELETE FROM knowledge_entries WHERE tenant_id = %s AND source = %s", (tenant_id, source))
    return cur.rowcount


def count(cur, tenant_id) -> int:
    cur.execute("SELECT count(*) AS n FROM knowledge_entries WHERE tenant_id = %s", (tenant_id,))
    return cur.fetchone()["n"]


def listing(cur, tenant_id, *, tag: str | None, source: str | None, limit: int, offset: int) -> tuple[list, int]:
    """A page of the tenant's entries (hand-written first, then each source
    in its own order) and how many match the filters in all."""
    where = ("tenant_id = %(tenant)s AND (%(tag)s::text IS NULL OR %(tag)s = ANY(tags))"
             " AND (%(source)s::text IS NULL OR source = %(source)s)")
    params = {"tenant": tenant_id, "tag": tag, "source": source, "limit": limit, "offset": offset}
    cur.execute(f"SELECT count(*) AS n FROM knowledge_entries WHERE {where}", params)
    total = cur.fetchone()["n"]
    cur.execute(f"SELECT {COLUMNS} FROM knowledge_entries WHERE {where}"
                " ORDER BY source NULLS FIRST, position, lower(title), id LIMIT %(limit)s OFFSET %(offset)s", params)
    return cur.fetchall(), total


def set_language(cur, tenant_id, language: str) -> int:
    """Indexes the tenant's entries again in `language` (the generated
    vector follows); how many changed."""
    cur.execute("UPDATE knowledge_entries SET language = %s::regconfig WHERE tenant_id = %s AND language <> %s::regconfig",
                (language, tenant_id, language))
    return cur.rowcount


def lexemes(cur, texts: list[str], language: str) -> list[list[str]]:
    """The lexemes each text gives in `language`, folded as the entries are
    (what its words are looked up by)."""
    cur.execute(
        "SELECT t.n, coalesce(array_agg(v.lexeme ORDER BY v.lexeme) FILTER (WHERE v.lexeme IS NOT NULL), '{}') AS lexemes"
        " FROM unnest(%s::text[]) WITH ORDINALITY AS t(text, n)"
        " LEFT JOIN LATERAL unnest(to_tsvector(%s::regconfig, knowledge_fold(t.text))) AS v ON true"
        " GROUP BY t.n ORDER BY t.n",
        (list(texts), language),
    )
    return [list(r["lexemes"]) for r in cur.fetchall()]


def document_frequencies(cur, tenant_id, queries: list[str]) -> list[int]:
    """For each one-lexeme tsquery, how many of the tenant's entries have it."""
    cur.execute(
        "SELECT q.n, (SELECT count(*) FROM knowledge_entries e"
        "              WHERE e.tenant_id = %s AND e.search_vector @@ q.query::tsquery) AS df"
        " FROM unnest(%s::text[]) WITH ORDINALITY AS q(query, n) ORDER BY q.n",
        (tenant_id, list(queries)),
    )
    return [r["df"] for r in cur.fetchall()]


def ranked(cur, tenant_id, *, word_numbers: list[int], queries: list[str], weights: list[float],
           body_factor: float, limit: int) -> list[dict]:
    """The tenant's entries that have any of the terms, best first. A term
    is one lexeme (a tsquery text) standing for one word of the question,
    with its weight; an entry scores, for each word, the best weight among
    the terms it has (times body_factor when the term is only in the
    content, not in the title or tags), summed over the words. Ties go to
    the entry where the terms are denser (ts_rank_cd, by length). Each row
    also says which words it matched (`words`, the numbers given)."""
    cur.execute(
        f"""
        WITH terms AS (
            SELECT word_no, query::tsquery AS query, (query || ':A')::tsquery AS in_title, weight
              FROM unnest(%(word_numbers)s::int[], %(queries)s::text[], %(weights)s::float8[])
                   AS t(word_no, query, weight)
        ), per_word AS (
            SELECT e.id, t.word_no,
                   max(t.weight * CASE WHEN e.search_vector @@ t.in_title THEN 1.0 ELSE %(body_factor)s END) AS w
              FROM knowledge_entries e
              JOIN terms t ON e.search_vector @@ t.query
             WHERE e.tenant_id = %(tenant)s AND e.search_vector @@ %(any)s::tsquery
             GROUP BY e.id, t.word_no
        ), scored AS (
            SELECT id, sum(w) AS score, array_agg(word_no ORDER BY word_no) AS words
              FROM per_word
             GROUP BY id
             ORDER BY score DESC
             LIMIT %(wide)s
        )
        SELECT {E_COLUMNS}, s.score, s.words,
               ts_rank_cd(e.search_vector, %(any)s::tsquery, 1) AS density
          FROM scored s JOIN knowledge_entries e ON e.id = s.id
         ORDER BY s.score DESC, density DESC, e.updated_at DESC, e.id
         LIMIT %(limit)s
        """,
        {"tenant": tenant_id, "word_numbers": list(word_numbers), "queries": list(queries),
         "weights": list(weights), "body_factor": body_factor, "any": " | ".join(dict.fromkeys(queries)),
         "limit": limit, "wide": max(limit * 4, 20)},
    )
    return cur.fetchall()
