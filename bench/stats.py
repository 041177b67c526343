"""Latency statistics and what /proc says about processes and the machine."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: Sequence[float], percent: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(percent / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Latency:
    """Latency percentiles in milliseconds and the throughput of one run."""

    count: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    per_second: float

    @classmethod
    def from_ns(cls, timings_ns: Sequence[int], elapsed_s: float) -> Latency:
        """From per-operation timings (ns) of a serial loop that took elapsed_s seconds."""
        ordered = sorted(t / 1e6 for t in timings_ns)
        mean = sum(ordered) / len(ordered) if ordered else math.nan
        return cls(len(ordered), percentile(ordered, 50), percentile(ordered, 99), mean,
                   len(ordered) / elapsed_s if elapsed_s > 0 else math.nan)


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, or None when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def vm_hwm_kib(pid: int) -> int | None:
    """Peak resident memory (VmHWM) of a process in KiB, or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def child_pids(pid: int) -> list[int]:
    """Direct children of a process, from /proc/*/stat."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return sorted(children)


def machine_cpu() -> tuple[float, float]:
    """(busy, interrupt) CPU seconds of the whole machine since boot, from /proc/stat.

    Interrupt time (irq + softirq: loopback networking, mostly) is part of busy but is charged
    to no process.
    """
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # steal included, guest already counted in user
    return (total - idle) / _TICKS, (values[5] + values[6]) / _TICKS
