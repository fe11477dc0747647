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
    "eval": (
        "Held-out accuracy",
        "The model on the items kept out of the questions; 'network alone', where shown: "
        "without the vote of their nearest answered items, as an export predicts.",
    ),
    "reward": ("Thumbs-up rate", "Recent answers and all answers."),
    "loss": ("Training loss", "The loss of the latest training steps."),
    "kl": ("KL to the starting model", "How far the model has moved from where it started."),
    "perf": ("Training updates per second", "The speed of the background training."),
}
CHOSEN_PLOTS = ("preq", "reward")  # rates over the answered items: under an active order, the
# items the model chose (ADR 0013); the held-out plot stays a random sample


def active(order: str) -> bool:
    return bool(order) and order != "shuffle"


def title_of(pid: str, title: str, order: str) -> str:
    """A plot's short title under a next-item order: the prequential says its answers are on
    chosen items (the x labels name the order; the plots are too narrow for more at 1280 px)."""
    return f"{title} · chosen" if active(order) and pid == "preq" else title


def x_label_of(pid: str, x_label: str, order: str) -> str:
    """``answers`` → ``answers chosen by uncertain`` on the prequential plot (``answers
    (chosen)`` on the narrower thumbs-up plot); the held-out plot's says its items are a random
    sample. Each fits its plot at 1280 px."""
    if not active(order):
        return x_label
    return {
        "preq": f"{x_label} chosen by {order}",
        "reward": f"{x_label} (chosen)",
        "eval": "step · random items",
    }.get(pid, x_label)


def about_of(pid: str, order: str) -> tuple[str, str]:
    """(full name, what it shows) for the tooltip, saying what an active order makes it."""
    name, about = ABOUT[pid]
    if not active(order):
        return name, about
    if pid in CHOSEN_PLOTS:
        return f"{name} — items chosen by '{order}' (not a random sample)", about
    if pid == "eval":
        held = f"{name} — a random sample of the items ('{order}' never picks held-out items)"
        return held, about
    return name, about


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
