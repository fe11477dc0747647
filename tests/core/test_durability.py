"""Power-cut safety: a process writing answers is SIGKILLed at random moments, many times; every
answer it acknowledged (printed after its commit returned) is in the store after reopening."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task

WRITER = r"""
import sys
from mmrl_desktop.core.data.store import FeedbackStore
store = FeedbackStore(sys.argv[1])
k = 0
while True:
    k += 1
    eid = store.record_feedback(f"i{k % 50}", "label", "a", 0.5, 1 if k % 2 else -1,
                                annotator="killer", model_version=k)
    if k % 7 == 0:
        store.retract(eid)
    print("ack", eid, flush=True)
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_sigkill_at_random_moments_loses_no_acknowledged_answer(tmp_path):
    project = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])])
    with project.open_store() as store:
        store.add_items([Item(f"i{k}", image=f"/x/{k}.png") for k in range(50)])
    rng = random.Random(1234)
    acked_total: set[int] = set()
    for _round in range(20):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(project.db_path)],
            stdout=subprocess.PIPE,
        )
        acked: set[int] = set()
        deadline = time.monotonic() + rng.uniform(0.05, 0.6)
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        buf = b""
        while time.monotonic() < deadline:
            try:
                buf += os.read(fd, 65536)
            except BlockingIOError:
                time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        os.set_blocking(fd, True)
        buf += proc.stdout.read()  # what it printed before dying: acknowledged too
        proc.stdout.close()
        for line in buf.decode().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "ack":
                acked.add(int(parts[1]))
        # reopen as a fresh process would: every acknowledged event is there
        project = Project.open(tmp_path / "p")
        with project.open_store() as store:
            present = {e.event_id for e in store.all_events()}
            assert store.schema_version >= 1
        missing = acked - present
        assert not missing, f"round {_round}: acknowledged events lost: {sorted(missing)[:10]}"
        acked_total |= acked
    assert len(acked_total) > 100  # the writers really wrote
