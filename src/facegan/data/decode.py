"""One source image read and decoded by a data stage, or the reason it is skipped: the
stages pack what decodes and list the rest in their manifest with that reason, rather
than fail on one damaged file."""
from __future__ import annotations

import hashlib
from io import BytesIO
from pathlib import Path
from typing import Callable, TypeVar

from PIL import Image, UnidentifiedImageError

Decoded = TypeVar("Decoded")


class Unusable(Exception):
    """Raised by a `decode_file` conversion: the image decodes but the stage cannot use it."""


def decode_file(path: Path, convert: Callable[[Image.Image], Decoded]) -> tuple[Decoded | None, str, bytes]:
    """(convert(the opened image), "", sha256 digest of the file's bytes), or (None, why the
    file is unusable, the digest; empty when the file cannot be read). Errors that `convert`
    raises while decoding count as a damaged file."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        return None, f"unreadable file ({error.strerror})", b""
    digest = hashlib.sha256(data).digest()
    try:
        with Image.open(BytesIO(data)) as image:
            return convert(image), "", digest
    except Unusable as reason:
        return None, str(reason), digest
    except UnidentifiedImageError:
        return None, "not an image", digest
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        return None, f"corrupt or truncated image ({error})", digest
