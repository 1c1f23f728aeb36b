"""A deterministic synthetic CelebA in exactly the official on-disk layout (the embedded sample).

`out_dir/img_align_celeba/000001.jpg ...` (178x218 RGB JPEG), `list_attr_celeba.txt` and
`list_eval_partition.txt`, as CelebA publishes them (Liu et al. 2015). Every face is drawn in the
aligned-CelebA frame so that the PGAN crop (official `dataset_tool.py`: centre x 89, y 121, side 128)
frames it as it frames a real face: eyes near y 112, mouth near y 152. The attributes that
StarGAN edits and a few more drive visible cues (hair colour and length, sex, age,
smile, glasses, bangs, pale skin, hat, beard); the other columns follow rough CelebA
frequencies. Image i is drawn from a generator seeded by (seed, i) alone, so it does not
depend on how many images are asked for.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from facegan.choices import CELEBA_ATTRIBUTES
from facegan.data.celeba_format import write_attributes, write_partition
from facegan.data.parallel import ordered_map, worth_processes
from facegan.io import staged
from facegan.progress import progress

WIDTH, HEIGHT = 178, 218  # the aligned CelebA frame
SUPERSAMPLE = 2  # drawn at 2x and box-downsampled: antialiased edges
OFFICIAL_SPLIT_ENDS = (162770 / 202599, 182637 / 202599)  # last train and last val image of CelebA

# Rough CelebA frequencies of the attributes drawn independently; the rest are set by
# `_dependent_attributes` so that what is drawn and what is written agree.
_PRIORS = {
    "Arched_Eyebrows": 0.27, "Attractive": 0.51, "Bags_Under_Eyes": 0.20, "Big_Lips": 0.24,
    "Big_Nose": 0.23, "Blurry": 0.05, "Bushy_Eyebrows": 0.14, "Chubby": 0.06, "Double_Chin": 0.05,
    "Eyeglasses": 0.10, "Male": 0.42, "Narrow_Eyes": 0.12, "Oval_Face": 0.28, "Pale_Skin": 0.06,
    "Pointy_Nose": 0.28, "Rosy_Cheeks": 0.07, "Smiling": 0.48, "Straight_Hair": 0.21,
    "Wavy_Hair": 0.32, "Wearing_Hat": 0.05, "Wearing_Necklace": 0.12, "Young": 0.77,
}  # fmt: skip

_SKINS = np.array([[245, 208, 182], [232, 185, 150], [214, 160, 122], [184, 128, 94], [140, 94, 66], [98, 64, 46]])
_HAIR = {
    "Black_Hair": (28, 22, 22), "Blond_Hair": (226, 196, 122), "Brown_Hair": (112, 72, 42),
    "Gray_Hair": (176, 174, 170), "other": (150, 66, 34),  # auburn: no hair-colour label
}  # fmt: skip


def write_celeba_sample(out_dir: Path, count: int, seed: int) -> None:
    """Write `count` synthetic faces and their annotation files into `out_dir` (replaced whole)."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    files = [f"{index:06d}.jpg" for index in range(1, count + 1)]
    values = np.empty((count, len(CELEBA_ATTRIBUTES)), np.int8)
    faces = ordered_map(functools.partial(_celeba_face, seed), range(count), worth_processes(count), processes=True)
    with staged(out_dir, folder=True) as staging:
        images = staging / "img_align_celeba"
        images.mkdir()
        for row, (jpeg, labels) in progress(enumerate(faces), total=count, desc="synthetic CelebA"):
            (images / files[row]).write_bytes(jpeg)
            values[row] = labels
        write_attributes(staging / "list_attr_celeba.txt", files, values)
        write_partition(staging / "list_eval_partition.txt", official_like_partition(files))


def _celeba_face(seed: int, row: int) -> tuple[bytes, list[int]]:
    """Face `row` of the sample as a JPEG, and its CelebA labels (+1 / -1): it depends on (seed, row) alone."""
    rng = np.random.default_rng([seed, row + 1])
    attributes = sample_attributes(rng)
    return _jpeg(draw_face(attributes, rng)), [1 if attributes[key] else -1 for key in CELEBA_ATTRIBUTES]


def official_like_partition(files: list[str]) -> dict[str, int]:
    """Split by index order in CelebA's own proportions (about 80 / 10 / 10)."""
    train_end, val_end = (round(len(files) * end) for end in OFFICIAL_SPLIT_ENDS)
    return {name: 0 if i < train_end else 1 if i < val_end else 2 for i, name in enumerate(files)}


def _jpeg(image: Image.Image) -> bytes:
    buffer = BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def sample_attributes(rng: np.random.Generator) -> dict[str, bool]:
    """All 40 CelebA attributes for one face, consistent with each other."""
    attributes = {name: bool(rng.random() < prior) for name, prior in _PRIORS.items()}
    attributes.update(_hair_attributes(rng, attributes["Male"], attributes["Young"]))
    attributes.update(_dependent_attributes(rng, attributes))
    return attributes


def _hair_attributes(rng: np.random.Generator, male: bool, young: bool) -> dict[str, bool]:
    """One hair colour or none (mutually exclusive, as drawn); older faces go gray, some men bald."""
    colours = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair", "other"]
    weights = [0.30, 0.10 if male else 0.24, 0.26, 0.02, 0.10] if young else [0.22, 0.06, 0.18, 0.44, 0.10]
    colour = colours[rng.choice(5, p=np.array(weights) / sum(weights))]
    bald = male and not young and rng.random() < 0.2
    receding = male and not bald and rng.random() < (0.1 if young else 0.4)
    flags = {name: name == colour and not bald for name in colours[:4]}
    return {**flags, "Bald": bald, "Receding_Hairline": receding, "Bangs": not bald and rng.random() < 0.16}


def _dependent_attributes(rng: np.random.Generator, a: dict[str, bool]) -> dict[str, bool]:
    """Attributes tied to sex and smile: beards only on men, make-up mostly on women."""
    male, smiling = a["Male"], a["Smiling"]
    beard = rng.choice(["none", "goatee", "full"], p=[0.6, 0.2, 0.2]) if male else "none"
    makeup = not male and rng.random() < 0.6
    return {
        "No_Beard": beard == "none",
        "Goatee": beard == "goatee",
        "Sideburns": beard == "full" and rng.random() < 0.5,
        "Mustache": beard != "none" and rng.random() < 0.4,
        "5_o_Clock_Shadow": male and beard == "none" and rng.random() < 0.3,
        "Heavy_Makeup": makeup,
        "Wearing_Lipstick": makeup or (not male and rng.random() < 0.3),
        "Wearing_Earrings": not male and rng.random() < 0.33,
        "Wearing_Necktie": male and rng.random() < 0.15,
        "High_Cheekbones": rng.random() < (0.8 if smiling else 0.12),
        "Mouth_Slightly_Open": rng.random() < (0.75 if smiling else 0.25),
    }


@dataclass(frozen=True)
class _Look:
    """The random choices that attributes leave open: colours, proportions, pose."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    iris: tuple[int, int, int]
    background: tuple[tuple[int, int, int], tuple[int, int, int]]
    clothes: tuple[int, int, int]
    accent: tuple[int, int, int]  # glasses frame, hat or tie colour
    pose: tuple[float, float, float]  # dx, dy, scale about the crop centre
    face_width: float
    face_height: float
    hair_length: float  # how far long hair falls below the head centre
    gaze: float  # horizontal iris shift
    sunglasses: bool  # dark lenses, when wearing glasses
    light: tuple[float, float, float]  # left-right tilt, exposure gain, blur radius when Blurry


def _colour(base, rng: np.random.Generator, spread: float) -> tuple[int, int, int]:
    jittered = np.asarray(base, float) * rng.uniform(1 - spread, 1 + spread) + rng.normal(0, 6, 3)
    return tuple(int(c) for c in np.clip(jittered, 0, 255))


def _sample_look(a: dict[str, bool], rng: np.random.Generator) -> _Look:
    skin = _SKINS[rng.integers(len(_SKINS))]  # drawn always: flipping an attribute keeps the rest
    if a["Pale_Skin"]:
        skin = np.array([250, 228, 214])
    if not a["Young"]:
        skin = 0.85 * skin + 0.15 * 200  # older: paler, greyer skin
    hair_key = next((key for key in _HAIR if a.get(key)), "other")
    return _Look(
        skin=_colour(skin, rng, 0.05),
        hair=_colour(_HAIR[hair_key], rng, 0.12),
        iris=_colour([(70, 45, 30), (60, 100, 150), (70, 110, 70)][rng.integers(3)], rng, 0.2),
        background=(_colour(rng.integers(30, 235, 3), rng, 0.0), _colour(rng.integers(30, 235, 3), rng, 0.0)),
        clothes=_colour(rng.integers(20, 230, 3), rng, 0.0),
        accent=_colour(rng.integers(10, 200, 3), rng, 0.0),
        pose=(rng.normal(0, 2.0), rng.normal(0, 2.0), rng.uniform(0.94, 1.06)),
        face_width=43.0 + 4 * a["Chubby"] - 3 * a["Oval_Face"] + 2 * a["Male"] + rng.normal(0, 1.5),
        face_height=63.0 + 2 * a["Oval_Face"] + rng.normal(0, 1.5),
        hair_length=rng.normal(84, 6),
        gaze=rng.normal(0, 0.8),
        sunglasses=bool(rng.random() < 0.2),
        light=(rng.uniform(-0.18, 0.18), rng.uniform(0.85, 1.1), rng.uniform(1.2, 2.0)),
    )


class _Canvas:
    """Draws in the 178x218 frame's coordinates, with the face's pose applied, at SUPERSAMPLE x."""

    CENTER = (89.0, 121.0)  # the PGAN crop centre: pose shifts and scales about it

    def __init__(self, look: _Look):
        top, bottom = (np.array(colour, float) for colour in look.background)
        ramp = np.linspace(0.0, 1.0, HEIGHT * SUPERSAMPLE)[:, None, None]
        column = Image.fromarray(((1 - ramp) * top + ramp * bottom).astype(np.uint8))  # a vertical gradient
        self.image = column.resize((WIDTH * SUPERSAMPLE, HEIGHT * SUPERSAMPLE), Image.Resampling.NEAREST)
        self.draw = ImageDraw.Draw(self.image, "RGBA")  # RGBA fills blend: shadows, make-up
        self.dx, self.dy, self.scale = look.pose

    def point(self, x: float, y: float) -> tuple[float, float]:
        cx, cy = self.CENTER
        x, y = cx + self.scale * (x - cx) + self.dx, cy + self.scale * (y - cy) + self.dy
        return x * SUPERSAMPLE, y * SUPERSAMPLE

    def box(self, cx: float, cy: float, rx: float, ry: float) -> list[float]:
        return [*self.point(cx - rx, cy - ry), *self.point(cx + rx, cy + ry)]

    def width(self, width: float) -> int:
        return max(1, round(width * self.scale * SUPERSAMPLE))

    def ellipse(self, cx, cy, rx, ry, fill=None, outline=None, width=1.0) -> None:
        self.draw.ellipse(self.box(cx, cy, rx, ry), fill=fill, outline=outline, width=self.width(width))

    def chord(self, cx, cy, rx, ry, start, end, fill) -> None:
        self.draw.chord(self.box(cx, cy, rx, ry), start, end, fill=fill)

    def arc(self, cx, cy, rx, ry, start, end, fill, width=1.0) -> None:
        self.draw.arc(self.box(cx, cy, rx, ry), start, end, fill=fill, width=self.width(width))

    def polygon(self, points, fill) -> None:
        self.draw.polygon([self.point(x, y) for x, y in points], fill=fill)

    def line(self, points, fill, width=1.0) -> None:
        self.draw.line([self.point(x, y) for x, y in points], fill=fill, width=self.width(width), joint="curve")

    def rectangle(self, cx, cy, rx, ry, fill=None, outline=None, width=1.0, radius=0.0) -> None:
        self.draw.rounded_rectangle(
            self.box(cx, cy, rx, ry), radius=radius * SUPERSAMPLE, fill=fill, outline=outline, width=self.width(width)
        )


def _shade(colour, factor: float, alpha: int = 255) -> tuple[int, int, int, int]:
    return (*(int(min(255, c * factor)) for c in colour), alpha)


HEAD_Y = 112.0  # head ellipse centre: eyes (y 112) sit about halfway between skull top and chin
EYE_X, EYE_Y, MOUTH_Y = 19.5, 112.0, 152.0  # aligned CelebA landmarks (eye offset from x 89)


def draw_face(a: dict[str, bool], rng: np.random.Generator) -> Image.Image:
    """One 178x218 RGB face whose visible cues follow the attributes `a`."""
    look = _sample_look(a, rng)  # every random draw happens here, whatever the attributes
    canvas = _Canvas(look)
    _draw_body(canvas, a, look)
    _draw_back_hair(canvas, a, look)
    _draw_head(canvas, a, look)
    _draw_top_hair(canvas, a, look)
    _draw_beard(canvas, a, look)
    _draw_eyes(canvas, a, look)
    _draw_nose(canvas, a, look)
    _draw_mouth(canvas, a, look)
    _draw_age(canvas, a, look)
    if a["Eyeglasses"]:
        _draw_glasses(canvas, look)
    if a["Wearing_Hat"]:
        _draw_hat(canvas, look)
    return _finish(canvas.image, look.light, a["Blurry"], rng)


def _draw_body(canvas: _Canvas, a: dict[str, bool], look: _Look) -> None:
    canvas.rectangle(89, 185, 17, 30, fill=_shade(look.skin, 0.88))  # neck
    canvas.ellipse(89, 252, 88, 56, fill=look.clothes)  # shoulders
    if a["Wearing_Necktie"]:
        canvas.polygon([(76, 198), (89, 206), (102, 198), (98, 222), (80, 222)], fill=(240, 240, 240))  # collar
        canvas.polygon([(85, 202), (93, 202), (96, 222), (82, 222)], fill=look.accent)
    if a["Wearing_Necklace"]:
        canvas.arc(89, 180, 17, 16, 20, 160, fill=(222, 186, 80), width=1.5)


def _draw_back_hair(canvas: _Canvas, a: dict[str, bool], look: _Look) -> None:
    """Long hair falls behind the head to the shoulders; short (male) hair stops at the ears."""
    if a["Bald"]:
        return
    width = look.face_width + (6 if a["Male"] else 13)
    bottom = HEAD_Y + (10 if a["Male"] else look.hair_length)
    canvas.ellipse(89, HEAD_Y - 8, width, 62, fill=look.hair)
    canvas.rectangle(89, (HEAD_Y + bottom) / 2, width, (bottom - HEAD_Y) / 2, fill=look.hair, radius=8)
    if a["Wavy_Hair"]:
        for y in np.arange(HEAD_Y - 20, bottom - 4, 12):
            for side in (-1, 1):
                canvas.ellipse(89 + side * width, y, 6, 7, fill=look.hair)


def _draw_head(canvas: _Canvas, a: dict[str, bool], look: _Look) -> None:
    for side in (-1, 1):
        canvas.ellipse(89 + side * look.face_width, 116, 6, 12, fill=_shade(look.skin, 0.93))  # ears
        if a["Wearing_Earrings"]:
            canvas.ellipse(89 + side * look.face_width, 131, 2.5, 2.5, fill=(230, 195, 90))
    canvas.ellipse(89, HEAD_Y, look.face_width, look.face_height, fill=look.skin)


def _draw_top_hair(canvas: _Canvas, a: dict[str, bool], look: _Look) -> None:
    """Hair over the skull, a hairline (higher when receding), bangs; bald heads keep side tufts."""
    fw = look.face_width
    if a["Bald"]:
        for side in (-1, 1):
            canvas.ellipse(89 + side * (fw - 2), 104, 5, 14, fill=look.hair)
        return
    top = HEAD_Y - look.face_height - (3 if a["Male"] else 8)
    canvas.chord(89, 100, fw + 4, 100 - top, 180, 360, fill=look.hair)
    hairline = 66 if a["Receding_Hairline"] else 78
    canvas.ellipse(89, 112, fw - 7, 112 - hairline, fill=look.skin)  # forehead under the hair
    if a["Bangs"]:
        canvas.chord(89, 72, fw - 2, 24, 0, 180, fill=look.hair)


def _draw_beard(canvas: _Canvas, a: dict[str, bool], look: _Look) -> None:
    beard = _shade(look.hair if not a["Bald"] else (90, 80, 75), 0.8)
    jaw = (89, HEAD_Y, look.face_width, look.face_height)
    if a["5_o_Clock_Shadow"]:
        canvas.chord(*jaw, 30, 150, fill=(60, 50, 45, 45))
    if not a["No_Beard"] and not a["Goatee"]:
        canvas.chord(*jaw, 30, 150, fill=beard)
    if a["Goatee"]:
        canvas.ellipse(89, 166, 11, 9, fill=beard)
    if a["Sideburns"]:
        for side in (-1, 1):
            canvas.rectangle(89 + side * (look.face_width - 4), 118, 3.5, 16, fill=beard)


def _draw_eyes(canvas: _Canvas, a: dict[str, bool], look: _Look) -> None:
    brow = _shade(look.hair, 0.7) if not a["Bald"] else _shade(look.skin, 0.4)
    height = 2.8 if a["Narrow_Eyes"] else 4.4
    for side in (-1, 1):
        x = 89 + side * EYE_X
        if a["Heavy_Makeup"]:
            canvas.ellipse(x, EYE_Y - 3, 10, 5, fill=(*look.accent, 90))
        canvas.ellipse(x, EYE_Y, 9, height, fill=(245, 245, 240))
        canvas.ellipse(x + look.gaze, EYE_Y, 3.6, min(3.6, height), fill=look.iris)
        canvas.ellipse(x + look.gaze, EYE_Y, 1.6, 1.6, fill=(10, 10, 10))
        canvas.arc(x, EYE_Y + 1, 9.5, height + 1, 190, 350, fill=(40, 30, 30), width=1.2)
        arch = 3.5 if a["Arched_Eyebrows"] else 1.0
        canvas.line([(x - side * 11, 102), (x + side * 1, 100 - arch), (x + side * 11, 103)], brow,
                    width=3.6 if a["Bushy_Eyebrows"] else 2.2)  # fmt: skip


def _draw_nose(canvas: _Canvas, a: dict[str, bool], look: _Look) -> None:
    wide = 1.35 if a["Big_Nose"] else 1.0
    tip = 136 if a["Pointy_Nose"] else 134
    canvas.line([(86, 112), (84 - wide, tip - 3)], _shade(look.skin, 0.8, 150), width=1.6)
    canvas.ellipse(89, tip, 7 * wide, 4, fill=_shade(look.skin, 0.9, 120))
    for side in (-1, 1):
        canvas.ellipse(89 + side * 4.5 * wide, tip + 2, 2.6 * wide, 1.5, fill=_shade(look.skin, 0.5))


def _draw_mouth(canvas: _Canvas, a: dict[str, bool], look: _Look) -> None:
    """Smiling: an open, upturned 'D' with teeth or an upturned lip curve; otherwise straight lips."""
    lip = (176, 34, 52) if a["Wearing_Lipstick"] else _shade(look.skin, 0.78)[:3]
    lower = 5.5 if a["Big_Lips"] else 4.0
    if a["Smiling"] and a["Mouth_Slightly_Open"]:
        canvas.chord(89, MOUTH_Y - 3, 16, 9, 0, 180, fill=(70, 20, 25))
        canvas.chord(89, MOUTH_Y - 3, 14, 4, 0, 180, fill=(240, 236, 226))
        canvas.arc(89, MOUTH_Y - 3, 16, 9, 0, 180, fill=lip, width=2.2)
        canvas.line([(73, MOUTH_Y - 3), (105, MOUTH_Y - 3)], lip, width=2.2)
    elif a["Smiling"]:
        canvas.arc(89, MOUTH_Y - 8, 16, 9, 25, 155, fill=lip, width=3.2)
    else:
        canvas.chord(89, MOUTH_Y, 14, 3, 180, 360, fill=lip)
        canvas.chord(89, MOUTH_Y, 12, lower, 0, 180, fill=lip)
        gap = 2.5 if a["Mouth_Slightly_Open"] else 0.5
        canvas.ellipse(89, MOUTH_Y, 11, gap, fill=(60, 20, 25))
    if a["Mustache"]:
        canvas.chord(89, MOUTH_Y - 6, 16, 5, 180, 360, fill=_shade(look.hair, 0.8))


def _draw_age(canvas: _Canvas, a: dict[str, bool], look: _Look) -> None:
    """Older faces get forehead and smile lines; bags, rosy cheeks and double chins as labelled."""
    line = _shade(look.skin, 0.7, 150)
    if not a["Young"]:
        if not a["Bangs"]:
            for y in (86, 91):
                canvas.arc(89, y + 6, 16, 6, 200, 340, fill=line, width=1.2)
        for side in (-1, 1):
            canvas.line([(89 + side * 9, 138), (89 + side * 16, 152)], line, width=1.2)
    for side in (-1, 1):
        x = 89 + side * EYE_X
        if a["Bags_Under_Eyes"] or not a["Young"]:
            canvas.arc(x, EYE_Y + 3, 7, 3, 20, 160, fill=line, width=1.2)
        if a["Rosy_Cheeks"] or a["Heavy_Makeup"]:
            canvas.ellipse(x + side * 5, 134, 9, 6, fill=(230, 90, 100, 70))
    if a["Double_Chin"]:
        canvas.arc(89, HEAD_Y + look.face_height - 2, 16, 5, 20, 160, fill=line, width=1.5)


def _draw_glasses(canvas: _Canvas, look: _Look) -> None:
    frame = _shade(look.accent, 0.4)
    lens = (20, 20, 25, 225) if look.sunglasses else None
    for side in (-1, 1):
        x = 89 + side * EYE_X
        canvas.rectangle(x, EYE_Y, 12, 8.5, fill=lens, outline=frame, width=1.8, radius=4)
        canvas.line([(x + side * 12, EYE_Y - 2), (89 + side * look.face_width, EYE_Y - 4)], frame, width=1.8)
    canvas.line([(89 - EYE_X + 12, EYE_Y - 2), (89 + EYE_X - 12, EYE_Y - 2)], frame, width=1.8)


def _draw_hat(canvas: _Canvas, look: _Look) -> None:
    canvas.chord(89, 80, look.face_width + 7, 44, 180, 360, fill=look.accent)
    canvas.ellipse(89, 80, look.face_width + 17, 6, fill=_shade(look.accent, 0.8))


def _finish(image: Image.Image, light: tuple[float, float, float], blurry: bool, rng) -> Image.Image:
    """Downsample to 178x218, then light from one side, vary exposure, add sensor-like noise."""
    tilt, gain, blur = light
    pixels = np.asarray(image.reduce(SUPERSAMPLE), np.float32)
    pixels *= (gain * (1 + tilt * (np.arange(WIDTH, dtype=np.float32) - 89) / 89))[None, :, None]
    pixels += 6.0 * (rng.random(pixels.shape, dtype=np.float32) - 0.5)  # uniform: 4x cheaper than normal
    result = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return result.filter(ImageFilter.GaussianBlur(blur)) if blurry else result
