-- The knowledge base (issue 15): a tenant's facts as entries, searched in
-- Postgres with full-text search, each reply's sources recorded. Replaces
-- the `knowledge_base` list in tenants.settings (moved below).
--
-- Accents: Brazilian customers write "horario" for "horário" half the time,
-- so every text is folded (lower case, no accents) before it is indexed or
-- searched: knowledge_fold(). With the `unaccent` extension (Postgres'
-- contrib: the Docker image and the distributions' packages ship it) the
-- fold is unaccent()'s; where it cannot be had (pgserver's PostgreSQL from
-- PyPI ships no contrib, or the role may not create it) a translate() of the
-- Latin accented letters does the same for Portuguese, Spanish and English.
-- Typos: `pg_trgm` (contrib too) finds the nearest words of the tenant's
-- vocabulary (knowledge_words); without it the llm service does that in
-- Python (core/knowledge.py). Both extensions are "trusted": a database
-- owner may create them without being a superuser.

DO $$
DECLARE
    ext text;
BEGIN
    FOREACH ext IN ARRAY ARRAY['unaccent', 'pg_trgm'] LOOP
        IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = ext) THEN
            BEGIN
                EXECUTE format('CREATE EXTENSION IF NOT EXISTS %I', ext);
            EXCEPTION WHEN insufficient_privilege THEN
                RAISE NOTICE 'extension % not created (%): the knowledge base works without it', ext, SQLERRM;
            END;
        ELSE
            RAISE NOTICE 'extension % is not available on this server: the knowledge base works without it', ext;
        END IF;
    END LOOP;
END $$;

-- Lower case without accents, IMMUTABLE so that it may build an index (the
-- extension's own unaccent() is only STABLE: the usual wrapper, with the
-- dictionary named so that it never depends on search_path).
DO $$
DECLARE
    schema_name text;
BEGIN
    SELECT n.nspname INTO schema_name FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'unaccent';
    IF schema_name IS NOT NULL THEN
        EXECUTE format(
            'CREATE FUNCTION knowledge_fold(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE'
            ' AS %L',
            format('SELECT lower(%I.unaccent(%L::regdictionary, $1))', schema_name, schema_name || '.unaccent'));
    ELSE
        CREATE FUNCTION knowledge_fold(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $f$
            SELECT lower(translate($1,
                'ÀÁÂÃÄÅàáâãäåĀāĂăĄąÇçĆćČčĎďÈÉÊËèéêëĒēĖėĘęĚěÌÍÎÏìíîïĪīĮįŁłÑñŃńŇňÒÓÔÕÖØòóôõöøŌōŐőŔŕŘřŚśŠšŞşŤťÙÚÛÜùúûüŪūŮůŰűŲųÝýÿŹźŻżŽž',
                'AAAAAAaaaaaaAaAaAaCcCcCcDdEEEEeeeeEeEeEeEeIIIIiiiiIiIiLlNnNnNnOOOOOOooooooOoOoRrRrSsSsSsTtUUUUuuuuUuUuUuUuYyyZzZzZz'))
        $f$;
    END IF;
END $$;

-- What search_vector holds: the title and the tags (weight A) and the content
-- (weight B), folded, in the tenant's language (settings.knowledge_language:
-- its stemmer and stop words). IMMUTABLE for the generated column
-- (array_to_string is only STABLE in general; over text[] it is immutable).
CREATE FUNCTION knowledge_vector(config regconfig, title text, tags text[], content text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector(config, knowledge_fold(title || ' ' || array_to_string(tags, ' '))), 'A')
        || setweight(to_tsvector(config, knowledge_fold(content)), 'B')
$$;

-- One fact of a business: a title (the question it answers, or a heading),
-- its content, tags, and where it came from: `source` is NULL for an entry
-- written through the API or the console, else the imported file's name
-- (importing that name again replaces its entries) or 'settings.knowledge_base'
-- for what this migration moved out of the settings.
CREATE TABLE knowledge_entries (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    title         text NOT NULL CHECK (btrim(title) <> '' AND length(title) <= 300),
    content       text NOT NULL CHECK (btrim(content) <> '' AND length(content) <= 20000),
    tags          text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 20),
    source        text CHECK (source <> '' AND length(source) <= 200),
    -- the order of an imported file's entries
    position      integer NOT NULL DEFAULT 0 CHECK (position >= 0),
    -- the tenant's settings.knowledge_language when the entry was last indexed
    language      regconfig NOT NULL DEFAULT 'portuguese',
    search_vector tsvector GENERATED ALWAYS AS (knowledge_vector(language, title, tags, content)) STORED,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- who wrote it last: a user, a token's name, the platform admin, an import
    updated_by    text NOT NULL DEFAULT ''
);
CREATE INDEX knowledge_entries_tenant_idx ON knowledge_entries (tenant_id, source, position);
CREATE INDEX knowledge_entries_search_idx ON knowledge_entries USING gin (search_vector);

-- The words of a tenant's entries (folded; as written, and as the entries'
-- language stems them), for correcting a customer's typos to words the
-- knowledge base has. Words are added as entries are written and rebuilt
-- when a source is replaced or the language changes; a word left by a
-- deleted entry only ever matches nothing.
CREATE TABLE knowledge_words (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    word      text NOT NULL CHECK (word <> ''),
    PRIMARY KEY (tenant_id, word)
);
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX knowledge_words_trgm_idx ON knowledge_words USING gin (word gin_trgm_ops);
    END IF;
END $$;

-- Which entries a reply was written from (the timeline shows them; the
-- knowledge list counts them). The title is kept as it was, so a source
-- deleted since still has a name; the rows go with their reply token.
CREATE TABLE reply_sources (
    reply_token_id uuid NOT NULL REFERENCES reply_tokens (id) ON DELETE CASCADE,
    rank           smallint NOT NULL CHECK (rank >= 1),
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    entry_id       uuid REFERENCES knowledge_entries (id) ON DELETE SET NULL,
    title          text NOT NULL,
    score          real,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (reply_token_id, rank)
);
CREATE INDEX reply_sources_entry_idx ON reply_sources (entry_id, created_at) WHERE entry_id IS NOT NULL;

-- settings.knowledge_base ([{question, answer}, ...]) becomes entries: the
-- question is the title, the answer the content, in the list's order.
INSERT INTO knowledge_entries (tenant_id, title, content, source, position, updated_by)
SELECT t.id, left(btrim(item.value ->> 'question'), 300), left(btrim(item.value ->> 'answer'), 20000),
       'settings.knowledge_base', item.ordinality - 1, 'migration 0010'
  FROM tenants t
 CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(t.settings -> 'knowledge_base') = 'array' THEN t.settings -> 'knowledge_base'
             ELSE '[]'::jsonb END) WITH ORDINALITY AS item(value, ordinality)
 WHERE jsonb_typeof(item.value) = 'object'
   AND btrim(coalesce(item.value ->> 'question', '')) <> ''
   AND btrim(coalesce(item.value ->> 'answer', '')) <> '';

INSERT INTO knowledge_words (tenant_id, word)
SELECT DISTINCT e.tenant_id, w.lexeme
  FROM knowledge_entries e
 CROSS JOIN LATERAL (SELECT lexeme FROM unnest(to_tsvector('simple',
                         knowledge_fold(e.title || ' ' || array_to_string(e.tags, ' ') || ' ' || e.content)))
                     UNION SELECT lexeme FROM unnest(e.search_vector)) AS w
ON CONFLICT DO NOTHING;

UPDATE tenants SET settings = settings - 'knowledge_base' WHERE settings ? 'knowledge_base';
