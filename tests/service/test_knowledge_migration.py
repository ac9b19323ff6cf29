"""db/migrations/0010_knowledge.sql on a database that had knowledge bases
in tenants' settings: each {question, answer} becomes an entry (the question
its title, the answer its content, in order), found by retrieval, and the
setting is gone."""
from __future__ import annotations

import json
import shutil

import psycopg2
import psycopg2.extras

from python_services.common.migrate import MIGRATIONS_DIR, migrate
from python_services.core import knowledge
from tests.conftest import scratch_database


def test_the_knowledge_base_setting_becomes_entries(tmp_path):
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name < "0010":
            shutil.copy(path, tmp_path / path.name)
    with scratch_database("hf_kb_migration") as url:
        migrate(url, tmp_path)
        conn = psycopg2.connect(url, cursor_factory=psycopg2.extras.RealDictCursor)
        conn.autocommit = True
        cur = conn.cursor()
        settings = {"debounce_seconds": 2, "knowledge_base": [
            {"question": "Qual o horário?", "answer": "Das 9h às 19h."},
            {"question": "Onde fica a loja?", "answer": "Rua XV, 1200."},
            {"question": "   ", "answer": "no question: left out"},
        ]}
        cur.execute("INSERT INTO tenants (instance_name, webhook_secret_hash, settings) VALUES"
                    " ('old-shop', %s, %s), ('no-kb', %s, '{}') RETURNING id", ("0" * 64, json.dumps(settings), "1" * 64))
        tenant_id = cur.fetchone()["id"]

        assert "0010_knowledge" in migrate(url)

        cur.execute("SELECT title, content, source, position FROM knowledge_entries WHERE tenant_id = %s"
                    " ORDER BY position", (tenant_id,))
        assert cur.fetchall() == [
            {"title": "Qual o horário?", "content": "Das 9h às 19h.", "source": "settings.knowledge_base", "position": 0},
            {"title": "Onde fica a loja?", "content": "Rua XV, 1200.", "source": "settings.knowledge_base", "position": 1},
        ]
        cur.execute("SELECT settings FROM tenants WHERE id = %s", (tenant_id,))
        assert cur.fetchone()["settings"] == {"debounce_seconds": 2}
        cur.execute("SELECT count(*) AS n FROM knowledge_entries")
        assert cur.fetchone()["n"] == 2
        hits = knowledge.search(cur, tenant_id, "qual o orario?", language="portuguese")
        assert [h.content for h in hits][:1] == ["Das 9h às 19h."]
        conn.close()
