-- A send whose fate is unknown (issue 12): Evolution timed out, the connection
-- broke before it answered, or it failed with a 5xx after it may have sent the
-- message. Such a part is `unknown`: never sent again blindly, and matchable
-- as the bot's (an echo with its text is the bot, never a person) until its
-- echo or Evolution's own message list (/chat/findMessages) tells the truth.
ALTER TABLE outbound DROP CONSTRAINT outbound_state_check;
ALTER TABLE outbound ADD CONSTRAINT outbound_state_check
    CHECK (state IN ('claimed', 'unknown', 'sent', 'failed', 'cancelled'));

-- when the part's latest sendText went out: its echo window counts from here
-- (a part sent late in a long reply, or sent again, is matched from its own try)
ALTER TABLE outbound ADD COLUMN tried_at timestamptz;

-- how a sent part is known to have reached WhatsApp: Evolution's answer to
-- the send, its echo (send.message / fromMe upsert with our text), or
-- Evolution's message list; NULL for rows sent before this migration
ALTER TABLE outbound ADD COLUMN confirmed_by text
    CHECK (confirmed_by IN ('answer', 'echo', 'evolution'));
ALTER TABLE outbound ADD CONSTRAINT outbound_confirmed_only_when_sent
    CHECK (confirmed_by IS NULL OR state = 'sent');

-- echo matching reads the chat's parts without a WhatsApp id yet: claimed,
-- unknown, and failed ones (a failed send may still have gone out)
DROP INDEX outbound_pending_match_idx;
CREATE INDEX outbound_echo_match_idx ON outbound (tenant_id, chat_id, claimed_at)
    WHERE wa_message_id IS NULL AND state IN ('claimed', 'unknown', 'failed');
