"""The offline provider: no network, no key. The customer's words are matched
against the questions of the tenant's knowledge base (settings.knowledge_base,
a list of {question, answer}); the best match above a threshold answers,
anything else is a handoff. Accents and case are folded and the commonest
little words of English, Portuguese and Spanish are ignored."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# accent-free and lower case, as the words are folded before the lookup
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
ele ela eles elas lhe te ate sobre muito mais hoje agora
"""
_SPANISH = """
el la los las un una unos unas del al en y u pero es son fue soy tiene tienen tengo tenemos puede pueden puedo podria
quiero quisiera gracias hola usted ustedes tu su sus mi mis nuestro nuestra cual cuales cuando donde quien cuanto
cuantos cuantas estan estoy hay con sin muy le lo les ya si hoy ahora
"""
STOP_WORDS = frozenset((_ENGLISH + _PORTUGUESE + _SPANISH).split())

# a match needs half of the question's words, or half of the message's
MIN_COVERAGE = 0.5
# words this long or longer match another word they begin (open ~ opening, hora ~ horario)
MIN_PREFIX = 4


def fold(text: str) -> str:
    """Lower case without accents: "Horário" -> "horario"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _stem(word: str) -> str:
    # plurals are the commonest difference between a question and a message
    if len(word) > 4 and word.endswith("es") and not word.endswith("ies"):
        return word[:-2] if word[-3] in "lnrsz" else word[:-1]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Folded words of two letters or more, in order, without repeats."""
    return list(dict.fromkeys(w for w in re.findall(r"\w+", fold(text)) if len(w) > 1))


def content_words(text: str) -> list[str]:
    """The words that carry meaning, folded and stemmed, in order, without repeats.
    A text made only of little words ("Oi!", "Hola") keeps them all, so a
    knowledge-base entry for a greeting can still match a greeting."""
    folded = words(text)
    meaningful = [w for w in folded if w not in STOP_WORDS]
    return list(dict.fromkeys(_stem(w) for w in meaningful)) or folded


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= MIN_PREFIX and long_.startswith(short)


@dataclass(frozen=True)
class Match:
    index: int
    question: str
    answer: str
    score: float


def best_match(knowledge_base: list[dict], message: str, min_coverage: float = MIN_COVERAGE) -> Match | None:
    """The entry whose question shares the most with the message. An entry
    qualifies when the shared words cover at least min_coverage of the
    question's words or of the message's; among those the highest sum of
    both coverages wins, then the entry sharing more words, then the earlier
    entry. None when no entry qualifies."""
    said = content_words(message)
    if not said:
        return None
    best: tuple | None = None
    found: Match | None = None
    for index, entry in enumerate(knowledge_base or []):
        if not isinstance(entry, dict):
            continue
        question, answer = str(entry.get("question") or ""), str(entry.get("answer") or "").strip()
        asked = content_words(question)
        if not asked or not answer:
            continue
        in_question = sum(1 for word in asked if any(_same(word, other) for other in said))
        in_message = sum(1 for word in said if any(_same(word, other) for other in asked))
        of_question, of_message = in_question / len(asked), in_message / len(said)
        if not in_question or max(of_question, of_message) < min_coverage:
            continue
        rank = (of_question + of_message, in_question, -index)
        if best is None or rank > best:
            best = rank
            found = Match(index, question, answer, round(of_question + of_message, 3))
    return found
