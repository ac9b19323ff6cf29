-- Schema v1: every piece of HybridFlow state. Constraints do the integrity
-- work (uniqueness, foreign keys, CHECKs on enumerations) so that no code
-- path can write a row the rules would not explain.

CREATE TABLE tenants (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    instance_name       text NOT NULL UNIQUE
                        CHECK (instance_name ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$'),
    business_name       text NOT NULL DEFAULT '',
    evo_server_url      text NOT NULL DEFAULT '',
    evo_api_key         text NOT NULL DEFAULT '',
    -- sha256 hex of the per-tenant webhook secret; the secret itself is
    -- returned once at creation and never stored.
    webhook_secret_hash text NOT NULL CHECK (webhook_secret_hash ~ '^[0-9a-f]{64}$'),
    system_prompt       text NOT NULL DEFAULT '',
    llm_provider        text NOT NULL DEFAULT 'offline'
                        CHECK (llm_provider IN ('anthropic', 'openai', 'openai_compatible', 'offline')),
    llm_model           text NOT NULL DEFAULT '',
    settings            jsonb NOT NULL DEFAULT '{}'::jsonb
                        CHECK (jsonb_typeof(settings) = 'object'),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- One row per chat (keyed on the phone JID) of a tenant: the pause state.
CREATE TABLE sessions (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    chat_id          text NOT NULL CHECK (chat_id <> ''),
    customer_name    text NOT NULL DEFAULT '',
    paused           boolean NOT NULL DEFAULT false,
    pause_reason     text CHECK (pause_reason IN
                        ('human_takeover', 'owner_command', 'customer_request', 'handoff', 'manual')),
    paused_at        timestamptz,
    -- NULL while paused means "until resumed by hand".
    paused_until     timestamptz,
    last_customer_at timestamptz,
    last_human_at    timestamptz,
    last_bot_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, chat_id),
    CHECK (paused = (pause_reason IS NOT NULL)),
    CHECK (paused OR paused_until IS NULL)
);
CREATE INDEX sessions_due_idx ON sessions (paused_until) WHERE paused AND paused_until IS NOT NULL;

-- WhatsApp LID ids (…@lid) seen for a phone JID, so either form finds the chat.
CREATE TABLE chat_aliases (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    alias_jid  text NOT NULL,
    chat_id    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, alias_jid)
);

-- A reply the bot owes a chat. Every token ends in exactly one of
-- sent / superseded / cancelled / failed.
CREATE TABLE reply_tokens (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    session_id     uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    chat_id        text NOT NULL,
    state          text NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'claimed', 'sent', 'superseded', 'cancelled', 'failed')),
    reason         text,
    superseded_by  uuid REFERENCES reply_tokens (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- when the flow should have finished with it; the recovery flow looks past it
    deadline_at    timestamptz NOT NULL,
    claimed_at     timestamptz,
    finished_at    timestamptz,
    attempts       integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    reply_text     text,
    handoff        boolean NOT NULL DEFAULT false,
    llm_provider   text,
    llm_model      text,
    llm_outcome    text,
    tokens_in      integer CHECK (tokens_in >= 0),
    tokens_out     integer CHECK (tokens_out >= 0),
    llm_latency_ms integer CHECK (llm_latency_ms >= 0),
    error          text,
    CHECK ((state IN ('pending', 'claimed')) = (finished_at IS NULL)),
    CHECK (state <> 'failed' OR error IS NOT NULL)
);
-- At most one token waits per chat: a new customer message supersedes it.
CREATE UNIQUE INDEX reply_tokens_one_pending_per_session
    ON reply_tokens (session_id) WHERE state = 'pending';
CREATE INDEX reply_tokens_open_deadline_idx
    ON reply_tokens (deadline_at) WHERE state IN ('pending', 'claimed');
CREATE INDEX reply_tokens_tenant_created_idx ON reply_tokens (tenant_id, created_at);

-- Every message of a chat in both directions: the history the LLM sees.
CREATE TABLE messages (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    session_id     uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    chat_id        text NOT NULL,
    wa_message_id  text NOT NULL CHECK (wa_message_id <> ''),
    author         text NOT NULL CHECK (author IN ('customer', 'business', 'bot', 'system')),
    message_type   text NOT NULL,
    text           text,
    sent_at        timestamptz NOT NULL,
    edited_at      timestamptz,
    deleted_at     timestamptz,
    raw            jsonb,
    reply_token_id uuid REFERENCES reply_tokens (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, wa_message_id)
);
CREATE INDEX messages_history_idx ON messages (session_id, sent_at DESC, id DESC);
CREATE INDEX messages_reply_token_idx ON messages (reply_token_id) WHERE reply_token_id IS NOT NULL;

-- One row per webhook that passed authentication: the decision and why.
CREATE TABLE events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    event_type     text NOT NULL,
    chat_id        text,
    wa_message_id  text,
    from_me        boolean,
    author         text CHECK (author IN ('customer', 'business', 'bot', 'system')),
    decision       text NOT NULL CHECK (decision IN
                     ('reply', 'duplicate', 'ignore', 'bot_echo', 'human_takeover', 'paused',
                      'handoff', 'command', 'stale', 'refused')),
    reason         text NOT NULL,
    -- same tenant + event + message id = the same delivery; only the first is handled
    dedupe_key     text,
    message_id     bigint REFERENCES messages (id),
    reply_token_id uuid REFERENCES reply_tokens (id),
    received_at    timestamptz NOT NULL DEFAULT now(),
    duration_ms    real,
    error          text
);
CREATE UNIQUE INDEX events_first_delivery
    ON events (tenant_id, dedupe_key) WHERE decision <> 'duplicate' AND dedupe_key IS NOT NULL;
CREATE INDEX events_timeline_idx ON events (tenant_id, chat_id, received_at);

-- The outbound ledger: every message the bot sends (or is about to send), so
-- that its echo from Evolution is recognised as the bot and not a person.
CREATE TABLE outbound (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    chat_id        text NOT NULL,
    reply_token_id uuid REFERENCES reply_tokens (id),
    part           integer NOT NULL DEFAULT 0 CHECK (part >= 0),
    text           text NOT NULL,
    state          text NOT NULL DEFAULT 'claimed'
                   CHECK (state IN ('claimed', 'sent', 'failed', 'cancelled')),
    wa_message_id  text,
    claimed_at     timestamptz NOT NULL DEFAULT now(),
    confirmed_at   timestamptz,
    error          text,
    UNIQUE (tenant_id, wa_message_id),
    CHECK (state <> 'sent' OR wa_message_id IS NOT NULL)
);
CREATE INDEX outbound_pending_match_idx ON outbound (tenant_id, chat_id, claimed_at) WHERE state = 'claimed';
