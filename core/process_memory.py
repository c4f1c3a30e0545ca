"""This process's own peak resident memory (RSS), for runs on the CPU and the benchmarks.

On Linux it is VmHWM from /proc/self/status, the high-water mark of this process's own
memory map. getrusage's ru_maxrss is not: the kernel carries it across execve, so a
process started from a large one (a run launched by a notebook, a benchmark child under a
1.5 GiB pytest) would report its parent's peak as its own.
"""

from __future__ import annotations

import sys


def own_peak_rss_bytes() -> int | None:
    """Peak RSS of this process in bytes; None where the system cannot tell (Windows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        pass  # not Linux
    try:
        import resource  # platform-specific: POSIX only
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # macOS reports bytes (and keeps no parent's peak); other systems kilobytes.
    return int(peak if sys.platform == "darwin" else peak * 1024)
