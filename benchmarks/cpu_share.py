"""The share of a core a busy trainer gets under each scheduling policy, beside busy programs.

    python benchmarks/cpu_share.py [--seconds 6] [--hogs 2] [--cpu 1] [POLICY ...]

POLICY: ``idle`` (SCHED_IDLE), ``batchN`` (SCHED_BATCH at nice N), ``niceN`` (SCHED_OTHER at
nice N); default: idle batch19 batch10 nice0. Linux only. For each policy it pins ``--hogs``
busy loops at nice 0 and one busy loop under the policy to the same CPU, and prints the policy's
CPU seconds per wall second, then one JSON object. Other programs on that CPU lower every share.
Used for ADR 0009 (amended).
"""

from __future__ import annotations

import argparse
import json
import os
import time


def _spin(seconds: float) -> float:
    t0, c0 = time.monotonic(), time.process_time()
    while time.monotonic() - t0 < seconds:
        pass
    return (time.process_time() - c0) / (time.monotonic() - t0)


def _apply(policy: str) -> None:
    if policy == "idle":
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    elif policy.startswith("batch"):
        os.nice(int(policy[5:]))
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    elif policy.startswith("nice"):
        os.nice(int(policy[4:]))
    else:
        raise SystemExit(f"unknown policy {policy!r}")


def share(policy: str, seconds: float, hogs: int, cpu: int) -> float:
    children = []
    for _ in range(hogs):
        pid = os.fork()
        if pid == 0:
            os.sched_setaffinity(0, {cpu})
            _spin(seconds + 1.0)
            os._exit(0)
        children.append(pid)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.sched_setaffinity(0, {cpu})
        _apply(policy)
        os.write(write, f"{_spin(seconds):.4f}".encode())
        os._exit(0)
    os.close(write)
    value = float(os.read(read, 64))
    for child in [*children, pid]:
        os.waitpid(child, 0)
    return value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("policies", nargs="*", default=["idle", "batch19", "batch10", "nice0"])
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--hogs", type=int, default=2)
    ap.add_argument("--cpu", type=int, default=1)
    args = ap.parse_args()
    out = {}
    for policy in args.policies:
        out[policy] = share(policy, args.seconds, args.hogs, args.cpu)
        print(policy, out[policy], flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
