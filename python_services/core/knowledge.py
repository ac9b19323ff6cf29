"""The knowledge base: a tenant's facts as entries (title, content, tags,
source), written through the admin API or the console, and found again for
a customer's question in Postgres, with nothing but Postgres.

Retrieval, for a question in the tenant's `knowledge_language`:
1. its words, folded (lower case, no accents) less the little words of
   English, Portuguese and Spanish ("qual", "the", "para", ...);
2. each word's lexeme in the language (its stem: "horários" -> "horari"),
   and how many entries have it; a word of four letters or more that no
   entry has is taken for a typo and stands for the tenant's words most
   like it ("funsionamento" -> "funcionamento"), by trigram similarity
   (pg_trgm; without it the same measure in Python);
3. each entry that has any of them scores, per word, the word's weight
   (the rarer among the entries, the heavier: ln(1 + N/df), times the
   similarity of a correction), full in the title or tags and
   BODY_FACTOR in the content only, summed over the words; ties go to the
   entry where the words are densest.
bench/knowledge_eval.py measures it (hit@1, hit@3, time per retrieval);
docs/knowledge.md has the figures and the rules."""
from __future__ import annotations

from ..common.errors import ApiError, bad_request
from ..common.params import UNSTORABLE
from . import knowledge_entries as entries
from . import knowledge_words, reply_sources
from .knowledge_import import MAX_CONTENT, MAX_TAG, MAX_TAGS, MAX_TITLE
from .knowledge_text import Hit, idf, question_words, trigram_similarity, tsquery_literal
from .settings import KNOWLEDGE_LANGUAGES

# the text search configurations a tenant may choose (settings.knowledge_language):
# Postgres' Snowball stemmers and stop words, on every version this runs on
LANGUAGES = KNOWLEDGE_LANGUAGES
MAX_ENTRIES_PER_TENANT = 20_000

# retrieval, tuned with bench/knowledge_eval.py (docs/knowledge.md)
BODY_FACTOR = 0.6           # a word found only in the content weighs this much of one in the title or tags
MIN_CORRECTABLE = 4         # a shorter word that no entry has is left alone, never "corrected"
MIN_SIMILARITY = 0.4        # trigram similarity of a typo and the word it stands for
CORRECTIONS_PER_WORD = 2
UNKNOWN_WORD_WEIGHT = 0.5   # a word no entry has counts this share of a rare word's weight in `coverage`
RELATIVE_CUTOFF = 0.3       # an entry given to the model scores at least this share of the best one

# ---------------------------------------------------------------- retrieval


def corrections(cur, tenant_id, words: list[str], trigram_index: bool) -> dict[str, list[tuple[str, float]]]:
    """{typo: [(a word the entries have, similarity), ...]}, best first."""
    found: dict[str, list[tuple[str, float]]] = {w: [] for w in words}
    if trigram_index:
        for row in knowledge_words.nearest(cur, tenant_id, words, min_similarity=MIN_SIMILARITY,
                                           per_word=CORRECTIONS_PER_WORD):
            found[row["word"]].append((row["near"], float(row["similarity"])))
        return found
    for word in words:
        candidates = knowledge_words.starting_like(cur, tenant_id, word, shortest=max(1, len(word) - 3),
                                                   longest=len(word) + 3)
        scored = sorted(((trigram_similarity(word, c), c) for c in candidates), key=lambda p: (-p[0], p[1]))
        found[word] = [(c, s) for s, c in scored[:CORRECTIONS_PER_WORD] if s >= MIN_SIMILARITY]
    return found


def search(cur, tenant_id, text: str, *, language: str, limit: int = 5, total: int | None = None) -> list[Hit]:
    """The tenant's entries best matching `text`, best first (at most `limit`;
    `total`: how many entries the tenant has, when the caller knows)."""
    words = question_words(text)
    if not words:
        return []
    total = entries.count(cur, tenant_id) if total is None else total
    if not total:
        return []
    # each word's own lexemes; words the language drops (its stop words) go, and so do repeats
    terms: list[dict[str, float]] = []
    kept: list[str] = []
    seen: set[tuple] = set()
    for word, lexes in zip(words, entries.lexemes(cur, words, language)):
        if lexes and tuple(lexes) not in seen:
            seen.add(tuple(lexes))
            terms.append({lexeme: 1.0 for lexeme in lexes})
            kept.append(word)
    if not terms:
        return []
    df = dict(zip(*_frequencies(cur, tenant_id, {lexeme for t in terms for lexeme in t})))
    typos = [i for i, t in enumerate(terms) if not any(df[lexeme] for lexeme in t) and len(kept[i]) >= MIN_CORRECTABLE]
    if typos:
        # the nearest words to the typo as written and to its stem; a near word stands for itself
        # (when it is a stem the entries have) and for its own stem
        asked = {i: [kept[i], *(x for x in terms[i] if x != kept[i])] for i in typos}
        near = corrections(cur, tenant_id, sorted({w for ws in asked.values() for w in ws}),
                           knowledge_words.has_trigrams(cur))
        replacements = sorted({w for ws in asked.values() for a in ws for w, _ in near[a]})
        lexemes_of = dict(zip(replacements, entries.lexemes(cur, replacements, language))) if replacements else {}
        for i in typos:
            for word, similarity in (pair for a in asked[i] for pair in near[a]):
                for lexeme in {word, *lexemes_of.get(word, ())}:
                    terms[i][lexeme] = max(terms[i].get(lexeme, 0.0), similarity)
        df.update(zip(*_frequencies(cur, tenant_id, {x for i in typos for x in terms[i] if x not in df})))
    # a word's weight: its best lexeme's rarity times its similarity; a word nothing has counts half a rare one
    weight = [{lexeme: sim * idf(total, df[lexeme]) for lexeme, sim in t.items() if df.get(lexeme)} for t in terms]
    potential = [max(w.values()) if w else UNKNOWN_WORD_WEIGHT * idf(total, 1) for w in weight]
    numbers, queries, weights = [], [], []
    for i, w in enumerate(weight):
        for lexeme, value in w.items():
            numbers.append(i)
            queries.append(tsquery_literal(lexeme))
            weights.append(value)
    if not queries:
        return []
    rows = entries.ranked(cur, tenant_id, word_numbers=numbers, queries=queries, weights=weights,
                          body_factor=BODY_FACTOR, limit=limit)
    all_weight = sum(potential) or 1.0
    # the words each title is about (its little words left out, as the question's were)
    titles = entries.lexemes(cur, [" ".join(question_words(row["title"])) for row in rows], language) if rows else []
    hits = []
    for row, title_lexemes in zip(rows, titles):
        matched = set(row["words"])
        lexemes = tuple(sorted({lexeme for i in matched for lexeme in weight[i]}))
        title_coverage = (sum(1 for x in title_lexemes if x in lexemes) / len(title_lexemes)) if title_lexemes else 0.0
        hits.append(Hit(
            id=row["id"], title=row["title"], content=row["content"], tags=tuple(row["tags"]), source=row["source"],
            score=float(row["score"]), coverage=round(sum(potential[i] for i in matched) / all_weight, 4),
            title_coverage=round(title_coverage, 4), lexemes=lexemes, row=row))
    return hits


def _frequencies(cur, tenant_id, lexemes) -> tuple[list[str], list[int]]:
    lexemes = sorted(lexemes)
    if not lexemes:
        return [], []
    return lexemes, entries.document_frequencies(cur, tenant_id, [tsquery_literal(x) for x in lexemes])


def for_reply(cur, tenant_id, text: str, settings: dict) -> tuple[bool, list[Hit]]:
    """(whether the tenant has a knowledge base at all, the entries a reply
    to `text` is given): the best settings.knowledge_max_entries, each
    scoring at least RELATIVE_CUTOFF of the best one."""
    total = entries.count(cur, tenant_id)
    if not total:
        return False, []
    hits = search(cur, tenant_id, text, language=settings["knowledge_language"],
                  limit=int(settings["knowledge_max_entries"]), total=total)
    if not hits:
        return True, []
    best = hits[0].score
    return True, [h for h in hits if h.score >= RELATIVE_CUTOFF * best]


def confident(hit: Hit, threshold: float = 0.5) -> bool:
    """Does the entry answer the question on its own (the offline provider
    answers with it)? It covers half of what the question is about, or the
    question has half of the words of the entry's title."""
    return max(hit.coverage, hit.title_coverage) >= threshold


# ---------------------------------------------------------------- writing


def _lock(cur, tenant_id) -> None:
    """One writer of a tenant's knowledge base at a time (imports replace
    whole sources); readers never wait. Not the tenant row: webhooks lock it."""
    cur.execute("SELECT pg_advisory_xact_lock(727015, hashtext(%s))", (str(tenant_id),))


def _text(field_name: str, value, max_len: int) -> str:
    if not isinstance(value, str) or UNSTORABLE.search(value):
        raise bad_request(f"{field_name} must be text", field_name)
    value = value.strip()
    if not value:
        raise bad_request(f"{field_name} must not be empty", field_name)
    if len(value) > max_len:
        raise bad_request(f"{field_name} must be at most {max_len:,} characters (it has {len(value):,})", field_name)
    return value


def normalized_tags(tags) -> list[str]:
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise bad_request("tags must be a list of strings", "tags")
    cleaned = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if len(cleaned) > MAX_TAGS or any(len(t) > MAX_TAG or UNSTORABLE.search(t) for t in cleaned):
        raise bad_request(f"tags: at most {MAX_TAGS} tags of at most {MAX_TAG} characters", "tags")
    return cleaned


def checked_entry(title, content, tags) -> dict:
    """An entry's fields, trimmed and checked (the 400 names the field)."""
    return {"title": _text("title", title, MAX_TITLE), "content": _text("content", content, MAX_CONTENT),
            "tags": normalized_tags(tags)}


def _room_for(cur, tenant_id, adding: int, removing: int = 0) -> None:
    have = entries.count(cur, tenant_id)
    if have - removing + adding > MAX_ENTRIES_PER_TENANT:
        raise ApiError(409, "too_many_entries", f"a knowledge base holds at most {MAX_ENTRIES_PER_TENANT:,} entries "
                       f"(this one has {have:,})", "knowledge")


def create(cur, tenant_id, *, title, content, tags=None, language: str, actor: str) -> dict:
    fields = checked_entry(title, content, tags)
    _lock(cur, tenant_id)
    _room_for(cur, tenant_id, 1)
    row = entries.insert_many(cur, tenant_id, [fields], language=language, actor=actor)[0]
    knowledge_words.add_from_entries(cur, tenant_id, [row["id"]])
    return row


def change(cur, tenant_id, entry_id, *, title, content, tags=None, language: str, actor: str) -> dict | None:
    """The entry rewritten (PUT), or None when the tenant has no such entry.
    An imported entry keeps its source: importing that file again replaces it."""
    fields = checked_entry(title, content, tags)
    _lock(cur, tenant_id)
    row = entries.update(cur, tenant_id, entry_id, language=language, actor=actor, **fields)
    if row is not None:
        knowledge_words.add_from_entries(cur, tenant_id, [row["id"]])
    return row


def remove(cur, tenant_id, entry_id) -> dict | None:
    _lock(cur, tenant_id)
    return entries.delete(cur, tenant_id, entry_id)


def import_entries(cur, tenant_id, source: str, parsed: list[dict], *, language: str, actor: str) -> dict:
    """A file's entries in place of what the same source gave before:
    {"source", "created", "replaced", "entries": [rows]}."""
    _lock(cur, tenant_id)
    replaced = entries.delete_source(cur, tenant_id, source)
    _room_for(cur, tenant_id, len(parsed))
    rows = entries.insert_many(
        cur, tenant_id, [{**e, "source": source, "position": i} for i, e in enumerate(parsed)],
        language=language, actor=actor)
    if replaced:
        knowledge_words.rebuild(cur, tenant_id)
    else:
        knowledge_words.add_from_entries(cur, tenant_id, [r["id"] for r in rows])
    return {"source": source, "created": len(rows), "replaced": replaced, "entries": rows}


def apply_language(cur, tenant_id, language: str) -> int:
    """After settings.knowledge_language changed: the entries indexed again in
    it (and the vocabulary, which holds the language's stems)."""
    _lock(cur, tenant_id)
    changed = entries.set_language(cur, tenant_id, language)
    if changed:
        knowledge_words.rebuild(cur, tenant_id)
    return changed


# ---------------------------------------------------------------- reading


def with_usage(cur, tenant_id, rows: list[dict]) -> list[dict]:
    """Each row with `used` (how many replies were written from it, within
    the tenant's retention) and `last_used_at`."""
    used = reply_sources.usage(cur, tenant_id, [r["id"] for r in rows])
    return [{**r, **used.get(r["id"], {"used": 0, "last_used_at": None})} for r in rows]


def listing(cur, tenant_id, *, tag=None, source=None, limit=100, offset=0) -> tuple[list[dict], int]:
    rows, total = entries.listing(cur, tenant_id, tag=tag, source=source, limit=limit, offset=offset)
    return with_usage(cur, tenant_id, rows), total


def get(cur, tenant_id, entry_id) -> dict | None:
    row = entries.get(cur, tenant_id, entry_id)
    return with_usage(cur, tenant_id, [row])[0] if row else None
