"""Media messages -> a media reference on the event (never the bytes), over
real-shaped Evolution fixtures: voice notes with and without Evolution's
speechToText, a photo with a caption, a document, a video, a sticker."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from python_services.core.media import file_name_for, label, media_reference
from python_services.core.normalize import normalize, stored_body
from tests.fixtures import webhook

RECEIVED = datetime(2025, 10, 21, 14, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("fixture, expected", [
    ("04_customer_audio_ptt", {"kind": "audio", "type": "audioMessage", "mimetype": "audio/ogg; codecs=opus",
                               "seconds": 9, "ptt": True, "bytes": 23112}),
    ("04b_customer_audio_with_speech_to_text", {"kind": "audio", "type": "audioMessage",
                                                "mimetype": "audio/ogg; codecs=opus", "seconds": 4, "ptt": True,
                                                "speech_to_text": True}),
    ("03_customer_image_caption", {"kind": "image", "type": "imageMessage", "mimetype": "image/jpeg",
                                   "bytes": 184213, "width": 960, "height": 1280,
                                   "caption": "É esse aqui que eu quero", "inline": True}),
    ("03c_customer_document_with_caption", {"kind": "document", "type": "documentMessage",
                                            "mimetype": "application/pdf", "file_name": "pedido.pdf",
                                            "caption": "Segue o pedido"}),
    ("03b_customer_video_caption", {"kind": "video", "type": "videoMessage", "mimetype": "video/mp4",
                                    "seconds": 12, "caption": "Olha o defeito"}),
    ("21_customer_sticker", {"kind": "sticker", "type": "stickerMessage", "mimetype": "image/webp",
                             "bytes": 18424, "width": 512, "height": 512}),
])
def test_each_kind_of_media_message_gets_its_reference(fixture, expected):
    event = normalize(webhook(fixture), RECEIVED)
    assert event.kind == "message"
    assert event.media == expected


def test_a_voice_note_without_speech_to_text_has_no_text_until_it_is_transcribed():
    event = normalize(webhook("04_customer_audio_ptt"), RECEIVED)
    assert event.text is None
    assert "speech_to_text" not in event.media


def test_evolutions_speech_to_text_is_the_voice_notes_text():
    event = normalize(webhook("04b_customer_audio_with_speech_to_text"), RECEIVED)
    assert event.text == "quero trocar o tamanho"
    assert event.media["speech_to_text"] is True


def test_a_text_message_has_no_media():
    assert normalize(webhook("01_customer_text_pn"), RECEIVED).media is None


def test_a_voice_note_carrying_its_bytes_is_stored_with_a_reference_only():
    body = webhook("04c_customer_long_audio_with_base64")
    inline = body["data"]["message"]["base64"]
    event = normalize(body, RECEIVED)

    assert event.media["inline"] is True and event.media["seconds"] == 241
    kept = json.dumps(event.raw)
    assert inline not in kept
    assert event.raw["data"]["message"]["base64"] == f"<{len(inline)} characters omitted>"
    assert event.raw["data"]["message"]["audioMessage"]["seconds"] == 241


def test_the_photos_base64_never_reaches_the_stored_body():
    body = webhook("03_customer_image_caption")
    assert body["data"]["message"]["base64"] not in json.dumps(stored_body(body))


@pytest.mark.parametrize("content, expected", [
    ({"audioMessage": {"seconds": "x", "fileLength": {"low": "?"}, "mimetype": 7}}, {"kind": "audio",
                                                                                      "type": "audioMessage",
                                                                                      "ptt": False}),
    # digits int() refuses although str.isdigit() says yes: superscript two, Arabic-Indic nine
    ({"audioMessage": {"seconds": "²", "fileLength": "\u0669"}}, {"kind": "audio", "type": "audioMessage",
                                                                    "ptt": False}),
    ({"imageMessage": {"width": -5, "caption": "   "}}, {"kind": "image", "type": "imageMessage"}),
    ({"documentMessage": {"fileName": "x" * 500}}, {"kind": "document", "type": "documentMessage",
                                                    "file_name": "x" * 200}),
])
def test_fields_of_the_wrong_type_or_size_are_left_out_of_the_reference(content, expected):
    assert media_reference(content) == expected


def test_a_wrapped_view_once_photo_is_still_a_photo():
    message = {"viewOnceMessageV2": {"message": {"imageMessage": {"mimetype": "image/jpeg", "caption": "olha"}}}}
    event = normalize(webhook("03_customer_image_caption", message=message, messageType="viewOnceMessageV2"),
                      RECEIVED)
    assert event.media == {"kind": "image", "type": "imageMessage", "mimetype": "image/jpeg", "caption": "olha"}


@pytest.mark.parametrize("media, expected", [
    ({"kind": "audio", "ptt": True, "seconds": 9}, "voice note, 9 s"),
    ({"kind": "audio", "ptt": False}, "audio file"),
    ({"kind": "image"}, "photo"),
    ({"kind": "document", "file_name": "pedido.pdf", "mimetype": "application/pdf"},
     'document "pedido.pdf" (application/pdf)'),
    ({"kind": "document"}, 'document "unnamed" (unknown type)'),
    ({"kind": "video", "seconds": 12}, "video, 12 s"),
])
def test_the_model_is_told_what_came_in_words(media, expected):
    assert label(media) == expected


def test_a_voice_note_is_uploaded_with_the_extension_of_its_mimetype():
    assert file_name_for({"mimetype": "audio/ogg; codecs=opus"}, "ABC") == "ABC.ogg"
    assert file_name_for({"mimetype": "audio/mpeg"}, "ABC") == "ABC.mp3"
    assert file_name_for({"file_name": "nota.m4a", "mimetype": "audio/mp4"}, "ABC") == "nota.m4a"
