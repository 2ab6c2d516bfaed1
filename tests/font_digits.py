"""Digits not from MNIST: 0-9 in every installed font, at several sizes, slants and stroke
weights, each put through the draw panel's own preprocessing.

A stand-in for other people's handwriting that any machine can rebuild: `fc-list` names the
fonts (Debian's fonts-dejavu, fonts-liberation, fonts-freefont-ttf, fonts-noto-core and
fonts-urw-base35 give about 100 distinct ones). Fonts whose digits are not digits (symbols,
dingbats) or that lack them are left out, and so are fonts whose digits look like those of one
already kept (the Noto families repeat their Latin digits in many scripts' files).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from l1_trainer.core.training.preprocess import preprocess_drawing

SIZES = (28, 72)  # pixels per em: a small rendering keeps its hinting, a large one its detail
SLANTS = (0.0, 0.25)  # horizontal shear per pixel of height: upright and a hand's forward lean
STROKES = (0, 2)  # extra stroke width at 72 px: the font's own weight and a bolder pen
NOT_DIGITS = ("symbol", "dingbat", "d050000l", "emoji", "math")
SAME_LOOK = 5.0  # mean squared difference over the ten preprocessed digits below which fonts repeat


def font_files() -> list[Path]:
    """Installed TrueType/OpenType fonts, by path, sorted; none if fontconfig is absent."""
    try:
        listing = subprocess.run(["fc-list", ":", "file"], capture_output=True, text=True, check=True,
                                 timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    paths = {Path(line.split(":")[0].strip()) for line in listing.splitlines()}
    return sorted(p for p in paths if p.suffix.lower() in (".ttf", ".otf")
                  and not any(word in p.name.lower() for word in NOT_DIGITS))


def render(font: ImageFont.FreeTypeFont, digit: int, slant: float, stroke: int) -> np.ndarray:
    """White-on-black ink of one digit, slanted, with room around it."""
    size = font.size
    image = Image.new("L", (size * 3, size * 3), 0)
    ImageDraw.Draw(image).text((size, size // 2), str(digit), fill=255, font=font,
                               stroke_width=stroke, stroke_fill=255)
    if slant:
        # x_in = x_out + slant * (y_out - centre): the top leans right, as italic type does.
        image = image.transform(image.size, Image.Transform.AFFINE,
                                (1, slant, -slant * image.size[1] / 2, 0, 1, 0), Image.Resampling.BILINEAR)
    return np.array(image)


def build(fonts: list[Path] | None = None) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Images (N, 784) in [0, 1] as the draw panel feeds the network, their digits (N,), and
    the fonts that were used."""
    images, labels, used, looks = [], [], [], []
    for path in font_files() if fonts is None else fonts:
        try:
            plain = ImageFont.truetype(str(path), 72)
        except OSError:
            continue
        if not _has_digits(plain):
            continue
        look = torch.stack([preprocess_drawing(render(plain, d, 0.0, 0)) for d in range(10)])
        if any(float(((look - seen) ** 2).sum(dim=(1, 2)).mean()) < SAME_LOOK for seen in looks):
            continue
        looks.append(look)
        used.append(path.name)
        for size in SIZES:
            font = ImageFont.truetype(str(path), size)
            for slant in SLANTS:
                for stroke in STROKES:
                    for digit in range(10):
                        ink = render(font, digit, slant, round(stroke * size / 72))
                        field = preprocess_drawing(ink)
                        if field is not None:
                            images.append(field.flatten())
                            labels.append(digit)
    if not images:
        return torch.empty(0, 784), torch.empty(0, dtype=torch.long), used
    return torch.stack(images), torch.tensor(labels), used


def _has_digits(font: ImageFont.FreeTypeFont) -> bool:
    """Ten different glyphs, none of them the font's box for a missing character."""
    missing = _render_text(font, "\ufffe")
    glyphs = {_render_text(font, str(d)) for d in range(10)}
    return len(glyphs) == 10 and missing not in glyphs and all(glyphs)


def _render_text(font: ImageFont.FreeTypeFont, text: str) -> bytes:
    mask = font.getmask(text)
    return bytes(mask) if mask.size[0] * mask.size[1] else b""
