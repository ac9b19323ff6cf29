"""Evolution v2 bodies -> one internal event, over real-shaped fixtures."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from python_services.core.normalize import clean_jid, normalize
from python_services.common.errors import ApiError
from tests.fixtures import webhook

RECEIVED = datetime(2025, 10, 21, 14, 0, tzinfo=timezone.utc)
PHONE = "5511987654321@s.whatsapp.net"
LID = "123456789012345@lid"


def at(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc)


# fixture -> the fields of the event that matter for it
CASES = {
    "01_customer_text_pn": dict(
        event_type="messages.upsert", kind="message", chat_id=PHONE, alias_jid=LID, from_me=False, author="customer",
        wa_message_id="A1C4E09B7F3D2E6A8B5C4D3E2F1A0B9C", message_type="conversation",
        text="Oi! Vocês têm o tênis azul no tamanho 38?", sent_at=at(1761055392), push_name="Maria Souza",
        dedupe_key="messages.upsert:A1C4E09B7F3D2E6A8B5C4D3E2F1A0B9C"),
    "02_customer_text_lid_with_phone_in_remoteJidAlt": dict(
        kind="message", chat_id=PHONE, alias_jid=LID, author="customer", text="Qual o horário de vocês?"),
    "02b_customer_text_lid_with_senderPn_and_device": dict(
        kind="message", chat_id=PHONE, alias_jid=LID, author="customer", text="Alô?", sent_at=at(1761055610)),
    "02c_customer_text_lid_only": dict(
        kind="message", chat_id=LID, alias_jid=None, author="customer", text="Oi de novo", sent_at=at(1761055620)),
    "03_customer_image_caption": dict(
        kind="message", chat_id=PHONE, author="customer", message_type="imageMessage", text="É esse aqui que eu quero"),
    "03b_customer_video_caption": dict(kind="message", message_type="videoMessage", text="Olha o defeito"),
    "03c_customer_document_with_caption": dict(kind="message", text="Segue o pedido"),
    "04_customer_audio_ptt": dict(kind="message", author="customer", message_type="audioMessage", text=None),
    "04b_customer_audio_with_speech_to_text": dict(
        kind="message", message_type="audioMessage", text="quero trocar o tamanho"),
    "05_owner_manual_reply_from_phone": dict(
        kind="message", chat_id=PHONE, from_me=True, author="business", status="SERVER_ACK",
        text="Oi Maria, aqui é o João da loja. Te faço frete grátis, pode ser?"),
    "05b_owner_reply_from_whatsapp_web_with_device_suffix": dict(
        kind="message", chat_id=PHONE, from_me=True, author="business", text="Já separei o seu pedido."),
    "06_bot_own_send_echo_send.message": dict(
        event_type="send.message", kind="message", chat_id=PHONE, from_me=True, author="business",
        wa_message_id="3EB0C1D2E3F4A5B6C7D8E9", text="Temos sim! O modelo Runner Azul 38 custa R$ 249,90.",
        dedupe_key="send.message:3EB0C1D2E3F4A5B6C7D8E9"),
    "06b_bot_send_reported_as_upsert_v2_2": dict(
        event_type="messages.upsert", kind="message", from_me=True, author="system", status="PENDING",
        wa_message_id="3EB0C1D2E3F4A5B6C7D8E9"),
    "07_group_message": dict(kind="message", chat_id="120363025246125486@g.us", chat_kind="group", author="customer"),
    "08_status_broadcast": dict(kind="message", chat_id="status@broadcast", chat_kind="status"),
    "09_newsletter": dict(kind="message", chat_id="120363123456789012@newsletter", chat_kind="newsletter"),
    "10_customer_reaction": dict(
        kind="reaction", chat_id=PHONE, author="customer", text="👍", target_id="3EB0C1D2E3F4A5B6C7D8E9",
        wa_message_id="3A00AA11BB22CC33DD44"),
    "11_customer_edit_messages_edited": dict(
        event_type="messages.edited", kind="edit", chat_id=None, author=None,
        wa_message_id="A1C4E09B7F3D2E6A8B5C4D3E2F1A0B9C", target_id="A1C4E09B7F3D2E6A8B5C4D3E2F1A0B9C",
        text="Oi! Vocês têm o tênis azul no tamanho 39?", sent_at=datetime(2025, 10, 21, 14, 8, 20, 123000, timezone.utc),
        dedupe_key="messages.edited:A1C4E09B7F3D2E6A8B5C4D3E2F1A0B9C:edit:1761055700123"),
    "12_customer_revoke_messages_edited": dict(
        kind="revoke", chat_id=None, author=None, target_id="3A5F2E9C4B7D1A0E6C8B", text=None,
        sent_at=at(1761055710)),
    "12b_owner_edit_as_upsert": dict(
        event_type="messages.upsert", kind="edit", chat_id=PHONE, author=None, target_id="3A7D0E4B9C2F1A6E8D5B",
        text="Oi Maria, aqui é o João. Frete grátis, ok?",
        dedupe_key="messages.upsert:3A7D0E4B9C2F1A6E8D5B:edit:3EB0EDED00112233"),
    "13_call_reject_auto_reply_pending": dict(kind="message", from_me=True, author="system", status="PENDING"),
    "14_owner_command_bot_off": dict(kind="message", from_me=True, author="business", text="#bot off"),
    "15b_duplicate_delivery_retry": dict(dedupe_key="messages.upsert:A1C4E09B7F3D2E6A8B5C4D3E2F1A0B9C"),
    "16_connection_update": dict(event_type="connection.update", kind="other", chat_id=None, dedupe_key=None),
    "17_presence_update": dict(event_type="presence.update", kind="other", chat_id=None, dedupe_key=None),
    "18_delivery_receipt_messages_update": dict(
        kind="receipt", chat_id=PHONE, wa_message_id="3EB0C1D2E3F4A5B6C7D8E9", status="READ",
        dedupe_key="messages.update:3EB0C1D2E3F4A5B6C7D8E9:READ"),
    "19_messages_delete": dict(
        kind="revoke", chat_id=PHONE, target_id="AC3B9E1F0D2C4A6B8E7F5D3C1B0A9E8D",
        dedupe_key="messages.delete:AC3B9E1F0D2C4A6B8E7F5D3C1B0A9E8D"),
    "20_customer_ephemeral_text": dict(kind="message", author="customer", text="Tem entrega hoje?"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_evolution_event_becomes_one_internal_event(name):
    event = normalize(webhook(name), RECEIVED)
    got = {field: getattr(event, field) for field in CASES[name]}
    assert got == CASES[name]
    assert event.instance == "acme-store"


def test_a_message_without_its_own_timestamp_takes_the_receive_time():
    body = webhook("01_customer_text_pn")
    del body["data"]["messageTimestamp"]
    assert normalize(body, RECEIVED).sent_at == RECEIVED


def test_the_raw_body_is_kept_without_inline_media():
    event = normalize(webhook("03_customer_image_caption"), RECEIVED)
    assert event.raw["data"]["key"]["id"] == "3A5F2E9C4B7D1A0E6C8B"
    assert event.raw["data"]["message"]["base64"].endswith("characters omitted>")


ENVELOPE_SECRETS = {"apikey": "B6D711FCDE4D4FD5936544120E713976", "server_url": "https://evo.example.com",
                    "sender": "5511999990000@s.whatsapp.net", "destination": "https://bot.example.com/hook?token=t0k",
                    "ApiKey": "k1", "api_key": "k2", "X-Api-Key": "k3", "token": "k4", "access_token": "k5",
                    "Authorization": "Bearer k6", "secret": "k7", "webhookSecret": "k8", "password": "k9"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_raw_body_is_kept_without_the_envelopes_keys_and_setup(name):
    body = {**webhook(name), **ENVELOPE_SECRETS}
    event = normalize(body, RECEIVED)
    assert not set(ENVELOPE_SECRETS) & set(event.raw)
    # (the instance's own number, `sender`, is also in some messages' data, as their chat or author)
    assert not any(value in str(event.raw) for key, value in ENVELOPE_SECRETS.items() if key != "sender")
    assert {"event", "instance", "data", "date_time"} <= set(event.raw)


def test_the_instances_own_number_still_places_an_edit_though_it_is_not_kept():
    body = webhook("11_customer_edit_messages_edited")
    event = normalize(body, RECEIVED)
    assert "sender" in body and "sender" not in event.raw
    assert event == normalize({**body, "sender": body["sender"]}, RECEIVED)
    assert event.kind == "edit"


def test_event_names_in_upper_case_are_understood():
    body = webhook("01_customer_text_pn")
    body["event"] = "MESSAGES_UPSERT"
    assert normalize(body, RECEIVED).event_type == "messages.upsert"


def test_an_edit_naming_a_real_chat_keeps_it():
    body = webhook("11_customer_edit_messages_edited")
    body["data"]["key"]["remoteJid"] = "5511987654321@s.whatsapp.net"
    assert normalize(body, RECEIVED).chat_id == PHONE


@pytest.mark.parametrize("jid, clean", [
    ("5511987654321:12@s.whatsapp.net", "5511987654321@s.whatsapp.net"),
    ("123456789012345:3@lid", "123456789012345@lid"),
    ("5511987654321@c.us", "5511987654321@s.whatsapp.net"),
    ("120363025246125486@g.us", "120363025246125486@g.us"),
    ("no-at-sign", None),
    (None, None),
])
def test_jids_lose_their_device_suffix(jid, clean):
    assert clean_jid(jid) == clean


def _drop(path):
    def change(body):
        *parents, last = path
        node = body
        for p in parents:
            node = node[p]
        del node[last]
    return change


def _set(path, value):
    def change(body):
        *parents, last = path
        node = body
        for p in parents:
            node = node[p]
        node[last] = value
    return change


MALFORMED = [
    ("01_customer_text_pn", _drop(["event"]), "event"),
    ("01_customer_text_pn", _set(["event"], 7), "event"),
    ("01_customer_text_pn", _drop(["instance"]), "instance"),
    ("01_customer_text_pn", _set(["data"], "x"), "data"),
    ("01_customer_text_pn", _drop(["data", "key"]), "data.key"),
    ("01_customer_text_pn", _drop(["data", "key", "id"]), "data.key.id"),
    ("01_customer_text_pn", _set(["data", "key", "id"], ""), "data.key.id"),
    ("01_customer_text_pn", _drop(["data", "key", "remoteJid"]), "data.key.remoteJid"),
    ("02_customer_text_lid_with_phone_in_remoteJidAlt", _set(["data", "key", "remoteJid"], "garbage"),
     "data.key.remoteJid"),
    ("01_customer_text_pn", _set(["data", "key", "fromMe"], "false"), "data.key.fromMe"),
    ("01_customer_text_pn", _drop(["data", "key", "fromMe"]), "data.key.fromMe"),
    ("01_customer_text_pn", _set(["data", "messageTimestamp"], "yesterday"), "data.messageTimestamp"),
    ("01_customer_text_pn", _set(["data", "message"], ["x"]), "data.message"),
    ("11_customer_edit_messages_edited", _set(["data", "type"], "PIN"), "data.type"),
    ("11_customer_edit_messages_edited", _drop(["data", "key", "id"]), "data.key.id"),
    ("19_messages_delete", _drop(["data", "id"]), "data.id"),
]


@pytest.mark.parametrize("name, change, field", MALFORMED, ids=[m[2] + "-" + str(i) for i, m in enumerate(MALFORMED)])
def test_a_malformed_body_is_refused_naming_the_field(name, change, field):
    body = webhook(name)
    change(body)
    with pytest.raises(ApiError) as err:
        normalize(body, RECEIVED)
    assert (err.value.status, err.value.field) == (400, field)


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(ApiError) as err:
        normalize(["not", "an", "object"], RECEIVED)
    assert err.value.field == "body"


def test_send_message_without_fromme_is_our_own_send():
    body = webhook("06_bot_own_send_echo_send.message")
    del body["data"]["key"]["fromMe"]
    assert normalize(body, RECEIVED).from_me is True
