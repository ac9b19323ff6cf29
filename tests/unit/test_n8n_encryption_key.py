"""A second checkout, or a lost .env, brings a new N8N_ENCRYPTION_KEY to n8n's
old database: `make up` finds out before n8n starts (or from n8n's own
words when it dies) and says in one paragraph what to run."""
import json
from pathlib import Path

import pytest

from ops import keys

KEY, OTHER_KEY = "key-of-this-checkout", "key-of-the-other-checkout"


def test_a_database_made_with_this_key_is_fine():
    assert keys.key_mismatch(KEY, keys.key_marker(KEY), settings_key=KEY) is None


def test_a_database_made_with_another_key_is_found_before_n8n_starts():
    assert keys.key_mismatch(KEY, keys.key_marker(OTHER_KEY), settings_key=None) == "database"


@pytest.mark.parametrize("comment", [None, "", "a comment someone else wrote"])
def test_a_database_without_our_fingerprint_is_left_to_n8n_to_judge(comment):
    assert keys.key_mismatch(KEY, comment, settings_key=None) is None


def test_a_settings_file_written_with_another_key_is_found(tmp_path):
    keys.settings_file(tmp_path).parent.mkdir(parents=True)
    keys.settings_file(tmp_path).write_text(json.dumps({"encryptionKey": OTHER_KEY}))
    assert keys.key_mismatch(KEY, None, keys.settings_file_key(tmp_path)) == "settings file"


@pytest.mark.parametrize("content", [None, "not json", "[]"])
def test_a_missing_or_unreadable_settings_file_is_not_a_mismatch(tmp_path, content):
    if content is not None:
        keys.settings_file(tmp_path).parent.mkdir(parents=True)
        keys.settings_file(tmp_path).write_text(content)
    assert keys.settings_file_key(tmp_path) is None


def test_the_fingerprint_does_not_give_the_key_away():
    marker = keys.key_marker(KEY)
    assert KEY not in marker and keys.key_marker(KEY) == marker != keys.key_marker(OTHER_KEY)


@pytest.mark.parametrize("output", [
    "UnexpectedError: Deployment key 'signing.hmac' cannot be read with this instance encryption key\n    at ...",
    "Error: Mismatching encryption keys. The encryption key in the settings file /x/.n8n/config does not match",
])
def test_n8n_dying_of_a_key_that_does_not_fit_is_recognised(output):
    assert keys.shows_n8n_key_mismatch("Initializing n8n process\n" + output)


def test_other_start_failures_are_not_taken_for_a_key_mismatch():
    assert not keys.shows_n8n_key_mismatch("Error: listen EADDRINUSE: address already in use 127.0.0.1:5678")


def test_the_explanation_is_one_paragraph_that_says_what_to_run():
    where = keys.where_is("n8n's database", "postgresql://postgres:pw@127.0.0.1:5432/postgres", "hybridflow_n8n")
    text = keys.explain_n8n_key_mismatch(where, Path("/work/main/.env"))
    assert "\n" not in text
    assert "make reset-n8n" in text and "make up" in text and "/work/main/.env" in text
    assert "n8n's database 'hybridflow_n8n' on 127.0.0.1:5432" in text and "pw" not in text


def test_the_collision_service_dying_of_another_secrets_key_is_recognised():
    log = ("python_services.core.secrets_at_rest.UnreadableSecret: the Evolution API key of tenant 'demo' "
           "cannot be decrypted with HYBRIDFLOW_SECRET_KEYS")
    assert keys.shows_secrets_key_mismatch(log)
    assert not keys.shows_secrets_key_mismatch("ConfigError: DATABASE_URL is not set")
