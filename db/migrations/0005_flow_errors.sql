-- Failures of the n8n flows themselves (the errors flow records them), linked
-- to the reply they were about where the error names one.
CREATE TABLE flow_errors (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id    text NOT NULL,
    workflow_name  text NOT NULL DEFAULT '',
    execution_id   text,
    node           text,
    message        text NOT NULL,
    description    text,
    reply_token_id uuid REFERENCES reply_tokens (id) ON DELETE SET NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX flow_errors_recorded_idx ON flow_errors (recorded_at);
