"""The vocabulary of the tiny causal LM the generate task's tests build offline (the
``tiny_lm_folder`` fixture in tests/conftest.py)."""

from __future__ import annotations

WORDS = [
    "Finding:",
    "case",
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "no",
    "focal",
    "lesion",
    "nodule",
    "mm",
    "right",
    "upper",
    "lobe",
    "normal",
]
