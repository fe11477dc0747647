"""The one way the window rolls a model back: stop the trainer, promote a checkpoint, start the
trainer again — for a label task's checkpoints (``checkpoints.rollback``) and a generate task's
drafting model (``generate_checkpoints.rollback_generate``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.gui.sentence import sentence


def refuse(window, err: UserError) -> bool:
    """The refusal as one sentence in a message box; ``False`` (nothing rolled back)."""
    QMessageBox.warning(window, "Roll back", sentence(str(err)))
    return False


def promote_while_stopped(window, promote: Callable[[object], Path]) -> Path | None:
    """Stop the trainer, ``promote(store)`` (→ the promoted checkpoint), start the trainer again
    if it was running. ``None`` after a sentence when the trainer did not stop or the promotion
    was refused (nothing rolled back)."""
    trainer = window.trainer
    was_running = trainer.is_running()
    if not trainer.stop():
        QMessageBox.warning(
            window, "Roll back", "The trainer did not stop in time; nothing was rolled back."
        )
        return None
    try:
        with window.project.open_store() as store:
            return promote(store)
    except UserError as err:
        refuse(window, err)
        return None
    finally:
        if was_running:
            trainer.start()
