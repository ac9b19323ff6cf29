"""Photos for the model: checked, shrunk when large (Pillow), and shaped as
each API wants an image part (OpenAI `image_url` with a data URL, Anthropic
a base64 `image` block), with an estimate of the input tokens each costs.

A photo is sent at most MAX_SIDE pixels on its long side: WhatsApp photos
are 1280-4000 px, and past ~1000 px a model sees no more of a product or a
receipt while every extra tile costs tokens."""
from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

MAX_SIDE = 1024
# a photo under this size, in a format every API takes, is sent as it came
KEEP_BYTES = 1_000_000
SENDABLE = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
# a "photo" of more pixels than this is refused unopened (a decompression bomb)
MAX_PIXELS = 60_000_000
JPEG_QUALITY = 85


class ImageError(ValueError):
    """Not a picture the model can be shown."""


@dataclass(frozen=True)
class Picture:
    data: bytes
    mimetype: str
    width: int
    height: int

    @property
    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")


def prepare(data: bytes) -> Picture:
    """The photo as it will be sent: itself when small and in a format the
    APIs take, else a JPEG at most MAX_SIDE px on its long side."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageError(f"the picture is {width}x{height} pixels, too large to open")
            kind = image.format
            if kind in SENDABLE and max(width, height) <= MAX_SIDE and len(data) <= KEEP_BYTES:
                return Picture(data, SENDABLE[kind], width, height)
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            # JPEG has no alpha channel and no palette: flatten onto white first
            if image.mode not in ("RGB", "L"):
                background = Image.new("RGB", image.size, "white")
                rgba = image.convert("RGBA")
                background.paste(rgba, mask=rgba.getchannel("A"))
                image = background
            out = io.BytesIO()
            image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
            return Picture(out.getvalue(), "image/jpeg", *image.size)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ImageError(f"not a picture that can be read ({type(exc).__name__})") from None


def openai_part(picture: Picture) -> dict:
    return {"type": "image_url", "image_url": {"url": f"data:{picture.mimetype};base64,{picture.base64}"}}


def anthropic_part(picture: Picture) -> dict:
    return {"type": "image", "source": {"type": "base64", "media_type": picture.mimetype, "data": picture.base64}}


def with_images(conversation: list[dict], pictures: list[Picture], api: str) -> list[dict]:
    """The conversation with the photos added to its last (the customer's)
    turn; Anthropic wants images before the text that speaks of them."""
    if not pictures or not conversation or conversation[-1]["role"] != "user":
        return conversation
    last = conversation[-1]
    text = {"type": "text", "text": last["content"]}
    if api == "anthropic":
        content = [*(anthropic_part(p) for p in pictures), text]
    else:
        content = [text, *(openai_part(p) for p in pictures)]
    return [*conversation[:-1], {"role": "user", "content": content}]


def estimated_tokens(picture: Picture, api: str) -> int:
    """Input tokens one photo costs, by each provider's published formula:
    Anthropic about width x height / 750; OpenAI (detail auto = high) 85 plus
    170 per 512 px tile once fitted in 2048 px and its short side at 768."""
    width, height = picture.width, picture.height
    if api == "anthropic":
        return math.ceil(width * height / 750)
    scale = min(1.0, 2048 / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, 768 / min(width, height))
    width, height = width * scale, height * scale
    return 85 + 170 * math.ceil(width / 512) * math.ceil(height / 512)
