-- Rotation without loss: after a rotation the previous webhook secret's hash
-- stays accepted for the tenant's settings.webhook_secret_grace_minutes
-- (60 by default), counted from webhook_secret_rotated_at. The grace is read
-- when a webhook comes in, so shortening the setting (to 0, after a leak)
-- ends it at once. Only one previous secret is kept.
ALTER TABLE tenants
    ADD COLUMN previous_webhook_secret_hash text
        CHECK (previous_webhook_secret_hash ~ '^[0-9a-f]{64}$'),
    ADD COLUMN webhook_secret_rotated_at timestamptz,
    ADD CONSTRAINT tenants_previous_secret_has_a_rotation
        CHECK (previous_webhook_secret_hash IS NULL OR webhook_secret_rotated_at IS NOT NULL);

-- Retention: POST /cron/prune deletes, per tenant, what is older than
-- settings.retention_days (90 by default), oldest first, a few hundred rows a
-- statement. These indexes let each statement find a tenant's oldest rows
-- without scanning the table (reply_tokens has (tenant_id, created_at) and
-- flow_errors (recorded_at) already).
CREATE INDEX events_tenant_received_idx ON events (tenant_id, received_at);
CREATE INDEX messages_tenant_created_idx ON messages (tenant_id, created_at);
CREATE INDEX outbound_tenant_claimed_idx ON outbound (tenant_id, claimed_at);
CREATE INDEX chat_aliases_tenant_created_idx ON chat_aliases (tenant_id, created_at);

-- Deleting a row makes Postgres look up every row that refers to it: without
-- an index on the referring column, each deleted message or reply token would
-- scan the whole of events (or outbound, reply_tokens, flow_errors).
CREATE INDEX IF NOT EXISTS events_message_idx ON events (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_reply_token_idx ON events (reply_token_id) WHERE reply_token_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbound_reply_token_idx ON outbound (reply_token_id) WHERE reply_token_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS reply_tokens_superseded_by_idx ON reply_tokens (superseded_by) WHERE superseded_by IS NOT NULL;
CREATE INDEX IF NOT EXISTS flow_errors_reply_token_idx ON flow_errors (reply_token_id) WHERE reply_token_id IS NOT NULL;

-- A newer row may point at an older one that retention removes (an edit or a
-- deletion of a message older than retention_days, a token superseded by a
-- pruned one): the link is cleared, the newer row stays.
ALTER TABLE events
    DROP CONSTRAINT events_message_id_fkey,
    ADD CONSTRAINT events_message_id_fkey FOREIGN KEY (message_id) REFERENCES messages (id) ON DELETE SET NULL,
    DROP CONSTRAINT events_reply_token_id_fkey,
    ADD CONSTRAINT events_reply_token_id_fkey FOREIGN KEY (reply_token_id)
        REFERENCES reply_tokens (id) ON DELETE SET NULL;
ALTER TABLE reply_tokens
    DROP CONSTRAINT reply_tokens_superseded_by_fkey,
    ADD CONSTRAINT reply_tokens_superseded_by_fkey FOREIGN KEY (superseded_by)
        REFERENCES reply_tokens (id) ON DELETE SET NULL;
