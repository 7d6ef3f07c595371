"""Helpers shared by the benchmark scripts."""

import os
import time


def cpu_snapshot() -> tuple[float, float, float] | None:
    """(busy CPU seconds of the whole machine, this process's CPU seconds, wall clock)."""
    try:
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    own = os.times()
    return (sum(vals) - vals[3] - vals[4]) / hz, own.user + own.system, time.monotonic()


def foreign_cores(before, after) -> float | None:
    """Average cores busy with other processes between two snapshots (noise indicator)."""
    if before is None or after is None or after[2] <= before[2]:
        return None
    other = (after[0] - before[0]) - (after[1] - before[1])
    return round(max(other, 0.0) / (after[2] - before[2]), 2)


def rss_mb() -> float:
    """Resident set size of this process in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stop_process(proc, timeout: float = 15) -> None:
    """SIGTERM a server process, then SIGKILL it if it is still there after `timeout`."""
    import signal
    import subprocess

    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
