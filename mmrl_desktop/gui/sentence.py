"""The one way the GUI turns an error's text into what a message box or a status line shows.

Errors reach the window as text in sentence case without a capital (``UserError("there is no
folder at …")``, an ``OSError``'s words); a user reads one sentence: a capital first, a full stop
last, never empty. Qt-free, so any GUI module may use it.
"""

from __future__ import annotations

EMPTY = "Something went wrong."


def sentence(text: str) -> str:
    """``"there is no folder at /x"`` → ``"There is no folder at /x."``; blank → ``EMPTY``."""
    text = text.strip()
    if not text:
        return EMPTY
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "…")) else text + "."
