"""What the benchmark scripts share: a process's peak memory, and plain-text tables
(facegan.tables, which the paper smoke run prints with too; the machine: facegan.machine)."""
from __future__ import annotations

from pathlib import Path

from facegan.tables import print_table  # noqa: F401  (the scripts import it from here)


def peak_rss_kb() -> int:
    """This process's peak RSS: VmHWM, the high-water mark of its own address space.

    Not getrusage's ru_maxrss: Linux carries that over from the parent's address space
    through fork/vfork and exec, so every worker would report at least the parent's RSS."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0])
