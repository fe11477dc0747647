"""Errors a user can cause and understand. The CLI and the GUI show ``str(err)``, never a traceback.

``fault_sentence`` turns what the machine did to a command (a full disk, a read-only folder, a
damaged database) into one sentence, so the CLI reports it in one line and exits 2.
"""

from __future__ import annotations

import errno


class UserError(Exception):
    """Bad input from the user (a path, a project, an argument). The message is one clear sentence."""


class ProjectError(UserError):
    """A project folder that cannot be opened or created."""


_KEPT = "everything saved before this is kept"


def fault_sentence(err: BaseException, project: str | None = None) -> str | None:
    """One sentence for an operating-system or database fault in ``err`` (or the errors it was
    raised from), or None when it is none of those (a bug: let the traceback show)."""
    seen: set[int] = set()
    e: BaseException | None = err
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        text = _os_sentence(e) if isinstance(e, OSError) else _other_sentence(e, project)
        if text:
            return text
        e = e.__cause__ or e.__context__
    return None


def _os_sentence(err: OSError) -> str | None:
    where = f" while writing {err.filename}" if err.filename else ""
    if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"the disk is full{where}; free some space and run the command again ({_KEPT})."
    if err.errno == errno.EFBIG:
        return (
            f"a file grew past the size limit this system allows{where}; free space or raise "
            f"the limit and run the command again ({_KEPT})."
        )
    if err.errno == errno.EROFS:
        return f"the disk is read-only{where}; choose a writable folder ({_KEPT})."
    if err.errno in (errno.EACCES, errno.EPERM):
        name = f" {err.filename}" if err.filename else ""
        return (
            f"permission denied on{name or ' a file'}; make it writable or choose another folder."
        )
    if err.errno == errno.EIO:
        return f"the disk reported an input/output error{where}; it may be failing ({_KEPT})."
    name = f" {err.filename}" if err.filename else ""
    if err.errno == errno.ENAMETOOLONG:
        return f"the path{name[:120]}{'…' if len(name) > 120 else ''} is too long for this system."
    if err.errno == errno.ELOOP:
        return f"the path{name} is a symbolic link that leads back to itself."
    return None


def _other_sentence(err: BaseException, project: str | None) -> str | None:
    import sqlite3

    db = f"{project}/feedback.sqlite" if project else "the project's feedback.sqlite"
    msg = str(err)
    low = msg.lower()
    if isinstance(err, sqlite3.OperationalError):
        name = getattr(err, "sqlite_errorname", "")  # Python 3.11+: the extended result code
        if "disk is full" in low or name in ("SQLITE_FULL", "SQLITE_IOERR_SHMSIZE"):
            return f"the disk is full while writing {db}; free some space and run again ({_KEPT})."
        if "readonly" in low or "read-only" in low:
            return f"{db} is read-only; make the project folder writable ({_KEPT})."
        if "disk i/o error" in low:
            return (
                f"{db} could not be written (disk I/O error): the disk may be full or failing; "
                f"free some space and run again ({_KEPT})."
            )
        return None  # "database is locked" and the like: not a fault of the disk
    if type(err) is sqlite3.DatabaseError or "malformed" in low or "not a database" in low:
        return f"{db} is damaged ({msg}); restore it from a backup."
    if isinstance(err, RuntimeError) and low.startswith("symlink loop from"):  # pathlib.resolve
        return f"a symbolic link leads back to itself: {msg[len('symlink loop from ') :][:200]}."
    if isinstance(err, RuntimeError) and ("file write failed" in low or "streamwriter" in low):
        return f"a file could not be written (the disk may be full): {msg.splitlines()[0][:200]}."
    return None
