"""What the benchmark scripts share: a process's peak memory and
plain-text tables (the machine: facegan.machine)."""
from __future__ import annotations

from pathlib import Path


def peak_rss_kb() -> int:
    """This process's peak RSS: VmHWM, the high-water mark of its own address space.

    Not getrusage's ru_maxrss: Linux carries that over from the parent's address space
    through fork/vfork and exec, so every worker would report at least the parent's RSS."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0])


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
