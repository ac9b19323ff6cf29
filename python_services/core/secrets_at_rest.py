"""Secrets at rest: a tenant's Evolution API key (`tenants.evo_api_key`) and
its own LLM key (`settings.llm_api_key`) are kept encrypted in Postgres with
the application key, so the database and its backups alone do not give
them away. core/tenants.py seals them on every write and opens them on every
read: no other module ever sees a sealed value.

Fernet (the `cryptography` library): AES-128-CBC with an HMAC-SHA256 over it.
A sealed value is stored as `fernet:<token>`; a value without the prefix is a
plain one written before this existed (or by hand): it is read as it is, and
the collision service seals it at its next start (seal_stored_secrets in
core/tenants.py). An empty value stays empty ("no key").

The application keys come from HYBRIDFLOW_SECRET_KEYS, comma-separated: the
first seals, every one opens (MultiFernet). Rotation: put a new key first and
keep the old one second, restart the services; at start the collision service
re-seals every stored secret with the new key (log line `secrets_sealed`);
from then on the old key may be dropped. A value that no key opens is an
UnreadableSecret: the wrong key, or an old one dropped too early."""
from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

from ..common.config import ConfigError
from ..common.errors import ApiError

PREFIX = "fernet:"
VARIABLE = "HYBRIDFLOW_SECRET_KEYS"
_EXTENSION = "hybridflow_secret_keys"


class UnreadableSecret(ApiError):
    """A stored secret that none of the application keys opens."""

    def __init__(self, what: str):
        super().__init__(500, "secret_unreadable",
                         f"{what} cannot be decrypted with {VARIABLE}: the key it was encrypted with is not among "
                         f"them (a changed key? keep the old one after the new one until the collision service "
                         f"has re-encrypted everything at start)")


class Keyring:
    """The application keys: seal() with the first, open() with any."""

    def __init__(self, keys):
        keys = [k for k in keys if k]
        if not keys:
            raise ConfigError(
                f"{VARIABLE} is not set: the services keep tenants' Evolution and LLM keys encrypted with it. "
                f"`make up` generates one into .env; elsewhere make one with python -c \"from "
                f"cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\" and set it "
                f"(comma-separated keys: the first encrypts, all decrypt; see README, Configuration)")
        self._first = Fernet(keys[0])
        self._all = MultiFernet([Fernet(k) for k in keys])

    @staticmethod
    def is_sealed(value) -> bool:
        return isinstance(value, str) and value.startswith(PREFIX)

    def seal(self, plain: str) -> str:
        """The value to store (empty stays empty). Always encrypted, even one
        that looks sealed: what is written is never trusted to be ciphertext."""
        if not plain:
            return plain
        return PREFIX + self._first.encrypt(plain.encode("utf-8")).decode("ascii")

    def open(self, stored: str, what: str = "a stored secret") -> str:
        """The plain value of what was stored (a plain legacy value as it is)."""
        if not self.is_sealed(stored):
            return stored
        try:
            return self._all.decrypt(stored[len(PREFIX):].encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise UnreadableSecret(what) from None

    def reseal(self, stored: str, what: str = "a stored secret") -> str | None:
        """The value sealed with the first key, or None when it already is
        (or is empty): a plain value is sealed, one sealed with an older key is
        re-sealed (MultiFernet.rotate keeps its original timestamp)."""
        if not stored:
            return None
        if not self.is_sealed(stored):
            return self.seal(stored)
        token = stored[len(PREFIX):].encode("ascii")
        try:
            self._first.decrypt(token)
            return None
        except InvalidToken:
            pass
        try:
            return PREFIX + self._all.rotate(token).decode("ascii")
        except InvalidToken:
            raise UnreadableSecret(what) from None


def install(app) -> Keyring:
    """At create_app: the service's keyring from its Config; without a key
    the service stops here, with a message naming the variable."""
    ring = Keyring(app.config["HF"].secret_keys)
    app.extensions[_EXTENSION] = ring
    return ring


def keyring() -> Keyring:
    """The running service's keyring (installed by its create_app)."""
    ring = current_app.extensions.get(_EXTENSION)
    if ring is None:
        raise RuntimeError("this app has no keyring: its create_app must call secrets_at_rest.install(app)")
    return ring
