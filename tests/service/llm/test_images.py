"""Photos reach the model as image parts, in both wire formats (Anthropic
base64 `image` blocks, OpenAI `image_url` data URLs), shrunk when large;
a provider without vision or the offline one is told, and says, what it
can; documents are named; stickers are ignored; photos count in usage."""
from __future__ import annotations

import base64
import io

import pytest
import responses
from PIL import Image

from tests.media_webhooks import GET_BASE64, customer_text, evolution_serving, photo_bytes, record

CAPTION = "É esse aqui que eu quero"


@pytest.fixture
def evolution():
    """Evolution serving a 1600 x 1200 JPEG for any message id."""
    with evolution_serving(("image/jpeg", photo_bytes(1600, 1200))) as mock:
        yield mock


def test_an_anthropic_tenant_sees_the_photo_as_a_base64_image_block_with_its_caption(
        tx, tenant, evolution, reply, fake_llm, token_row):
    photo = record(tx, tenant, "03_customer_image_caption")

    answer = reply(photo["reply_token"])

    assert answer["outcome"] == "text"
    [image] = fake_llm.images
    assert (image["api"], image["media_type"], image["role"]) == ("anthropic", "image/jpeg", "user")
    assert Image.open(io.BytesIO(image["data"])).size == (1024, 768)  # shrunk from 1600 x 1200
    assert image["text"] == f"[photo] {CAPTION}"
    [sent] = fake_llm.requests_to("anthropic")
    blocks = sent["body"]["messages"][-1]["content"]
    assert [b["type"] for b in blocks] == ["image", "text"]
    row = token_row(photo["reply_token"])
    assert (row["images"], row["image_tokens"]) == (1, 1049)


def test_an_openai_tenant_sees_the_photo_as_an_image_url_data_url(tx, tenant, set_tenant, evolution, reply, fake_llm,
                                                                  token_row):
    set_tenant(tenant, llm_provider="openai", llm_model="gpt-4o-mini")
    photo = record(tx, tenant, "03_customer_image_caption")

    reply(photo["reply_token"])

    [image] = fake_llm.images
    assert (image["api"], image["media_type"]) == ("openai", "image/jpeg")
    [sent] = fake_llm.requests_to("openai")
    text, part = sent["body"]["messages"][-1]["content"]
    assert text == {"type": "text", "text": f"[photo] {CAPTION}"}
    assert part["image_url"]["url"] == "data:image/jpeg;base64," + base64.b64encode(image["data"]).decode()
    assert (token_row(photo["reply_token"])["images"], token_row(photo["reply_token"])["image_tokens"]) == (1, 765)


def test_a_provider_without_vision_is_told_a_photo_came_that_it_cannot_see(tx, tenant, set_tenant, reply, fake_llm,
                                                                          token_row):
    set_tenant(tenant, llm_provider="openai_compatible", llm_model="llama3.2",
               settings={"llm_base_url": fake_llm.openai_url})
    with responses.RequestsMock() as mock:  # not even fetched: nobody in the chain could see it
        photo = record(tx, tenant, "03_customer_image_caption")
        reply(photo["reply_token"])
        assert len(mock.calls) == 0

    [sent] = fake_llm.requests_to("openai")
    assert fake_llm.images == []
    assert sent["body"]["messages"][-1]["content"] == f"[photo] {CAPTION}"
    assert "The customer sent a photo that you cannot see" in sent["body"]["messages"][0]["content"]
    assert token_row(photo["reply_token"])["images"] is None


def test_a_local_model_with_vision_gets_the_photo_when_the_tenant_lists_it(tx, tenant, set_tenant, evolution, reply,
                                                                          fake_llm):
    set_tenant(tenant, llm_provider="openai_compatible", llm_model="llava",
               settings={"llm_base_url": fake_llm.openai_url, "vision_providers": ["openai_compatible"]})
    reply(record(tx, tenant, "03_customer_image_caption")["reply_token"])
    assert [image["api"] for image in fake_llm.images] == ["openai"]


def test_the_offline_provider_says_it_cannot_see_photos_instead_of_handing_over(tx, tenant, set_tenant, reply):
    set_tenant(tenant, llm_provider="offline")
    photo = record(tx, tenant, "03_customer_image_caption", message={"imageMessage": {"mimetype": "image/jpeg"}})

    answer = reply(photo["reply_token"])

    assert (answer["outcome"], answer["handoff"]) == ("text", False)
    assert answer["text"] == "Sorry, I can't see photos or files here. Could you tell me in words what you need?"


def test_a_photo_evolution_cannot_give_is_described_and_the_reply_still_comes(tx, tenant, reply, fake_llm):
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, GET_BASE64, status=401,
                 json={"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}})
        answer = reply(record(tx, tenant, "03_customer_image_caption")["reply_token"])
    assert answer["outcome"] == "text"
    assert fake_llm.images == []
    assert "cannot see" in fake_llm.requests_to("anthropic")[0]["body"]["system"][-1]["text"]


def test_a_document_is_named_by_its_file_name_and_type_and_never_downloaded(tx, tenant, reply, fake_llm):
    with responses.RequestsMock() as mock:
        doc = record(tx, tenant, "03c_customer_document_with_caption")
        reply(doc["reply_token"])
        assert len(mock.calls) == 0
    [sent] = fake_llm.requests_to("anthropic")
    assert sent["body"]["messages"][-1]["content"] == '[document "pedido.pdf" (application/pdf)] Segue o pedido'
    assert 'document "pedido.pdf" (application/pdf) that you cannot see' in sent["body"]["system"][-1]["text"]


def test_stickers_alone_get_no_answer_and_end_the_reply_as_cancelled(tx, tenant, reply, fake_llm, token_row):
    sticker = record(tx, tenant, "21_customer_sticker")

    answer = reply(sticker["reply_token"])

    assert answer == {"outcome": "superseded", "state": "cancelled", "reason": "nothing_to_answer",
                      "reply_token": str(sticker["reply_token"])}
    assert fake_llm.requests == []
    assert token_row(sticker["reply_token"])["state"] == "cancelled"


def test_a_sticker_beside_a_text_is_left_out_of_the_conversation(tx, tenant, reply, fake_llm):
    record(tx, tenant, "21_customer_sticker")
    text = customer_text(tx, tenant, "kkkk obrigada", "TEXT-3")
    reply(text["reply_token"])
    assert fake_llm.requests_to("anthropic")[0]["body"]["messages"][-1]["content"] == "kkkk obrigada"


def test_a_malformed_image_part_is_refused_by_the_fake_as_the_real_api_would(fake_llm):
    import anthropic

    client = anthropic.Anthropic(api_key="k", base_url=fake_llm.anthropic_url, max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="media_type"):
        client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "AAAA"}},
            {"type": "text", "text": "hi"}]}])
