-- Voice notes and images (issue 16). A media message keeps a reference to
-- its media, never the media itself: the bytes stay on Evolution's server
-- and are fetched when needed (POST /chat/getBase64FromMediaMessage).

-- messages.media: what the webhook said about the media (core/media.py):
-- {"kind": "audio"|"image"|"document"|"sticker"|"video", "mimetype",
--  "seconds", "file_name", "caption", "ptt", "bytes", "width", "height"},
-- and, for a voice note, what became of it under "transcription":
-- {"state": "working"|"done"|"fallback", "since", "reason", "seconds"}.
-- transcribed_by: who turned the voice note into the message's text
-- ('evolution' for Evolution's own speechToText, else the provider that
-- HybridFlow called: 'openai', 'openai_compatible'); NULL = not transcribed.
-- transcription_model / transcription_seconds: what was paid for (usage).
ALTER TABLE messages
    ADD COLUMN media jsonb CHECK (media IS NULL OR jsonb_typeof(media) = 'object'),
    ADD COLUMN transcribed_by text CHECK (transcribed_by <> ''),
    ADD COLUMN transcription_model text,
    ADD COLUMN transcription_seconds real CHECK (transcription_seconds >= 0);

-- transcriptions per tenant and day (GET /api/usage), paid ones only
CREATE INDEX messages_transcribed_idx ON messages (tenant_id, created_at)
    WHERE transcribed_by IS NOT NULL AND transcribed_by <> 'evolution';

-- A reply's images: how many reached the model as image parts, and the
-- input tokens they cost (estimated with the provider's own formula; the
-- provider's tokens_in already includes them, this is the breakdown).
ALTER TABLE reply_tokens
    ADD COLUMN images integer CHECK (images >= 0),
    ADD COLUMN image_tokens integer CHECK (image_tokens >= 0);

-- New timeline decisions for a voice note (event_type 'hybridflow.voice_note'):
-- 'transcribed' (its text is in history), 'ask_to_write' (the polite answer
-- asking the customer to write it instead); a 'handoff' is the existing one.
-- (hf_allow_decisions: migration 0011)
SELECT hf_allow_decisions(ARRAY['transcribed', 'ask_to_write']);
