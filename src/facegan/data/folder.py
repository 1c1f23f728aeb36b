"""Your own folder of faces: JPEG, PNG or WebP photos, flat or in subfolders, with no
annotation file (PGAN) or a file of attributes (StarGAN): a CSV, or one in the format of
CelebA's list_attr_celeba.txt (`celeba_format`).

The `folder` source (`facegan.data.sources.fetch_folder`) brings the photos into
`data/raw/celeba/images/` under their paths in the folder, as stylegan3's `dataset_tool.py`
and the PGAN zoo's `datasets.py` take any folder of images, and the attribute file, when
there is one, beside them. Hidden files and folders (a leading ".", such as macOS's `._`
copies) are no photos.

The CSV (docs/data.md, "Your own folder of faces"): UTF-8 text, comma-separated, a header
row first. The first column is each photo's path relative to the folder, with "/" between
subfolders (`alice/001.jpg`), whatever its header says (`file`; Kaggle's CelebA CSV says
`image_id`); every other column is an attribute named by its header, 1 when the photo has
it and 0 or -1 when it has not. Only the columns StarGAN selects are read.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from facegan.data.celeba_format import CELEBA_ATTR, CelebAFormatError
from facegan.data.celeba_params import CSV_SUFFIX
from facegan.errors import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")  # compared lower-case
FOLDER_IMAGES = "images"  # the photos in data/raw/celeba/, under their paths in data.celeba.folder
FOLDER_CSV = "attributes.csv"  # data.celeba.attributes_file in data/raw/celeba/ when a CSV
POSITIVE, NEGATIVE = ("1",), ("0", "-1")  # a CSV's attribute values


class AttributeCSVError(CelebAFormatError):
    """A CSV of attributes that does not follow the documented format."""


def list_images(folder: Path) -> tuple[list[str], list[str]]:
    """(photos, other files) under `folder`, as sorted paths relative to it with "/"; hidden
    files and folders are in neither."""
    images, others = [], []
    for root, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in names:
            if not name.startswith("."):
                relative = (Path(root) / name).relative_to(folder).as_posix()
                (images if Path(name).suffix.lower() in IMAGE_SUFFIXES else others).append(relative)
    return sorted(images), sorted(others)


def attribute_file_name(path: Path | str) -> str:
    """The name data.celeba.attributes_file takes in data/raw/celeba/: a CSV, or a file in
    CelebA's own format (list_attr_celeba.txt)."""
    return FOLDER_CSV if Path(path).suffix.lower() == CSV_SUFFIX else CELEBA_ATTR


def read_attribute_csv(path: Path, attributes: Sequence[str]) -> tuple[list[str], list[int], np.ndarray]:
    """(file names, their line numbers, int8 (N, len(attributes)) +1 / -1) of a CSV's rows,
    the columns in `attributes` order; any departure from the format names its line."""
    path = Path(path)
    lines: dict[str, int] = {}  # file name -> its line, in the file's order
    rows: list[list[bool]] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as stream:  # -sig: the byte-order mark Excel writes
            reader = csv.reader(stream)
            header = [name.strip() for name in next(reader, [])]
            columns = _columns(path, header, attributes)
            for row in reader:
                if any(cell.strip() for cell in row):  # blank lines are no rows
                    lines[_row_file(path, reader.line_num, row, len(header), lines)] = reader.line_num
                    rows.append([_value(path, reader.line_num, name, row[column])
                                 for name, column in zip(attributes, columns)])
    except (UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"{path} cannot be read as a UTF-8 CSV: {error}") from error
    if not rows:
        raise AttributeCSVError(path, 2, "no rows after the header: give one row per photo")
    values = np.where(np.array(rows, bool).reshape(len(rows), len(attributes)), 1, -1).astype(np.int8)
    return list(lines), list(lines.values()), values


def _columns(path: Path, header: list[str], attributes: Sequence[str]) -> list[int]:
    """The column of each attribute, or why the header will not do."""
    if len(header) < 2 or not all(header[1:]):
        raise AttributeCSVError(path, 1, f"expected a header row: a file column, then one named column per attribute "
                                          f"(such as file,Smiling,Eyeglasses); found {','.join(header)!r}")
    repeated = sorted({name for name in header[1:] if header[1:].count(name) > 1})
    if repeated:
        raise AttributeCSVError(path, 1, f"column(s) {', '.join(repeated)} appear more than once")
    missing = [name for name in attributes if name not in header[1:]]
    if missing:
        raise AttributeCSVError(path, 1, f"no column {', '.join(map(repr, missing))} for stargan.data.attributes; its "
                                          f"attribute columns are {', '.join(header[1:])}: choose among them, or "
                                          "add the column")
    return [header.index(name) for name in attributes]


def _row_file(path: Path, line: int, row: list[str], width: int, lines: dict[str, int]) -> str:
    if len(row) != width:
        raise AttributeCSVError(path, line, f"expected {width} cells, as the header has, found {len(row)}")
    name = row[0].strip()
    if not name:
        raise AttributeCSVError(path, line, "the file column is empty")
    if name in lines:
        raise AttributeCSVError(path, line, f"{name} is listed twice (first on line {lines[name]})")
    return name


def _value(path: Path, line: int, attribute: str, cell: str) -> bool:
    value = cell.strip()
    if value not in POSITIVE + NEGATIVE:
        raise AttributeCSVError(path, line, f"{attribute} = {cell!r}: must be 1 (the photo has it) or 0 or -1 "
                                            "(it has not)")
    return value in POSITIVE
