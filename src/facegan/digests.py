"""Digests of files, compared the way published checksums are written."""
from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def file_digest(path: Path, algorithm: str = "md5") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def digest_matches(actual: str, expected: str) -> bool:
    """`expected` is the whole hex digest, or (torch hub's convention: torchvision names its
    files `name-<first 8 hex digits of the sha256>.pth`) a prefix of at least 8 digits."""
    expected = expected.lower()
    return actual == expected or (len(expected) >= 8 and actual.startswith(expected))
