"""Background work yields the CPU to requests: a lower scheduling priority per thread."""

import logging
import os
import threading

log = logging.getLogger("chainmatch.matching")


def lower_thread_priority(nice: int) -> bool:
    """Raise the calling thread's nice value by `nice` (Linux: per thread); whether it worked.

    Threads it starts afterwards (an encoder's OpenMP workers) inherit the value, so a bulk
    encoding run or an index rebuild takes only the CPU that requests leave.
    """
    if nice <= 0 or not hasattr(os, "setpriority"):
        return False
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(current + nice, 19))
    except OSError:  # pragma: no cover - a platform without per-thread priorities
        log.debug("could not lower the priority of thread %s", tid, exc_info=True)
        return False
    return True
