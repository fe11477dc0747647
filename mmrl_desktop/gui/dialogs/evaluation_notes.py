"""The Evaluation view's prequential row and its "why is this empty" sentences (issue 12.1).

A project without held-out items has no confusion matrix, per-class table or reliability
diagram: instead of empty panes, each says why in one sentence (``core.evaluation.prequential.NO_HOLDOUT``),
and the summary table carries the prequential accuracy, which every project has from its first
answer (``core/evaluation/prequential.py``).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

from mmrl_desktop.core.evaluation import prequential

LABEL = "Prequential accuracy"
NOT_A_MODEL = "—"
TIP = (
    "A figure of this session's answers, not of one model: it scores each answer against the "
    "label shown at the time (by the model of that moment), so it is shown once."
)


HELD_OUT_RANDOM = (
    "on the held-out items: a random sample of the items, whatever the next-item order (no "
    "order ever picks a held-out item)"
)


def chosen_by(result: dict) -> str | None:
    """The order that chose some of the answered items (issue 19): its name, "the model" when
    several did; None when every answer came in the queue order (or is of unknown order)."""
    orders = [o for o, n in (result.get("answers_by_order") or {}).items() if n and o not in QUEUE]
    if not orders:
        return None
    return orders[0] if len(orders) == 1 else "the model"


QUEUE = ("shuffle", "unknown")


def order_line(result: dict) -> str | None:
    """The sentence above the notes when the model chose items: what each figure is about (one
    line at the dialog's width; ``order_note`` of the JSON says more)."""
    order = chosen_by(result)
    if order is None:
        return None
    counts = result.get("answers_by_order") or {}
    chosen = sum(n for o, n in counts.items() if o not in QUEUE)
    who = "the model" if order == "the model" else f"'{order}'"
    return (
        f"Which item next: {who} chose {chosen} of {sum(counts.values())} answered items, so the "
        "prequential figure is not a random sample; the held-out figures are."
    )


def holdout_reason(entry: dict) -> str | None:
    """Why the held-out figures of a task are missing (None when they are there)."""
    return None if entry.get("holdout_items") else prequential.NO_HOLDOUT


def prequential_row(result: dict, task: str | None, names: list[str]) -> tuple[str, list[str], str]:
    """(row label, cells, tooltip) for the summary table, the task's own figure when there are
    several. The figure is shown once, under the current model (the first column when there is
    none), with "—" under the others: it scores the session's answers, each against the label
    shown at the time, not any one model, so the same number in every column misled."""
    figures = result.get("prequential") or {}
    if task is not None and len(result.get("tasks", {})) > 1:
        figures = {**figures, **(figures.get("per_task", {}).get(task) or {})}
    cells = [NOT_A_MODEL] * len(names)
    column = names.index("current") if "current" in names else 0
    order = chosen_by(result)
    label = LABEL if order is None else f"Prequential ({order})"
    if not figures.get("answers"):
        if cells:
            cells[column] = "no answers yet"
        return label, cells, figures.get("note", prequential.NO_ANSWERS)
    lo, hi = figures["ci95"]
    if cells:
        cells[column] = f"{100 * figures['accuracy']:.1f}%  ({100 * lo:.1f}–{100 * hi:.1f})"
    tip = f"{TIP} Over {figures['answers']} answers: {figures.get('scored', prequential.SCORED)}"
    if order is not None:
        tip = f"{LABEL} — items chosen by '{order}' (not a random sample). {tip}"
    return label, cells, tip


def explain_table(table: QTableWidget, entry: dict) -> bool:
    """Put the reason a held-out table is empty in it, as one wrapped cell. True if it did."""
    reason = holdout_reason(entry)
    if reason is None:
        return False
    table.clear()
    table.setRowCount(1)
    table.setColumnCount(1)
    table.setHorizontalHeaderLabels([""])
    table.setVerticalHeaderLabels([""])
    table.setWordWrap(True)
    item = QTableWidgetItem(reason)
    item.setTextAlignment(Qt.AlignCenter)
    item.setToolTip(reason)
    table.setItem(0, 0, item)
    table.resizeRowsToContents()
    return True


def explain_plot(plot: pg.PlotWidget, entry: dict) -> bool:
    """The same sentence in the middle of the reliability diagram. True if it was needed."""
    reason = holdout_reason(entry)
    if reason is None:
        return False
    text = pg.TextItem(
        reason, color="#4a5568", anchor=(0.5, 0.5), fill=pg.mkBrush(255, 255, 255, 235)
    )
    text.setTextWidth(320)
    text.setPos(0.5, 0.5)
    text.setZValue(10)  # above the diagonal
    plot.addItem(text, ignoreBounds=True)
    return True
