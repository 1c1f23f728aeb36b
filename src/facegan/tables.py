"""Plain-text tables for the benchmark scripts and the paper smoke run."""
from __future__ import annotations


def row_text(cells: list[str], widths: list[int]) -> str:
    """Numbers right-aligned; the first (name) and last (name or note) columns left-aligned."""
    return "  ".join(cell.rjust(width) if 0 < index < len(cells) - 1 else cell.ljust(width)
                     for index, (cell, width) in enumerate(zip(cells, widths))).rstrip()


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    print(row_text(header, widths))
    print(row_text(["-" * w for w in widths], widths))
    for row in rows:
        print(row_text(row, widths))
