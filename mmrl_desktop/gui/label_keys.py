"""Which key corrects to which label (Qt-free, so the rule is tested on its own).

- Every label of the task is one character (a digit or a letter, no two the same ignoring case,
  none of the window's own keys A, X, P nor the image viewer's F and R): that character is its
  key. The demo's digits 0–9 are corrected by typing the digit.
- Otherwise the labels are numbered in the order of the "Correct to…" list: keys 1–9, then 0 for
  the 10th; the key is shown beside each entry. Later labels have no key: a task with more than
  ``FILTER_FROM`` labels also gets a type-to-filter correction box (``/`` or Ctrl+F).
"""

from __future__ import annotations

RESERVED = frozenset("axpfr")  # A/X: right/wrong, P: play; F/R: fit/reset in the image viewer
POSITION_KEYS = "1234567890"
FILTER_FROM = len(POSITION_KEYS)  # more labels than keys: a filter box too


def own_character_keys(labels: list[str]) -> bool:
    """True when every label is its own key (one digit or letter each, no clash)."""
    chars = [lab.lower() for lab in labels]
    return (
        bool(chars)
        and all(len(c) == 1 and c.isascii() and c.isalnum() for c in chars)
        and len(set(chars)) == len(chars)
        and not RESERVED.intersection(chars)
    )


def label_keys(labels: list[str]) -> dict[str, str]:
    """label → the key (one character, lower case) that corrects to it; labels without a key are
    left out."""
    if own_character_keys(labels):
        return {lab: lab.lower() for lab in labels}
    return dict(zip(labels, POSITION_KEYS, strict=False))


def keys_summary(labels: list[str]) -> str:
    """The keys in a few characters, for the key hint: "0–9", "1–9, 0", "1–3", "b c d"."""
    keys = label_keys(labels)
    if not keys:
        return ""
    if own_character_keys(labels):
        chars = sorted(keys.values())
        if chars == list("0123456789"):
            return "0–9"
        return " ".join(chars) if len(chars) <= 6 else f"{chars[0]}…{chars[-1]}"
    n = len(keys)
    if n == 1:
        return "1"
    return "1–9, 0" if n == 10 else f"1–{n}"


def filter_box_wanted(labels: list[str]) -> bool:
    return len(labels) > FILTER_FROM
