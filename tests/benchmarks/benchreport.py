"""What the benchmark scripts share: a process's peak memory (their tables: facegan.tables;
the machine: facegan.machine)."""
from __future__ import annotations

from pathlib import Path


def peak_rss_kb() -> int:
    """This process's peak RSS: VmHWM, the high-water mark of its own address space.

    Not getrusage's ru_maxrss: Linux carries that over from the parent's address space
    through fork/vfork and exec, so every worker would report at least the parent's RSS."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0])
