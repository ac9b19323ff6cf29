"""Photos for the model (llm/images.py): shrunk when large, kept when small,
refused when they are not pictures, shaped per API, priced in tokens."""
from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from python_services.llm import images


def picture_bytes(width, height, kind="JPEG", mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), "navy" if mode == "RGB" else None).save(out, kind)
    return out.getvalue()


def test_a_large_photo_is_shrunk_to_a_jpeg_of_at_most_1024_pixels():
    picture = images.prepare(picture_bytes(3000, 4000))
    assert picture.mimetype == "image/jpeg"
    assert (picture.width, picture.height) == (768, 1024)
    assert Image.open(io.BytesIO(picture.data)).size == (768, 1024)


def test_a_small_png_is_sent_as_it_came():
    data = picture_bytes(400, 300, "PNG")
    picture = images.prepare(data)
    assert (picture.data, picture.mimetype, picture.width, picture.height) == (data, "image/png", 400, 300)


def test_a_transparent_png_is_flattened_onto_white_when_it_must_be_converted():
    picture = images.prepare(picture_bytes(2000, 1000, "PNG", mode="RGBA"))
    image = Image.open(io.BytesIO(picture.data))
    assert image.format == "JPEG" and image.mode == "RGB"
    assert image.getpixel((10, 10)) == (255, 255, 255)


@pytest.mark.parametrize("data", [b"", b"not a picture at all", b"\xff\xd8\xff\xe0 truncated jpeg"])
def test_what_is_not_a_picture_is_refused_with_a_reason(data):
    with pytest.raises(images.ImageError, match="not a picture"):
        images.prepare(data)


def test_anthropic_gets_base64_image_blocks_before_the_text():
    picture = images.prepare(picture_bytes(10, 10, "PNG"))
    conversation = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                    {"role": "user", "content": "[photo] this one"}]
    sent = images.with_images(conversation, [picture], "anthropic")
    assert sent[:2] == conversation[:2]
    assert sent[2]["content"] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": base64.b64encode(picture.data).decode()}},
        {"type": "text", "text": "[photo] this one"},
    ]


def test_openai_gets_a_data_url_after_the_text():
    picture = images.prepare(picture_bytes(10, 10, "PNG"))
    [turn] = images.with_images([{"role": "user", "content": "[photo]"}], [picture], "openai")
    assert turn["content"][0] == {"type": "text", "text": "[photo]"}
    assert turn["content"][1]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(picture.data).decode()


def test_without_photos_the_conversation_is_unchanged():
    conversation = [{"role": "user", "content": "hi"}]
    assert images.with_images(conversation, [], "openai") is conversation


@pytest.mark.parametrize("size, api, tokens", [
    ((1024, 768), "anthropic", 1049),   # 1024 x 768 / 750, rounded up
    ((1024, 768), "openai", 765),       # 768 short side: 2 x 2 tiles -> 85 + 4 x 170
    ((512, 512), "openai", 255),        # one tile
    ((4000, 1000), "openai", 765),      # fitted to 2048 x 512 (never scaled up): 4 x 1 tiles
    ((3000, 2000), "openai", 1105),     # fitted to 2048 x 1365, short side down to 768: 1152 x 768 -> 3 x 2
])
def test_each_photo_is_priced_in_tokens_by_the_providers_formula(size, api, tokens):
    picture = images.Picture(b"", "image/jpeg", *size)
    assert images.estimated_tokens(picture, api) == tokens
