"""The words of the charts (``gui/charts.py``): each plot's full name and what it shows (its
tooltip; the titles stay short so that they fit at 1280 px), and a plot's note fitted inside it."""

from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QGraphicsTextItem

from mmrl_desktop.gui import theme

# plot id → (full name, what it shows): the plot's tooltip
ABOUT: dict[str, tuple[str, str]] = {
    "preq": (
        "Prequential accuracy",
        "Each answer scores the label shown before the model learned from it; "
        "the band is its 95 % (Wilson) interval.",
    ),
    "eval": ("Held-out accuracy", "The model on the items kept out of the questions."),
    "reward": ("Thumbs-up rate", "Recent answers and all answers."),
    "loss": ("Training loss", "The loss of the latest training steps."),
    "kl": ("KL to the starting model", "How far the model has moved from where it started."),
    "perf": ("Training updates per second", "The speed of the background training."),
}


def fit_note(item: QGraphicsTextItem, text: str, height: float) -> None:
    """Wrap ``text`` in ``item``'s width; where the plot is too short for all of it, as many
    words as fit and "…", the whole sentence in the tooltip (only when the plot is resized)."""
    words = text.split()
    lo, hi = 0, len(words)  # the most words that fit: between lo and hi
    while True:
        n = hi if lo == hi else (lo + hi + 1) // 2
        shown = text if n == len(words) else " ".join(words[:n]) + " …"
        item.setHtml(f"<div style='background-color:{theme.PLOT_BG}'>{escape(shown)}</div>")
        if lo == hi:
            break
        if item.boundingRect().height() <= height:
            lo = n
        else:
            hi = n - 1
    item.setToolTip("" if shown == text else text)
