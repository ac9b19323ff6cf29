-- Secrets out of the data. messages.raw kept the whole webhook body, whose
-- envelope carries the instance's Evolution API key (`apikey`) and its setup
-- (`server_url`, `sender`, `destination`). New rows no longer get them
-- (core/normalize.py, stored_body); this strips them from the rows stored
-- before, with the same rule (kept_field): a top-level field is dropped when
-- its name, lower-cased without `-` and `_`, is one of those or an
-- authorization/cookie, or contains apikey/token/secret/password/credential.
--
-- Tenants' keys are not touched here: they are encrypted with the application
-- key (HYBRIDFLOW_SECRET_KEYS), which the database never sees; the collision
-- service seals plain ones at start (core/secrets_at_rest.py).
WITH fields AS (
    SELECT m.id, f.key, f.value,
           NOT (lower(translate(f.key, '-_', '')) IN
                    ('apikey', 'serverurl', 'sender', 'destination', 'authorization', 'cookie')
                OR lower(translate(f.key, '-_', '')) ~ '(apikey|token|secret|password|credential)') AS kept
      FROM messages m
     CROSS JOIN LATERAL jsonb_each(m.raw) AS f
     WHERE jsonb_typeof(m.raw) = 'object'
), stripped AS (
    SELECT id, coalesce(jsonb_object_agg(key, value) FILTER (WHERE kept), '{}'::jsonb) AS raw
      FROM fields
     GROUP BY id
    HAVING bool_or(NOT kept)
)
UPDATE messages m
   SET raw = s.raw
  FROM stripped s
 WHERE m.id = s.id;
