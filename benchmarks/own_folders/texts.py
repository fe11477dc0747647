"""Short texts from templates with synonyms: five requests a help desk gets, written as
``out/<class>/<class>_<i:04d>.txt``. Templates share filler words across classes, and each slot
draws from a list of synonyms, so no single word gives the class away every time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

OPENERS = ["", "hi,", "hello,", "please", "could you", "can you", "i need to", "quick question:",
           "hey team,", "sorry to bother you,", "good morning,", "urgent:"]  # fmt: skip
CLOSERS = ["", "thanks", "thank you", "asap", "when you can", "today if possible", "cheers",
           "many thanks", "before friday", "no rush"]  # fmt: skip

SLOTS = {
    "thing": ["laptop", "computer", "pc", "notebook", "machine", "workstation", "desktop"],
    "app": ["email", "mail client", "calendar", "spreadsheet", "browser", "chat app", "vpn"],
    "money": ["invoice", "bill", "receipt", "expense claim", "payment", "refund", "charge"],
    "place": ["office", "meeting room", "desk", "floor", "building", "conference room"],
    "when": ["monday", "tomorrow", "next week", "friday", "this afternoon", "in march"],
    "person": ["my manager", "the new hire", "a colleague", "our intern", "the client", "me"],
}

TEMPLATES = {
    "access": [
        "{o} reset my password for the {app} {c}",
        "{o} i am locked out of the {app} {c}",
        "{o} my login to the {app} stopped working {c}",
        "{o} give {person} access to the {app} {c}",
        "{o} my account was disabled, cannot sign in {c}",
        "{o} forgot my password again {c}",
    ],
    "billing": [
        "{o} the {money} from {when} looks wrong {c}",
        "{o} i was charged twice for the {money} {c}",
        "{o} where do i send the {money} for {person} {c}",
        "{o} please approve my {money} {c}",
        "{o} the amount on the {money} does not match {c}",
        "{o} when will the {money} be paid {c}",
    ],
    "hardware": [
        "{o} my {thing} will not turn on {c}",
        "{o} the screen of my {thing} is flickering {c}",
        "{o} the {thing} in the {place} makes a loud noise {c}",
        "{o} my {thing} battery dies after an hour {c}",
        "{o} the keyboard on my {thing} is broken {c}",
        "{o} {person} needs a new {thing} by {when} {c}",
    ],
    "rooms": [
        "{o} book the {place} for {when} {c}",
        "{o} is the {place} free {when} {c}",
        "{o} the heating in the {place} is off {c}",
        "{o} cancel my booking of the {place} {c}",
        "{o} {person} needs a {place} for {when} {c}",
        "{o} the projector in the {place} is missing {c}",
    ],
    "software": [
        "{o} the {app} crashes on my {thing} {c}",
        "{o} install the {app} for {person} {c}",
        "{o} the {app} is very slow since {when} {c}",
        "{o} update the {app} on my {thing} {c}",
        "{o} the {app} shows an error when i open it {c}",
        "{o} the {app} will not sync {c}",
    ],
}
CLASSES = tuple(sorted(TEMPLATES))


def make_text(label: str, rng: np.random.Generator) -> str:
    def pick(xs):
        return xs[int(rng.integers(len(xs)))]

    words = {k: pick(v) for k, v in SLOTS.items()}
    text = pick(TEMPLATES[label]).format(o=pick(OPENERS), c=pick(CLOSERS), **words)
    text = " ".join(text.split())
    return text[0].upper() + text[1:] + pick([".", "!", "?", "", "..."])


def write_texts(out: Path, per_class: int = 100, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    for i in range(per_class):
        for label in CLASSES:
            folder = out / label
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{label}_{i:04d}.txt").write_text(make_text(label, rng) + "\n")
    return {"classes": len(CLASSES), "items": per_class * len(CLASSES)}
