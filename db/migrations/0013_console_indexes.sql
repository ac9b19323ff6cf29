-- The console's inbox: a tenant's chats, newest activity first, a page at a
-- time (core/sessions.py inbox). Without this index each page sorts every
-- chat of the tenant; with it a page reads its 50 rows in order. The last
-- message of each chat on the page comes from messages_history_idx, and a
-- chat page's events from events_timeline_idx, both there already.
CREATE INDEX IF NOT EXISTS sessions_inbox_idx ON sessions (tenant_id, updated_at DESC, id DESC);
