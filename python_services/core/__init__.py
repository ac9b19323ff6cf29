"""The domain every HybridFlow service shares: normalising Evolution's
webhooks, the rules (`decide`), the reply ledger and the send guard, tenants
and their settings and secrets, the Evolution client, where the services are.

Each table's SQL lives in one module named after it (`tenants`, `sessions`,
`messages`, `events`, `reply_tokens`, `outbound`, `chat_aliases`); the other
modules call those named functions. `core` imports only `common`; the
services import `core` and `common`, never each other (see
docs/architecture.md)."""
