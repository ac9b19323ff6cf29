"""Voice notes and photos on the real n8n: the inbound flow has a customer's
voice note transcribed before the debounce wait ("Voice note? Transcribe
it"), so a burst of a voice note and a text gets ONE answer whose prompt
holds both; a voice note too long to transcribe gets the polite answer,
never silence; a photo reaches the model as an image part."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import requests

from .helpers import new_chat, wait_for

pytestmark = pytest.mark.flow

STATIC = Path(__file__).resolve().parents[2] / "python_services/sandbox/static"


def sends_media(chat, kind: str, sample: str, **extra) -> dict:
    data = base64.b64encode((STATIC / sample).read_bytes()).decode("ascii")
    resp = requests.post(f"{chat.stack.url('sandbox')}/sandbox/customer/media",
                         json={"instance": chat.instance, "number": chat.number, "kind": kind, "base64": data,
                               "wait": True, **extra}, timeout=60)
    assert resp.status_code == 201, resp.text
    assert all(d["ok"] for d in resp.json()["deliveries"]), resp.json()["deliveries"]
    return resp.json()


def test_a_voice_note_and_a_text_get_one_answer_that_knows_what_was_said(flow_stack, fake_llm, sandbox):
    chat = new_chat(flow_stack, provider="openai", settings={"debounce_seconds": 3})
    sends_media(chat, "audio", "voice-note-sample.ogg", seconds=4)
    chat.customer_says("and do you deliver?")
    replies = chat.wait_for_bot_replies(1, timeout=60)
    wait_for("the reply is recorded as sent", chat.all_tokens_ended)
    assert len(chat.bot_replies()) == 1, replies
    kinds = [r.get("api") for r in fake_llm.requests()]
    assert kinds.count("transcription") == 1, kinds
    chats = [r for r in fake_llm.requests() if r.get("api") != "transcription"]
    prompt = json.dumps(chats[-1]["body"], ensure_ascii=False)
    assert "fake transcript of" in prompt and "and do you deliver?" in prompt
    stored = chat.query("SELECT text, transcribed_by FROM messages WHERE tenant_id = %s AND chat_id = %s"
                        " AND message_type = 'audioMessage'", chat.tenant["id"], chat.chat_id)
    assert [m["transcribed_by"] is not None and "fake transcript of" in m["text"] for m in stored] == [True]


def test_a_voice_note_too_long_to_transcribe_gets_the_polite_answer(flow_stack, fake_llm, sandbox):
    chat = new_chat(flow_stack, provider="openai", settings={"max_voice_note_seconds": 60,
                                                             "voice_note_reply": "Could you write it, please?"})
    sends_media(chat, "audio", "voice-note-sample.ogg", seconds=600)
    assert chat.wait_for_bot_replies(1, timeout=60) == ["Could you write it, please?"]
    assert [r for r in fake_llm.requests() if r.get("api") == "transcription"] == []


def test_a_photo_with_its_caption_reaches_the_model_as_an_image(flow_stack, fake_llm, sandbox):
    chat = new_chat(flow_stack, provider="openai")
    sends_media(chat, "image", "photo-sample.jpg", caption="do you have this one in 38?")
    chat.wait_for_bot_replies(1, timeout=60)
    images = [r for r in fake_llm.requests() if r.get("images")]
    assert images and "do you have this one in 38?" in json.dumps(images[-1]["body"], ensure_ascii=False)


def test_the_owners_voice_note_pauses_the_chat_as_any_owner_message_does(flow_stack, fake_llm, sandbox):
    chat = new_chat(flow_stack, provider="openai")
    chat.customer_says("hello?")
    chat.wait_for_bot_replies(1)
    data = base64.b64encode((STATIC / "voice-note-sample.ogg").read_bytes()).decode("ascii")
    resp = requests.post(f"{flow_stack.url('sandbox')}/sandbox/owner/media",
                         json={"instance": chat.instance, "number": chat.number, "kind": "audio", "base64": data,
                               "seconds": 4, "wait": True}, timeout=60)
    assert resp.status_code == 201, resp.text
    wait_for("the chat is paused by the owner's voice note", lambda: (chat.session() or {}).get("paused"))
    assert "human_takeover" in chat.decisions()
    chat.customer_says("are you there?")
    sandbox.wait_deliveries()
    assert len(chat.bot_replies()) == 1
