"""Tenants' keys at rest: sealed with the application key, opened with any of
the given keys (rotation), unreadable without the right one, with errors
that name the variable and never show a key."""
from __future__ import annotations

import secrets

import pytest
from cryptography.fernet import Fernet

from python_services.common.config import Config, ConfigError
from python_services.core.secrets_at_rest import PREFIX, Keyring, UnreadableSecret

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()
PLAIN = "B6D711FCDE4D4FD5936544120E713976"


def test_a_sealed_value_does_not_contain_the_key_and_opens_back():
    ring = Keyring([NEW])
    sealed = ring.seal(PLAIN)
    assert sealed.startswith(PREFIX) and PLAIN not in sealed
    assert ring.open(sealed) == PLAIN
    # a fresh token each time: equal keys cannot be spotted in the table
    assert ring.seal(PLAIN) != sealed


def test_an_empty_value_stays_empty_and_a_plain_legacy_value_reads_as_it_is():
    ring = Keyring([NEW])
    assert ring.seal("") == "" and ring.open("") == ""
    assert ring.open(PLAIN) == PLAIN
    # a value that merely looks sealed is a value like any other
    assert ring.open(ring.seal("fernet:not-really")) == "fernet:not-really"


def test_without_the_right_application_key_a_sealed_value_cannot_be_read():
    sealed = Keyring([OLD]).seal(PLAIN)
    with pytest.raises(UnreadableSecret) as err:
        Keyring([NEW]).open(sealed, "the Evolution API key of tenant 'acme-store'")
    assert err.value.code == "secret_unreadable"
    assert "HYBRIDFLOW_SECRET_KEYS" in err.value.message and "acme-store" in err.value.message
    assert PLAIN not in err.value.message and NEW not in err.value.message


def test_a_tampered_value_cannot_be_read():
    ring = Keyring([NEW])
    sealed = ring.seal(PLAIN)
    with pytest.raises(UnreadableSecret):
        ring.open(sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:])


def test_after_a_rotation_values_sealed_with_the_old_key_still_open_and_are_resealed_with_the_new():
    old_sealed = Keyring([OLD]).seal(PLAIN)
    rotated = Keyring([NEW, OLD])
    assert rotated.open(old_sealed) == PLAIN
    resealed = rotated.reseal(old_sealed)
    assert Keyring([NEW]).open(resealed) == PLAIN
    # already under the first key, or empty: nothing to do
    assert rotated.reseal(resealed) is None and rotated.reseal("") is None
    # a plain legacy value gets sealed
    assert Keyring([NEW]).open(rotated.reseal(PLAIN)) == PLAIN
    with pytest.raises(UnreadableSecret):
        Keyring([NEW]).reseal(Keyring([Fernet.generate_key().decode()]).seal(PLAIN))


def test_no_application_key_is_a_start_error_naming_the_variable():
    with pytest.raises(ConfigError, match="HYBRIDFLOW_SECRET_KEYS is not set"):
        Keyring(Config.from_env({"HYBRIDFLOW_SECRET_KEYS": ""}, env_file="/nonexistent").secret_keys)


def test_the_variable_takes_comma_separated_keys_first_one_first_and_the_generated_form():
    unpadded = secrets.token_urlsafe(32)  # what make up generates: a Fernet key without its "="
    cfg = Config.from_env({"HYBRIDFLOW_SECRET_KEYS": f" {NEW} , {unpadded}"}, env_file="/nonexistent")
    assert cfg.secret_keys == (NEW, unpadded + "=")
    assert Keyring(cfg.secret_keys).open(Keyring([unpadded + "="]).seal(PLAIN)) == PLAIN
    assert NEW not in repr(cfg)


@pytest.mark.parametrize("value", ["not-a-key", "a" * 44, secrets.token_urlsafe(16), "é" * 43])
def test_a_malformed_application_key_stops_the_start_without_showing_it(value):
    with pytest.raises(ConfigError) as err:
        Config.from_env({"HYBRIDFLOW_SECRET_KEYS": f"{NEW},{value}"}, env_file="/nonexistent")
    assert "HYBRIDFLOW_SECRET_KEYS: key 2 of 2" in str(err.value)
    assert value not in str(err.value) and NEW not in str(err.value)
