"""The official CelebA annotation files, read strictly and written byte-exactly.

As CelebA publishes them (Liu et al. 2015): `list_attr_celeba.txt` is a count line, a line of the 40 attribute
names, then one row per image, "file  v1 ... v40", values 1 / -1 with variable spacing.
`list_eval_partition.txt` is one "000001.jpg 0" line per image (0 train, 1 val, 2 test).
A malformed line fails at once with the file, the 1-based line number and what was
expected, so a damaged download never turns into silently wrong labels.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from facegan.choices import CELEBA_ATTRIBUTES
from facegan.errors import UserError
from facegan.io import atomic_write_bytes

CELEBA_IMAGES, CELEBA_ATTR, CELEBA_PARTITION = "img_align_celeba", "list_attr_celeba.txt", "list_eval_partition.txt"
SPLITS: tuple[str, ...] = ("train", "val", "test")  # partition codes 0, 1, 2


class CelebAFormatError(UserError, ValueError):
    """A CelebA annotation file that does not follow the official format."""

    def __init__(self, path: Path, line: int, message: str):
        super().__init__(f"{path}, line {line}: {message}")
        self.path = Path(path)
        self.line = line


def _lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(1-based line number, whitespace-split tokens), blank trailing lines dropped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    for number, line in enumerate(lines, start=1):
        yield number, line.split()


def read_attributes(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Parse `list_attr_celeba.txt` -> (attribute names, file names, int8 (N, 40) of +1/-1)."""
    lines = _lines(path)
    number, tokens = next(lines, (1, []))
    if len(tokens) != 1 or not tokens[0].isdigit():
        raise CelebAFormatError(path, number, f"expected the image count, found {' '.join(tokens)!r}")
    count = int(tokens[0])
    number, names = next(lines, (2, []))
    if tuple(names) != CELEBA_ATTRIBUTES:
        raise CelebAFormatError(path, number, f"expected the 40 CelebA attribute names, found {names[:3]}...")
    files, rows = [], []
    for number, tokens in lines:
        _check_attribute_row(path, number, tokens)
        files.append(tokens[0])
        rows.append(tokens[1:])
    if len(files) != count:
        raise CelebAFormatError(path, 1, f"the count line says {count} images but {len(files)} rows follow")
    _check_unique(path, files, first_row_line=3)
    values = np.where(np.array(rows, dtype=str).reshape(-1, len(names)) == "1", 1, -1).astype(np.int8)
    return list(names), files, values


def _check_attribute_row(path: Path, number: int, tokens: list[str]) -> None:
    expected = len(CELEBA_ATTRIBUTES) + 1
    if len(tokens) != expected:
        raise CelebAFormatError(path, number, f"expected a file name and 40 values, found {len(tokens)} columns")
    bad = [value for value in tokens[1:] if value not in ("1", "-1")]
    if bad:
        raise CelebAFormatError(path, number, f"attribute values must be 1 or -1, found {bad[0]!r}")


def _check_unique(path: Path, files: Sequence[str], first_row_line: int) -> None:
    seen: set[str] = set()
    for index, name in enumerate(files):
        if name in seen:
            raise CelebAFormatError(path, first_row_line + index, f"{name} is listed twice")
        seen.add(name)


def attribute_columns(attributes: Sequence[str]) -> list[int]:
    """Columns of `attributes` among the 40 CelebA ones; an unknown or repeated name is a UserError."""
    unknown = [name for name in attributes if name not in CELEBA_ATTRIBUTES]
    if unknown:
        raise UserError(
            f"stargan.data.attributes: {', '.join(map(repr, unknown))} not CelebA attribute(s); "
            f"the known ones are {', '.join(CELEBA_ATTRIBUTES)}"
        )
    repeated = sorted({name for name in attributes if list(attributes).count(name) > 1})
    if repeated or not attributes:
        raise UserError(f"stargan.data.attributes must list distinct attributes, got {list(attributes)}")
    return [CELEBA_ATTRIBUTES.index(name) for name in attributes]


def write_attributes(path: Path, files: Sequence[str], values: np.ndarray) -> None:
    """Write `list_attr_celeba.txt` exactly as the official file is laid out.

    The official rows are the file name, one space, the first value as is, then every
    other value right-aligned in three characters ("000001.jpg -1  1 ...", "000007.jpg 1 -1
    ..."); the names line ends with a space.
    """
    values = np.asarray(values)
    if values.shape != (len(files), len(CELEBA_ATTRIBUTES)) or not np.isin(values, (1, -1)).all():
        raise ValueError(f"values must be ({len(files)}, 40) of +1/-1, got shape {values.shape}")
    lines = [f"{len(files)}", " ".join(CELEBA_ATTRIBUTES) + " "]
    lines += [f"{name} {row[0]}" + "".join(f"{v:3d}" for v in row[1:]) for name, row in zip(files, values.tolist())]
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())


def read_partition(path: Path) -> dict[str, int]:
    """Parse `list_eval_partition.txt` -> {file name: 0 train | 1 val | 2 test}."""
    partition: dict[str, int] = {}
    for number, tokens in _lines(path):
        if len(tokens) != 2 or tokens[1] not in ("0", "1", "2"):
            raise CelebAFormatError(path, number, f"expected 'file split' with split 0, 1 or 2, found {tokens}")
        if tokens[0] in partition:
            raise CelebAFormatError(path, number, f"{tokens[0]} is listed twice")
        partition[tokens[0]] = int(tokens[1])
    return partition


def write_partition(path: Path, partition: Mapping[str, int]) -> None:
    """Write `list_eval_partition.txt` in the official "000001.jpg 0" layout."""
    if not set(partition.values()) <= {0, 1, 2}:
        raise ValueError(f"split codes must be 0, 1 or 2, got {sorted(set(partition.values()))}")
    text = "".join(f"{name} {split}\n" for name, split in partition.items())
    atomic_write_bytes(path, text.encode())
