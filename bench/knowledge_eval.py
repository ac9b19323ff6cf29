"""How well the knowledge base finds the entry that answers a customer's
question, and how fast, on Postgres alone:

    python -m bench.knowledge_eval [--sizes 1000,10000] [--repeat 3] [--markdown]

On a database of its own (TEST_DATABASE_URL's server, else DATABASE_URL's,
else 127.0.0.1:5432; dropped at the end), one tenant per language holds the
shop of tests/fixtures/knowledge/shop.json (24 entries, in Portuguese,
Spanish and English, each tenant's settings.knowledge_language set to its
own); every question of questions.json is asked through core/knowledge.py's
search, the same call the llm service makes:

- hit@1 / hit@3: the entry that answers it is first / among the first three
  (overall, per language, per kind: accents, no-accents, typo, plain);
- the offline provider's view: it answers when the first entry is
  "confident" (core.knowledge.confident): right, wrong, or handed over; and
  the questions the shop does not cover, which should be handed over;
- time per retrieval (median and 95th percentile over every question,
  `--repeat` times) with the shop alone and with synthetic entries added up
  to each of `--sizes` entries per tenant (a catalogue: one entry per
  product, whose descriptions mention sizes, exchanges, shipping and
  instalments too, so the policies compete with thousands of entries that
  share their words), and hit@1/hit@3 at that size.

Figures, no assertion: docs/benchmarks.md ("Knowledge base retrieval") keeps
them; --markdown prints that section."""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import psycopg2.extras

from ops import postgres
from python_services.common.config import read_environment
from python_services.common.migrate import migrate
from python_services.core import knowledge, knowledge_entries, knowledge_words

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "knowledge"
LANGUAGES = ("portuguese", "spanish", "english")


def load_fixtures() -> tuple[dict, list[dict]]:
    shop = json.loads((FIXTURES / "shop.json").read_text())["entries"]
    questions = json.loads((FIXTURES / "questions.json").read_text())["questions"]
    return shop, questions


def _server_url() -> str:
    env = read_environment()
    return env.get("TEST_DATABASE_URL") or env.get("DATABASE_URL") or postgres.LOCAL_SERVER


@contextmanager
def scratch_database():
    server = _server_url()
    name = f"hf_knowledge_eval_{int(time.time())}"
    postgres.ensure_database(server, name)
    url = postgres.with_database(server, name)
    try:
        migrate(url)
        yield url
    finally:
        postgres.drop_database(server, name)


def make_tenant(cur, name: str) -> str:
    cur.execute("INSERT INTO tenants (instance_name, webhook_secret_hash) VALUES (%s, %s) RETURNING id",
                (name, "0" * 64))
    return cur.fetchone()["id"]


def load_shop(cur, tenant_id, entries: list[dict], language: str) -> dict:
    """The shop's entries; {entry id: key}."""
    keys = {}
    for entry in entries:
        row = knowledge.create(cur, tenant_id, title=entry["title"], content=entry["content"], tags=entry["tags"],
                               language=language, actor="bench")
        keys[row["id"]] = entry["key"]
    return keys


# a catalogue: what a shop with thousands of entries has besides its policies
CATALOGUE = {
    "portuguese": {
        "kinds": ["Tênis", "Sapatênis", "Bota", "Sandália", "Chinelo", "Sapato social", "Mocassim", "Sapatilha"],
        "colours": ["preto", "branco", "azul", "vermelho", "cinza", "bege", "marrom", "verde", "rosa"],
        "materials": ["couro", "camurça", "lona", "malha", "material sintético", "nobuck"],
        "uses": ["corrida", "caminhada", "academia", "o dia a dia", "o trabalho", "festas", "skate"],
        "features": ["Palmilha em gel.", "Solado de borracha antiderrapante.", "Cadarço elástico.",
                     "Forro respirável.", "Amortecimento no calcanhar.", "Bico redondo e confortável."],
        "extras": ["Troca grátis em 30 dias.", "Frete grátis acima de R$ 299.", "Parcele em até 6 vezes.",
                   "Últimos pares no estoque."],
        "template": "{kind} {model} {colour} em {material}, ideal para {use}. {feature} Numeração do {lo} ao {hi}. "
                    "Preço: R$ {price},90. {extra}",
    },
    "spanish": {
        "kinds": ["Zapatillas", "Botas", "Sandalias", "Ojotas", "Zapatos de vestir", "Mocasines", "Bailarinas"],
        "colours": ["negro", "blanco", "azul", "rojo", "gris", "beige", "marrón", "verde", "rosa"],
        "materials": ["cuero", "gamuza", "lona", "tejido de malla", "material sintético", "nobuck"],
        "uses": ["correr", "caminar", "el gimnasio", "el día a día", "el trabajo", "fiestas", "skate"],
        "features": ["Plantilla de gel.", "Suela de goma antideslizante.", "Cordones elásticos.",
                     "Forro transpirable.", "Amortiguación en el talón.", "Puntera redonda y cómoda."],
        "extras": ["Primer cambio gratis en 30 días.", "Envío gratis desde R$ 299.", "Hasta 6 cuotas sin interés.",
                   "Últimos pares en stock."],
        "template": "{kind} {model} {colour} de {material}, ideales para {use}. {feature} Talles del {lo} al {hi}. "
                    "Precio: R$ {price},90. {extra}",
    },
    "english": {
        "kinds": ["Sneakers", "Boots", "Sandals", "Flip-flops", "Dress shoes", "Loafers", "Ballet flats"],
        "colours": ["black", "white", "blue", "red", "grey", "beige", "brown", "green", "pink"],
        "materials": ["leather", "suede", "canvas", "knit mesh", "synthetic", "nubuck"],
        "uses": ["running", "walking", "the gym", "everyday wear", "work", "parties", "skating"],
        "features": ["Gel insole.", "Non-slip rubber sole.", "Elastic laces.", "Breathable lining.",
                     "Heel cushioning.", "Round, comfortable toe."],
        "extras": ["Free exchange within 30 days.", "Free shipping over R$ 299.", "Up to 6 interest-free instalments.",
                   "Last pairs in stock."],
        "template": "{kind} {model} in {colour} {material}, made for {use}. {feature} Sizes {lo} to {hi}. "
                    "Price: R$ {price}.90. {extra}",
    },
}


def synthetic_entries(language: str, count: int, seed: int) -> list[dict]:
    """A catalogue of `count` products (one entry each), in the shop's
    language: they share many words with the policies (sizes, exchanges,
    shipping, instalments), so ranking has to earn its hits."""
    rng = random.Random(seed)
    words = CATALOGUE[language]
    out = []
    for i in range(count):
        model = f"{rng.choice(('Runner', 'Street', 'Trail', 'Urban', 'Classic', 'Flex', 'Aero', 'Nova'))} {rng.randint(100, 9999)}"
        kind, colour = rng.choice(words["kinds"]), rng.choice(words["colours"])
        lo = rng.choice((20, 28, 33, 34, 35, 36))
        content = words["template"].format(
            kind=kind, model=model, colour=colour, material=rng.choice(words["materials"]), use=rng.choice(words["uses"]),
            feature=rng.choice(words["features"]), lo=lo, hi=lo + rng.choice((8, 9, 10)), price=rng.randint(79, 899),
            extra=rng.choice(words["extras"]) if rng.random() < 0.3 else "").strip()
        out.append({"title": f"{kind} {model} {colour}", "content": content, "tags": [kind.lower()], "position": i})
    return out


def add_synthetic(cur, tenant_id, entries: list[dict], language: str) -> None:
    rows = knowledge_entries.insert_many(cur, tenant_id, [{**e, "source": "synthetic"} for e in entries],
                                         language=language, actor="bench")
    knowledge_words.add_from_entries(cur, tenant_id, [r["id"] for r in rows])


def ask(cur, tenant_id, question: dict, language: str) -> tuple[list, float]:
    started = time.perf_counter()
    hits = knowledge.search(cur, tenant_id, question["text"], language=language, limit=3)
    return hits, time.perf_counter() - started


def evaluate(cur, tenants: dict, keys: dict, questions: list[dict], repeat: int = 1) -> dict:
    """Every question against its language's tenant."""
    rows, timings = [], []
    for _ in range(repeat):
        rows = []
        for q in questions:
            tenant_id = tenants[q["language"]]
            hits, seconds = ask(cur, tenant_id, q, q["language"])
            timings.append(seconds)
            found = [keys.get(h.id, "synthetic") for h in hits]
            answered = hits and knowledge.confident(hits[0])
            rows.append({**q, "found": found, "answered": found[0] if answered else None})
    return {"rows": rows, "timings": timings}


def rates(rows: list[dict]) -> dict:
    covered = [r for r in rows if r["answer"] is not None]
    n = len(covered) or 1
    return {
        "questions": len(covered),
        "hit@1": sum(r["found"][:1] == [r["answer"]] for r in covered) / n,
        "hit@3": sum(r["answer"] in r["found"][:3] for r in covered) / n,
        "offline_right": sum(r["answered"] == r["answer"] for r in covered) / n,
        "offline_wrong": sum(r["answered"] not in (None, r["answer"]) for r in covered) / n,
        "offline_handover": sum(r["answered"] is None for r in covered) / n,
    }


def summary(result: dict) -> dict:
    rows = result["rows"]
    by_language, by_kind = defaultdict(list), defaultdict(list)
    for r in rows:
        by_language[r["language"]].append(r)
        by_kind[r["kind"]].append(r)
    uncovered = [r for r in rows if r["answer"] is None]
    ms = sorted(t * 1000 for t in result["timings"])
    return {
        "all": rates(rows),
        "languages": {k: rates(v) for k, v in by_language.items()},
        "kinds": {k: rates(v) for k, v in sorted(by_kind.items())},
        "uncovered": len(uncovered),
        "uncovered_handed_over": sum(r["answered"] is None for r in uncovered),
        "median_ms": statistics.median(ms),
        "p95_ms": ms[max(0, int(len(ms) * 0.95) - 1)],
        "misses": [(r["language"], r["text"], r["answer"], r["found"]) for r in rows
                   if r["answer"] is not None and r["answer"] not in r["found"][:3]],
    }


def run(sizes: list[int], repeat: int, seed: int = 15) -> dict:
    shop, questions = load_fixtures()
    out = {}
    with scratch_database() as url:
        conn = psycopg2.connect(url, cursor_factory=psycopg2.extras.RealDictCursor)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT current_setting('server_version') AS v,"
                            " EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'unaccent') AS unaccent,"
                            " EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') AS trgm")
                out["server"] = cur.fetchone()
                tenants, keys = {}, {}
                for language in LANGUAGES:
                    tenants[language] = make_tenant(cur, f"eval-{language}")
                    keys.update(load_shop(cur, tenants[language], shop[language], language))
                out["shop"] = summary(evaluate(cur, tenants, keys, questions, repeat))
                out["shop"]["entries"] = len(shop["portuguese"])
                have = len(shop["portuguese"])
                for size in sorted(sizes):
                    started = time.perf_counter()
                    for language in LANGUAGES:
                        add_synthetic(cur, tenants[language],
                                      synthetic_entries(language, size - have, seed + size), language)
                    cur.execute("VACUUM ANALYZE knowledge_entries")
                    cur.execute("VACUUM ANALYZE knowledge_words")
                    loaded = time.perf_counter() - started
                    have = size
                    result = summary(evaluate(cur, tenants, keys, questions, repeat))
                    result["load_seconds"] = loaded
                    result["entries"] = size
                    out[size] = result
        finally:
            conn.close()
    return out


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def report(out: dict) -> str:
    shop = out["shop"]
    lines = [f"server: PostgreSQL {out['server']['v']}, unaccent: {out['server']['unaccent']}, "
             f"pg_trgm: {out['server']['trgm']}", "",
             f"shop alone ({shop['entries']} entries per language), {shop['all']['questions']} questions:",
             f"  hit@1 {pct(shop['all']['hit@1'])}   hit@3 {pct(shop['all']['hit@3'])}   "
             f"offline: right {pct(shop['all']['offline_right'])}, wrong {pct(shop['all']['offline_wrong'])}, "
             f"handed over {pct(shop['all']['offline_handover'])}"]
    for name, group in (("language", shop["languages"]), ("kind", shop["kinds"])):
        for key, r in group.items():
            lines.append(f"  {name} {key:<11} n={r['questions']:<3} hit@1 {pct(r['hit@1']):>4}   hit@3 {pct(r['hit@3']):>4}")
    lines.append(f"  not covered by the shop: {shop['uncovered_handed_over']} of {shop['uncovered']} handed over "
                 "by the offline provider")
    lines.append(f"  time per retrieval: median {shop['median_ms']:.1f} ms, p95 {shop['p95_ms']:.1f} ms")
    for miss in shop["misses"]:
        lines.append(f"  miss: {miss}")
    for size in [k for k in out if isinstance(k, int)]:
        r = out[size]
        lines.append(f"{size} entries per tenant (loaded in {r['load_seconds']:.1f} s for 3 tenants): hit@1 "
                     f"{pct(r['all']['hit@1'])}, hit@3 {pct(r['all']['hit@3'])}; time per retrieval median "
                     f"{r['median_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms")
    return "\n".join(lines)


def markdown(out: dict) -> str:
    shop = out["shop"]
    rows = [(f"the shop alone ({shop['entries']} entries)", shop)] + [
        (f"{k:,} entries per tenant", out[k]) for k in out if isinstance(k, int)]
    lines = ["| knowledge base | questions | hit@1 | hit@3 | time per retrieval, median | p95 |",
             "| --- | --- | --- | --- | --- | --- |"]
    for label, r in rows:
        lines.append(f"| {label} | "
                     f"{r['all']['questions']} | {pct(r['all']['hit@1'])} | {pct(r['all']['hit@3'])} | "
                     f"{r['median_ms']:.1f} ms | {r['p95_ms']:.1f} ms |")
    lines += ["", "| the shop alone, by | n | hit@1 | hit@3 |", "| --- | --- | --- | --- |"]
    for key, r in list(shop["languages"].items()) + list(shop["kinds"].items()):
        lines.append(f"| {key} | {r['questions']} | {pct(r['hit@1'])} | {pct(r['hit@3'])} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="entries per tenant to time retrieval at")
    parser.add_argument("--repeat", type=int, default=3, help="times each question is asked (for the timings)")
    parser.add_argument("--markdown", action="store_true", help="also print the table for docs/benchmarks.md")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    out = run(sizes, args.repeat)
    print(report(out))
    if args.markdown:
        print()
        print(markdown(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
