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

import math
import re
import unicodedata
from dataclasses import dataclass, field

from ..common.errors import ApiError, bad_request
from ..common.params import UNSTORABLE
from . import knowledge_entries as entries
from . import knowledge_words, reply_sources
from .knowledge_import import MAX_CONTENT, MAX_TAG, MAX_TAGS, MAX_TITLE
from .settings import KNOWLEDGE_LANGUAGES

# the text search configurations a tenant may choose (settings.knowledge_language):
# Postgres' Snowball stemmers and stop words, on every version this runs on
LANGUAGES = KNOWLEDGE_LANGUAGES
MAX_ENTRIES_PER_TENANT = 20_000
MAX_QUESTION_WORDS = 32

# retrieval, tuned with bench/knowledge_eval.py (docs/knowledge.md)
BODY_FACTOR = 0.6           # a word found only in the content weighs this much of one in the title or tags
MIN_CORRECTABLE = 4         # a shorter word that no entry has is left alone, never "corrected"
MIN_SIMILARITY = 0.4        # trigram similarity of a typo and the word it stands for
CORRECTIONS_PER_WORD = 2
UNKNOWN_WORD_WEIGHT = 0.5   # a word no entry has counts this share of a rare word's weight in `coverage`
RELATIVE_CUTOFF = 0.3       # an entry given to the model scores at least this share of the best one
PASSAGE_CHARS = 280         # a search result's passage

# folded (no accents, lower case): the little words of the three languages
# customers write in, and chat fillers, never what a question is about
_ENGLISH = """
a an the is are was were be been am do does did done you your yours i me my we us our ours it its this that these
those there here to of in on at for from by and or but not no with can could would will shall should may might must
please what much many when where how which who whom why have has had any some about like want wanted need know tell
just also very so if then than too get got give let thanks thank hi hello hey ok okay yes today now
"""
_PORTUGUESE = """
o os as um uma uns umas de do da dos das em no na nos nas num numa por pelo pela pelos pelas para pra pro com sem e
ou mas que se eu voce voces vc vcs meu minha meus minhas seu sua seus suas nosso nossa qual quais quando onde como
porque quem quanto quanta quantos quantas ser sou somos sao foi era esta estao estou tem tenho temos ter pode podem
posso poderia gostaria quero queria saber favor obrigado obrigada ola oi bom boa tudo bem ja nao sim isso esse essa
ele ela eles elas lhe te ate sobre muito mais hoje agora tb tbm q aqui ai la gente ta to
"""
_SPANISH = """
el la los las un una unos unas del al en y u pero es son fue soy tiene tienen tengo tenemos puede pueden puedo podria
quiero quisiera gracias hola usted ustedes tu su sus mi mis nuestro nuestra cual cuales cuando donde quien cuanto
cuantos cuantas estan estoy hay con sin muy le lo les ya si hoy ahora que como para por favor buenas buenos
"""
STOP_WORDS = frozenset((_ENGLISH + _PORTUGUESE + _SPANISH).split())


def fold(text: str) -> str:
    """Lower case without accents, as Postgres' knowledge_fold(): "Horário" -> "horario"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def folded_words(text: str) -> list[str]:
    """Folded words of two letters or more, in order, without repeats."""
    return list(dict.fromkeys(w for w in re.findall(r"\w+", fold(text)) if len(w) > 1))


def question_words(text: str) -> list[str]:
    """The words a question is about. A message made only of little words
    ("Oi!", "Hola") keeps them, so an entry for a greeting can still match."""
    said = folded_words(text)
    meaningful = [w for w in said if w not in STOP_WORDS]
    return (meaningful or said)[:MAX_QUESTION_WORDS]


def tsquery_literal(lexeme: str) -> str:
    """One lexeme as a tsquery's text, quoted (a quote doubled, a backslash escaped)."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def trigrams(word: str) -> set[str]:
    """pg_trgm's trigrams of one word: "  word " cut in threes."""
    padded = f"  {word} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


def trigram_similarity(a: str, b: str) -> float:
    """pg_trgm's similarity() of two words: shared trigrams over all of them."""
    ta, tb = trigrams(a), trigrams(b)
    return len(ta & tb) / len(ta | tb) if ta and tb else 0.0


def idf(total: int, df: int) -> float:
    return math.log(1 + total / df) if df else 0.0


@dataclass(frozen=True)
class Hit:
    """An entry found for a question."""
    id: object
    title: str
    content: str
    tags: tuple
    source: str | None
    score: float
    # the share of the question's weight the entry covers, and of the title's words the question has
    coverage: float
    title_coverage: float
    # the lexemes it matched (for the passage)
    lexemes: tuple = field(default=(), repr=False)
    row: dict = field(default_factory=dict, repr=False, compare=False)

    def passage(self, max_chars: int = PASSAGE_CHARS) -> str:
        return passage(self.content, self.lexemes, max_chars)

    def as_source(self) -> dict:
        return {"id": self.id, "title": self.title, "score": round(self.score, 4)}


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


# ---------------------------------------------------------------- passages


def _matches(word: str, lexemes) -> bool:
    return any(word.startswith(x) or (len(x) > 4 and word.startswith(x[:-1])) for x in lexemes)


def passage(content: str, lexemes, max_chars: int) -> str:
    """The part of the content around the sentences with most of the matched
    words, at most max_chars (… where it was cut); the whole content when it fits."""
    content = content.strip()
    if len(content) <= max_chars:
        return content
    spans = [(m.start(), m.end()) for m in re.finditer(r"[^\n.!?]+[.!?]*", content) if m.group().strip()]
    if not spans:
        return content[: max_chars - 1] + "…"
    scores = [len({x for x in lexemes for w in re.findall(r"\w+", fold(content[a:b])) if _matches(w, [x])})
              for a, b in spans]
    best = max(range(len(spans)), key=lambda i: (scores[i], -i))
    lo = hi = best
    while True:
        grown = False
        for j in (hi + 1, lo - 1):
            if 0 <= j < len(spans) and max(spans[hi][1], spans[j][1]) - min(spans[lo][0], spans[j][0]) <= max_chars - 2:
                lo, hi, grown = min(lo, j), max(hi, j), True
                break
        if not grown:
            break
    start, end = spans[lo][0], spans[hi][1]
    if end - start > max_chars - 2:  # one long sentence: around its first matched word
        words = [m for m in re.finditer(r"\w+", content[start:end]) if _matches(fold(m.group()), lexemes)]
        at = start + (words[0].start() if words else 0)
        start = max(start, at - max_chars // 3)
        end = min(end, start + max_chars - 2)
        while start > spans[lo][0] and not content[start - 1].isspace():
            start += 1
        while end < spans[hi][1] and not content[end].isspace() and end > start + 1:
            end -= 1
    text = content[start:end].strip()
    return ("…" if start > 0 else "") + text + ("…" if end < len(content) else "")


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
