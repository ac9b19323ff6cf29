"""The webhook secret check with a clock the test holds: the current secret
always, the previous one until rotated_at + grace, nothing else."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from python_services.core.webhook_secrets import check_secret, local_time, secret_hash

ROTATED_AT = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
TENANT = {
    "webhook_secret_hash": secret_hash("new-secret"),
    "previous_webhook_secret_hash": secret_hash("old-secret"),
    "webhook_secret_rotated_at": ROTATED_AT,
}


@pytest.mark.parametrize("given, minutes_later, accepted, previous", [
    ("new-secret", 0, True, False),
    ("new-secret", 10_000, True, False),
    ("old-secret", 0, True, True),
    ("old-secret", 59.9, True, True),
    ("old-secret", 60, False, True),
    ("old-secret", 600, False, True),
    ("guess", 0, False, False),
    ("", 0, False, False),
    (None, 0, False, False),
])
def test_the_previous_secret_is_accepted_until_the_grace_period_ends(given, minutes_later, accepted, previous):
    check = check_secret(given, TENANT, 60, ROTATED_AT + timedelta(minutes=minutes_later))
    assert (check.accepted, check.previous) == (accepted, previous)
    if previous:
        assert check.grace_until == ROTATED_AT + timedelta(minutes=60)


def test_a_tenant_never_rotated_accepts_only_its_secret():
    tenant = {"webhook_secret_hash": secret_hash("only"), "previous_webhook_secret_hash": None,
              "webhook_secret_rotated_at": None}
    assert check_secret("only", tenant, 60, ROTATED_AT).accepted
    assert not check_secret("old-secret", tenant, 60, ROTATED_AT).accepted


def test_the_grace_end_is_told_in_the_tenants_time_zone():
    assert local_time(ROTATED_AT, "America/Sao_Paulo") == "2026-05-01 09:00 America/Sao_Paulo"
    assert local_time(ROTATED_AT, "No/Such_Zone") == "2026-05-01 12:00 UTC"
