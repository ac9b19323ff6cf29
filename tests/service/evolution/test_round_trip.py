"""The whole conversation on the sandbox, with n8n's part played by the test:
each webhook the sandbox delivers goes to the collision service as n8n would
forward it, the reply goes out through the evolution service, its echo is
recognised as the bot, and the owner writing pauses the chat."""
from __future__ import annotations

from python_services.collision.app import create_app as create_collision

from .conftest import INSTANCE, NUMBER


def forward(collision, service_headers, delivered):
    """What n8n's inbound flow does first: pass Evolution's body and secret on."""
    headers = {**service_headers, "X-Webhook-Secret": delivered["headers"]["X-Webhook-Secret"]}
    resp = collision.post("/webhooks/evolution", json=delivered["body"], headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def test_customer_bot_and_owner_take_turns_on_the_sandbox(
        make_app, service_config, service_headers, admin_headers, evolution, sandbox, receiver, tenant):
    collision = make_app(create_collision, service_config).test_client()
    row = tenant({"typing": False, "debounce_seconds": 0})
    connected = collision.post(f"/api/tenants/{row['id']}/connect", json={"webhook_url": receiver.url},
                               headers=admin_headers)
    assert connected.status_code == 200

    sandbox.post("/sandbox/customer", json={"instance": INSTANCE, "number": NUMBER, "text": "Oi! Tem o tênis azul?"})
    [customer] = receiver.wait_for(1)
    # connecting set byEvents: each event on a path of its own under the webhook URL
    assert customer["path"] == "/webhook/evolution/messages-upsert"
    decided = forward(collision, service_headers, customer)
    assert decided["decision"] == "reply"

    sent = evolution.post("/send", json={"reply_token": decided["reply_token"], "text": "Temos sim!"},
                          headers=service_headers).get_json()
    assert sent["outcome"] == "sent"
    echo = receiver.wait_for(2)[1]
    assert echo["body"]["event"] == "send.message"
    assert echo["path"] == "/webhook/evolution/send-message"  # n8n's lean echo flow
    assert forward(collision, service_headers, echo)["decision"] == "bot_echo"

    sandbox.post("/sandbox/owner", json={"instance": INSTANCE, "number": NUMBER, "text": "Aqui é o João."})
    owner = receiver.wait_for(3)[2]
    assert forward(collision, service_headers, owner)["decision"] == "human_takeover"

    sandbox.post("/sandbox/customer", json={"instance": INSTANCE, "number": NUMBER, "text": "Oi João!"})
    again = receiver.wait_for(4)[3]
    assert forward(collision, service_headers, again)["decision"] == "paused"
