"""Every query on `knowledge_words`: the words of a tenant's knowledge base
(folded, as written and as stemmed), for correcting a customer's typos to a word the
entries have. With pg_trgm the nearest words come from its trigram index;
without it (a server without Postgres' contrib) the candidates sharing the
first letter come back and knowledge.py ranks them in Python."""
from __future__ import annotations

# an entry's words as written (folded) and as its language stems them (its search_vector's lexemes):
# a typo is compared with both ("parselar" is nearer the stem "parcel" than any written form)
_ENTRY_WORDS = ("(SELECT lexeme FROM unnest(to_tsvector('simple', knowledge_fold(e.title || ' '"
                " || array_to_string(e.tags, ' ') || ' ' || e.content)))"
                " UNION SELECT lexeme FROM unnest(e.search_vector))")


def has_trigrams(cur) -> bool:
    cur.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') AS yes")
    return cur.fetchone()["yes"]


def add_from_entries(cur, tenant_id, entry_ids: list) -> None:
    """The words of these entries join the tenant's vocabulary."""
    if not entry_ids:
        return
    cur.execute(
        f"INSERT INTO knowledge_words (tenant_id, word) SELECT DISTINCT e.tenant_id, w.lexeme"
        f" FROM knowledge_entries e CROSS JOIN LATERAL {_ENTRY_WORDS} AS w"
        " WHERE e.tenant_id = %s AND e.id = ANY(%s::uuid[]) ORDER BY 2 ON CONFLICT DO NOTHING",
        (tenant_id, [str(i) for i in entry_ids]),
    )


def rebuild(cur, tenant_id) -> None:
    """The vocabulary made again from the tenant's entries (drops the words
    of entries that are gone)."""
    cur.execute("DELETE FROM knowledge_words WHERE tenant_id = %s", (tenant_id,))
    cur.execute(
        f"INSERT INTO knowledge_words (tenant_id, word) SELECT DISTINCT e.tenant_id, w.lexeme"
        f" FROM knowledge_entries e CROSS JOIN LATERAL {_ENTRY_WORDS} AS w WHERE e.tenant_id = %s ORDER BY 2",
        (tenant_id,),
    )


def known(cur, tenant_id, words: list[str]) -> set[str]:
    """Which of these (folded) words the tenant's entries have."""
    cur.execute("SELECT word FROM knowledge_words WHERE tenant_id = %s AND word = ANY(%s::text[])",
                (tenant_id, list(words)))
    return {r["word"] for r in cur.fetchall()}


def nearest(cur, tenant_id, words: list[str], *, min_similarity: float, per_word: int) -> list[dict]:
    """pg_trgm: for each word, the tenant's words most like it (at least
    min_similarity), best first: [{"word", "near", "similarity"}]."""
    cur.execute(
        "SELECT w.word, c.near, c.similarity FROM unnest(%(words)s::text[]) AS w(word)"
        " CROSS JOIN LATERAL (SELECT k.word AS near, similarity(k.word, w.word) AS similarity"
        "                       FROM knowledge_words k"
        "                      WHERE k.tenant_id = %(tenant)s AND k.word %% w.word AND k.word <> w.word"
        "                        AND similarity(k.word, w.word) >= %(min)s"
        "                      ORDER BY 2 DESC, 1 LIMIT %(per_word)s) AS c",
        {"tenant": tenant_id, "words": list(words), "min": min_similarity, "per_word": per_word},
    )
    return cur.fetchall()


def starting_like(cur, tenant_id, word: str, *, shortest: int, longest: int) -> list[str]:
    """Without pg_trgm: the tenant's words that begin with the same letter
    and are about as long (candidates for a typo's correction)."""
    cur.execute(
        "SELECT word FROM knowledge_words WHERE tenant_id = %s AND left(word, 1) = %s"
        " AND length(word) BETWEEN %s AND %s AND word <> %s",
        (tenant_id, word[:1], shortest, longest, word),
    )
    return [r["word"] for r in cur.fetchall()]
