-- Business hours, away messages, limits and notifications (issue 17).

-- Things said once per period, so that a rule fires once and then stays
-- quiet: the away message once per chat per closed period ('away_message',
-- period_start = when the shop closed), `rate_limited` once per chat per
-- hour ('rate_limited', the tenant's local hour), the budget notice once per
-- tenant per day ('over_budget', chat_id '', the tenant's local midnight).
-- The primary key makes "once" hold under concurrent webhooks too.
CREATE TABLE period_notices (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('away_message', 'rate_limited', 'over_budget')),
    -- '' for a notice about the whole tenant
    chat_id      text NOT NULL DEFAULT '',
    period_start timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind, chat_id, period_start)
);
CREATE INDEX period_notices_created_idx ON period_notices (tenant_id, created_at);

-- One row per event the team was told about (POST /notify on the evolution
-- service): a second call for the same event sends nothing again. What each
-- channel did is kept for the operator ('sent', 'failed: ...', 'off').
CREATE TABLE notifications (
    event_id   bigint PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    event      text NOT NULL CHECK (event IN ('takeover', 'handoff', 'rate_limited', 'over_budget')),
    text       text NOT NULL,
    whatsapp   text,
    email      text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_tenant_created_idx ON notifications (tenant_id, created_at);

-- A reply the rules wrote themselves (the away message) is sent as it is,
-- never given to the LLM: the recovery flow's retry included. A reply made
-- while the tenant is over its daily LLM budget with over_budget 'offline'
-- is written by the offline provider only.
ALTER TABLE reply_tokens
    ADD COLUMN fixed_text text CHECK (fixed_text <> ''),
    ADD COLUMN over_budget boolean NOT NULL DEFAULT false;

-- Sends that belong to no reply (a notification to the owner's number) are
-- in the outbound ledger too, so that their echo is the bot's own.

-- Whether the event's verdict asked for the team to be told (the webhook
-- answer's `notify`): POST /notify tells only of such events. A concurrent
-- duplicate of a once-per-period notice (say_once) records false, so calling
-- /notify with its id sends nothing.
ALTER TABLE events ADD COLUMN notify boolean NOT NULL DEFAULT false;

-- Adds decisions to the CHECK on events.decision. The allowed list is read
-- from the constraint as it stands (other migrations add decisions too), the
-- new ones are added to it, and the constraint is written again as an IN list,
-- so that it reads (and parses) as the original did. Later migrations call it.
CREATE OR REPLACE FUNCTION hf_allow_decisions(added text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    check_name text;
    allowed text[];
BEGIN
    SELECT c.conname INTO check_name FROM pg_constraint c
     WHERE c.conrelid = 'events'::regclass AND c.contype = 'c'
       AND pg_get_constraintdef(c.oid) LIKE '%decision%' AND pg_get_constraintdef(c.oid) LIKE '%''reply''%'
     LIMIT 1;
    IF check_name IS NULL THEN
        RAISE EXCEPTION 'events has no CHECK on decision to extend';
    END IF;
    SELECT array_agg(DISTINCT m[1]) INTO allowed
      FROM pg_constraint c, regexp_matches(pg_get_constraintdef(c.oid), '''([a-z_]+)''', 'g') AS m
     WHERE c.conrelid = 'events'::regclass AND c.conname = check_name;
    allowed := array(SELECT DISTINCT unnest(allowed || added) ORDER BY 1);
    EXECUTE format('ALTER TABLE events DROP CONSTRAINT %I', check_name);
    EXECUTE format('ALTER TABLE events ADD CONSTRAINT events_decision_check CHECK (decision IN (%s))',
                   (SELECT string_agg(quote_literal(d), ', ') FROM unnest(allowed) AS d));
END $$;

-- New timeline decisions: 'outside_hours', 'rate_limited', 'over_budget'.
SELECT hf_allow_decisions(ARRAY['outside_hours', 'rate_limited', 'over_budget']);
