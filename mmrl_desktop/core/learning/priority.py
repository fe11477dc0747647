"""The trainer process's CPU priority: it gives way to the GUI, but is never starved to zero.

    lower_priority(LOADING_NICE)   # while torch is imported and the model built
    lower_priority(TRAINER_NICE)   # then, for good (never back up)

Linux and macOS: the nice value (per thread on Linux: the threads torch started meanwhile are
lowered too) and, on Linux, ``SCHED_BATCH``; Windows: the process's priority class (psutil).
ADR 0009 (amended) and ADR 0007 say why these values.
"""

from __future__ import annotations

import os

LOADING_NICE = 10  # while torch is imported and the model built (a few CPU seconds)
TRAINER_NICE = 19  # then: the lowest normal priority, a floor of CPU, never none (ADR 0009)


def lower_priority(nice: int) -> None:
    """The trainer gives way to the GUI when both want the CPU, but is never starved to zero.

    The calling thread (and the threads it starts later) goes to ``nice`` — never back up, which
    would need a privilege — and, on Linux, to ``SCHED_BATCH``: a batch thread that wakes from its
    pipe never preempts the running GUI thread (at plain nice 10 the trainer did:
    docs/benchmarks.md §2b, fourth session), and the GUI thread still preempts it. ``nice 19`` has
    a CFS weight of 15 against 1024 at nice 0: beside a busy program it still gets ~1.5 % of a
    core. Under ``SCHED_IDLE`` (weight 3) two busy programs stopped training altogether; at nice
    19, loading still took minutes, so it runs at ``LOADING_NICE`` (weight 110, ~10 %). ADR 0009,
    amended.

    Windows has no ``nice``: the whole process goes to a lower priority class instead
    (``_lower_priority_class``)."""
    if not hasattr(os, "nice"):
        _lower_priority_class(nice)
        return
    try:
        current = os.nice(0)
        if nice > current:
            os.nice(nice - current)
    except OSError:  # a refused change changes nothing
        pass
    if hasattr(os, "SCHED_BATCH"):
        try:
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        except OSError:
            pass
    _lower_other_threads(nice)


# Windows priority classes, highest first (psutil's names; they exist on Windows only)
PRIORITY_CLASSES = ("REALTIME", "HIGH", "ABOVE_NORMAL", "NORMAL", "BELOW_NORMAL", "IDLE")


def _lower_priority_class(nice: int) -> None:
    """Windows: the process (every thread of it) to ``BELOW_NORMAL`` while loading and ``IDLE``
    at ``TRAINER_NICE`` — never back up. Windows boosts a thread that waited seconds for the CPU,
    so an idle-class trainer still gets a floor of it."""
    try:
        import psutil

        wanted = getattr(
            psutil, ("IDLE" if nice >= TRAINER_NICE else "BELOW_NORMAL") + "_PRIORITY_CLASS"
        )
        rank = {
            getattr(psutil, f"{n}_PRIORITY_CLASS", n): i for i, n in enumerate(PRIORITY_CLASSES)
        }
        process = psutil.Process()
        if rank[wanted] > rank.get(process.nice(), PRIORITY_CLASSES.index("NORMAL")):
            process.nice(wanted)
    except Exception:  # no psutil, or the change refused (psutil.AccessDenied): as it is
        pass


def _lower_other_threads(nice: int) -> None:
    """On Linux the nice value is per thread: the threads torch started while loading (its
    intra-op pool) would keep ``LOADING_NICE`` and do the matrix work at it. Lower them too."""
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except (OSError, ValueError):  # not Linux
        return
    for tid in tids:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
            if hasattr(os, "SCHED_BATCH"):
                os.sched_setscheduler(tid, os.SCHED_BATCH, os.sched_param(0))
        except OSError:  # the thread ended meanwhile, or the change was refused
            pass
