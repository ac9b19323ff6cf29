"""The request log lines carry a hash of the customer's phone number, not the
number, unless the operator asks for it (LOG_PHONE_NUMBERS=true or
LOG_LEVEL=DEBUG)."""
from __future__ import annotations

import json
import logging

import pytest

from python_services.collision.app import create_app
from python_services.common.db import close_pool
from python_services.common.logs import chat_hash, chat_hash_key
from tests.conftest import SERVICE_TOKEN, WEBHOOK_SECRET

from .conftest import CHAT, fresh

NUMBER = CHAT.split("@")[0]


def webhook_log_lines(service_config, service_headers, caplog, **config) -> list[str]:
    app = create_app({**service_config, **config})
    # create_app sets the root logger's handlers: listen again
    logging.getLogger().addHandler(caplog.handler)
    try:
        resp = app.test_client().post("/webhooks/evolution", json=fresh("01_customer_text_pn"),
                                      headers={**service_headers, "X-Webhook-Secret": WEBHOOK_SECRET})
        assert resp.status_code == 200
    finally:
        logging.getLogger().removeHandler(caplog.handler)
        close_pool(app)
    return [json.dumps(getattr(r, "fields", {})) for r in caplog.records]


def test_the_request_line_carries_a_hash_of_the_number_not_the_number(service_config, service_headers, tenant,
                                                                      caplog):
    lines = webhook_log_lines(service_config, service_headers, caplog)
    assert not any(NUMBER in line for line in lines)
    request = json.loads([ln for ln in lines if '"/webhooks/evolution"' in ln][-1])
    assert request["chat"] == chat_hash(CHAT, chat_hash_key(SERVICE_TOKEN))


@pytest.mark.parametrize("config", [{"LOG_PHONE_NUMBERS": "true"}, {"LOG_LEVEL": "DEBUG"}])
def test_the_operator_can_ask_for_the_numbers(service_config, service_headers, tenant, caplog, config):
    lines = webhook_log_lines(service_config, service_headers, caplog, **config)
    request = json.loads([ln for ln in lines if '"/webhooks/evolution"' in ln][-1])
    assert request["chat"] == CHAT
