"""The log a user can send: a rotating file per process kind, crashes and fatal faults in it.

``install("gui" | "cli" | "trainer")`` once per process, as early as possible:

- ``<log folder>/<process>.log``: a rotating file (``MAX_BYTES`` × ``BACKUPS``) that the root
  logger writes to at INFO;
- ``sys.excepthook`` and ``threading.excepthook``: an uncaught exception (in any thread, and in a
  Qt slot, which PySide reports through ``sys.excepthook``) is written there with its traceback;
- ``faulthandler`` into ``<log folder>/<process>-faults.log``: a segfault, an abort or a fatal
  signal leaves the Python stacks of every thread.

The folder is ``platformdirs.user_log_dir("mmrl-desktop")`` (Linux ``~/.local/state/mmrl-desktop/
log``, Windows ``%LOCALAPPDATA%\\mmrl-desktop\\Logs``, macOS ``~/Library/Logs/mmrl-desktop``), or
``$MMRL_DESKTOP_LOG_DIR`` when set. Privacy: INFO entries name items by id, never by path;
argument lists (which hold paths) are never logged. Qt-free.
"""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from mmrl_desktop.paths import user_log_dir

ENV_DIR = "MMRL_DESKTOP_LOG_DIR"
MAX_BYTES = 2 * 1024 * 1024  # per file
BACKUPS = 3  # <process>.log.1 … .3: at most 8 MB per process kind
FAULTS_MAX_BYTES = 1024 * 1024  # the fault file is moved to .1 past this, at the next start
FORMAT = "%(asctime)s %(process)d %(threadName)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger(__name__)

_handler: logging.Handler | None = None
_console: logging.Handler | None = None  # warnings still reach a terminal's stderr
_fault_file = None
_listeners: list[Callable[[BaseException], None]] = []
_previous_hooks: tuple = ()


def log_dir() -> Path:
    """The folder that holds the logs (created by ``install``)."""
    override = os.environ.get(ENV_DIR)
    if override:
        return Path(override)
    return user_log_dir()


def log_file(process: str) -> Path:
    return log_dir() / f"{process}.log"


def fault_file(process: str) -> Path:
    return log_dir() / f"{process}-faults.log"


def install(process: str) -> Path | None:
    """Log this process to ``<log folder>/<process>.log``; returns the folder, or None when it
    cannot be written (a read-only home: the app still runs, without a log). Idempotent."""
    global _handler
    folder = log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            log_file(process), maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    except OSError:
        return None
    # a log that cannot be written (a full disk, a size limit) must never print logging's own
    # traceback into the user's stderr or stop the app: the record is dropped
    logging.raiseExceptions = False
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    _handler = handler
    root.addHandler(handler)
    _add_console(root)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    _install_hooks()
    _enable_faulthandler(process)
    from mmrl_desktop import __version__

    log.info(
        "%s process started: mmrl-desktop %s, Python %s, %s%s",
        process,
        __version__,
        sys.version.split()[0],
        sys.platform,
        " (bundle)" if getattr(sys, "frozen", False) else "",
    )
    return folder


def on_crash(listener: Callable[[BaseException], None]) -> None:
    """Call ``listener(exception)`` after an uncaught exception is logged (the window tells the
    user in one sentence). Listeners run in the thread that raised; they must not raise."""
    if listener not in _listeners:
        _listeners.append(listener)


def remove_crash_listener(listener: Callable[[BaseException], None]) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def _excepthook(exc_type, exc, tb) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        _previous_hooks[0](exc_type, exc, tb)
        return
    log.critical("uncaught exception", exc_info=(exc_type, exc, tb))
    _tell_listeners(exc)
    if sys.stderr is not None:  # a console: the traceback there too, as before
        _previous_hooks[0](exc_type, exc, tb)


def _thread_excepthook(args) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    log.critical(
        "uncaught exception in thread %s",
        name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
    if args.exc_value is not None:
        _tell_listeners(args.exc_value)
    if sys.stderr is not None:
        _previous_hooks[1](args)


def _tell_listeners(exc: BaseException) -> None:
    for listener in list(_listeners):
        try:
            listener(exc)
        except Exception:
            log.exception("a crash listener failed")


def _install_hooks() -> None:
    """Ours in front of the hooks there were. Each hook is checked on its own: when another
    library had put its own ``sys.excepthook`` back while ours stayed on ``threading``, saving
    "the previous" thread hook saved ours, and a crash in a thread called itself until the
    recursion limit (seen in the test suite under pytest-qt)."""
    global _previous_hooks
    before = _previous_hooks or (sys.__excepthook__, threading.__excepthook__)
    prev_sys = before[0] if sys.excepthook is _excepthook else sys.excepthook
    prev_thread = before[1] if threading.excepthook is _thread_excepthook else threading.excepthook
    _previous_hooks = (prev_sys, prev_thread)
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


def _enable_faulthandler(process: str) -> None:
    """Fatal faults (segfault, abort, SIGBUS/SIGFPE/SIGILL) → ``<process>-faults.log``, each
    process start marked with its time and pid so a dump can be told apart."""
    global _fault_file
    path = fault_file(process)
    try:
        if path.exists() and path.stat().st_size > FAULTS_MAX_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
        fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 (open for the process's life)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        fh.write(f"--- {stamp} {process} process {os.getpid()} started\n")
        fh.flush()
        faulthandler.enable(file=fh, all_threads=True)
    except (OSError, ValueError, RuntimeError):
        return
    if _fault_file is not None and _fault_file is not fh:
        _fault_file.close()
    _fault_file = fh


def _add_console(root: logging.Logger) -> None:
    """Warnings go on reaching stderr, as they did before a handler existed (Python's last-resort
    handler prints them; a root handler switches it off): a command's user reads "added labels
    …" where they ran it. Warnings only: errors and tracebacks stay in the file. Not where there
    is no stderr (a windowed launcher)."""
    global _console
    if _console is not None or sys.stderr is None:
        return
    _console = logging.StreamHandler()
    _console.setLevel(logging.WARNING)
    # errors and crashes are the log's: a command has told its user in one sentence already
    _console.addFilter(lambda record: record.levelno < logging.ERROR)
    _console.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(_console)


def uninstall() -> None:
    """Undo ``install`` (tests): the handler removed and closed, the previous hooks back,
    faulthandler back on stderr where there is one."""
    global _handler, _fault_file, _console
    root = logging.getLogger()
    if _console is not None:
        root.removeHandler(_console)
        _console = None
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
        _handler = None
    if _previous_hooks:  # each of ours back to what it replaced
        if sys.excepthook is _excepthook:
            sys.excepthook = _previous_hooks[0]
        if threading.excepthook is _thread_excepthook:
            threading.excepthook = _previous_hooks[1]
    if _fault_file is not None:
        faulthandler.disable()
        if sys.stderr is not None:
            try:
                faulthandler.enable(file=sys.stderr)
            except (ValueError, OSError, AttributeError):  # a captured stderr without a fileno
                pass
        _fault_file.close()
        _fault_file = None
