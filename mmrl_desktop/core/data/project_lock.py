"""One writer of ``project.toml`` at a time, and no temp file left behind.

Two processes that import into one project each read ``project.toml``, add their labels and
write it back; without a lock the second write drops the first one's labels. Every writer holds
an exclusive lock on ``.project.lock`` in the project folder (``fcntl.flock`` on POSIX,
``msvcrt.locking`` on Windows) while it re-reads, merges and replaces the file. The lock is
re-entrant within a thread and released by the operating system when a process dies, so a killed
import never leaves the project locked.

``project.atomic_write_bytes`` writes ``.<name>.<random>.tmp`` beside its target; a process killed
between writing and renaming leaves that file. ``remove_stale_temp_files`` deletes them on the next
open: ``project.toml``'s at once under the lock (its writers hold it), the others (and
``project.toml``'s when the lock is not held) once they are old enough that no live writer can
still own them.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mmrl_desktop.core.errors import ProjectError

LOCK_FILE = ".project.lock"
LOCK_TIMEOUT_S = 60.0
STALE_TEMP_AGE_S = 600.0  # a checkpoint or export temp file older than this has no live writer

_held = threading.local()  # {resolved root: depth} for this thread (re-entrancy)


def read_only_error(root: Path, err: OSError | None = None) -> ProjectError:
    why = f" ({err.strerror})" if err is not None and err.strerror else ""
    return ProjectError(
        f"the project folder {root} is read-only{why}; mmrl-desktop writes answers and "
        "checkpoints there, so copy the project to a writable folder or make it writable."
    )


@contextmanager
def project_lock(root: str | os.PathLike, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the project's exclusive write lock (waits up to ``timeout`` seconds)."""
    root = Path(root)
    key = os.path.realpath(root)
    depth = getattr(_held, "depth", None)
    if depth is None:
        depth = _held.depth = {}
    if depth.get(key):
        depth[key] += 1
        try:
            yield
        finally:
            depth[key] -= 1
        return
    try:
        fd = os.open(str(root / LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as err:
        if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise read_only_error(root, err) from None
        raise
    try:
        locked = _acquire(fd, root, timeout)
        depth[key] = 1
        try:
            yield
        finally:
            depth[key] = 0
            if locked:
                _release(fd)
    finally:
        os.close(fd)


_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


def _acquire(fd: int, root: Path, timeout: float) -> bool:
    """Lock ``fd``; False where the file system has no locks (some network shares): then the
    writers are not serialized, as before locks existed, rather than refused."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.name == "nt":  # pragma: no cover - Windows
                import msvcrt

                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as err:
            if err.errno in _NO_LOCKS:
                return False
            if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, errno.EDEADLK):
                raise
        if time.monotonic() > deadline:
            raise ProjectError(
                f"another mmrl-desktop has been writing {root} for over {timeout:.0f} s; "
                "close it or wait, then try again."
            )
        time.sleep(0.02)


def _release(fd: int) -> None:
    if os.name == "nt":  # pragma: no cover - Windows
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


def _temp_files(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.glob(".*.tmp") if p.is_file()]
    except OSError:
        return []


def remove_stale_temp_files(root: Path, folders: list[Path], toml_name: str) -> list[str]:
    """Delete temp files that ``atomic_write_bytes`` left behind; returns their names.

    ``.<toml_name>.*.tmp`` in ``root`` go at once only while this thread holds ``project_lock``
    (every writer of ``toml_name`` holds it from ``mkstemp`` to ``os.replace``, so none is live);
    without the lock they, and any other ``.*.tmp`` in ``root`` and ``folders``, go only when
    older than ``STALE_TEMP_AGE_S``: a writer in another process may own a young one."""
    removed: list[str] = []
    now = time.time()
    locked = bool((getattr(_held, "depth", None) or {}).get(os.path.realpath(root)))
    for folder in [root, *folders]:
        for path in _temp_files(folder):
            mine = locked and folder == root and path.name.startswith(f".{toml_name}.")
            try:
                if not mine and now - path.stat().st_mtime < STALE_TEMP_AGE_S:
                    continue
                path.unlink()
            except OSError:
                continue
            removed.append(path.name)
    return removed
