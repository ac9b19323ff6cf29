-- Accounts and access (issue 13): people who log in to the console, their
-- role in each business, the businesses' own API tokens, console sessions,
-- and failed logins (shared by every worker, for throttling). Secrets are
-- never stored: passwords as scrypt hashes (werkzeug), tokens and session
-- ids as their sha256 (they are 32 random bytes: no salt or slow hash needed).

-- A person. One person may belong to several tenants (memberships).
CREATE TABLE users (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- stored lower-cased and trimmed; that is what login compares
    email               text NOT NULL UNIQUE
                        CHECK (email = lower(btrim(email)) AND length(email) <= 254
                               AND email ~ '^[^@\s]+@[^@\s]+$'),
    password_hash       text NOT NULL CHECK (password_hash <> ''),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    last_login_at       timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- A person's role in one tenant: owner (everything of that tenant), agent
-- (read, pause and resume chats), viewer (read). The rules: core/access.py.
CREATE TABLE memberships (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('owner', 'agent', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

-- A tenant's API token (Authorization: Bearer hft_...): shown once, kept as
-- its sha256; revoked_at set = refused from that moment on.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (name <> '' AND length(name) <= 100),
    role         text NOT NULL CHECK (role IN ('owner', 'agent', 'viewer')),
    token_hash   text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    -- the token's first characters, so a person can tell which one is which
    prefix       text NOT NULL,
    created_by   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- updated at most once a minute per token (no write on every request)
    last_used_at timestamptz,
    revoked_at   timestamptz
);
-- a name is unique among a tenant's live tokens (a revoked one frees it)
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (tenant_id, name) WHERE revoked_at IS NULL;

-- A console login, server-side: the cookie holds a random id, the table its
-- sha256. It ends when idle too long (last_seen_at), at expires_at whatever
-- happens, at logout, and for every session of a person when their password
-- changes or they are removed (revoked_at).
CREATE TABLE web_sessions (
    id_hash      text PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    address      text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT ''
);
CREATE INDEX web_sessions_user_idx ON web_sessions (user_id);

-- Failed logins of the last window, per account and per address, shared by
-- every worker: core/accounts.py slows logins down past a few of them. The
-- account is kept as a keyed hash of the e-mail typed (people type their
-- password into the e-mail field now and then).
CREATE TABLE login_failures (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_key text NOT NULL,
    address     text NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_account_idx ON login_failures (account_key, failed_at);
CREATE INDEX login_failures_address_idx ON login_failures (address, failed_at);
CREATE INDEX login_failures_failed_at_idx ON login_failures (failed_at);

-- Attribution: who paused a chat (a user, a token's name, the owner's phone,
-- the customer asking for a person); cleared when it resumes. The timeline
-- keeps the history: a row per pause and resume done through the API or the
-- schedule, with `actor` naming who (NULL for webhook rows, whose author says it).
ALTER TABLE sessions ADD COLUMN paused_by text;
ALTER TABLE events ADD COLUMN actor text;
