-- The send guard ("is a newer token there?") and a takeover ("cancel this
-- chat's open replies") look tokens up by session in every state; schema v1
-- indexes them by session only while pending.
CREATE INDEX reply_tokens_session_created_idx ON reply_tokens (session_id, created_at);
