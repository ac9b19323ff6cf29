"""The words of the knowledge base: folding (lower case, no accents), the
little words of English, Portuguese and Spanish left out of a question,
trigram similarity for typos, a word's weight, and the passage of an entry
shown for a hit. Pure functions, no database (core/knowledge.py retrieves)."""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

PASSAGE_CHARS = 280         # a search result's passage
MAX_QUESTION_WORDS = 32

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
