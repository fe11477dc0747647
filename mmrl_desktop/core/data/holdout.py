"""Which imported items are kept out of feedback as the hold-out set (split ``"holdout"``).

The rule (``choose_holdout``), per label of the imported task:

- ``n`` = the label's labelled items, those already in the project and the new ones together;
- target hold-out ``k = min(floor(n × F + ½), n − MIN_POOL)``, never below 0: ``F`` of the items
  (rounded half up), but at least ``MIN_POOL`` (3) stay in the pool the expert is asked about,
  so a label with 3 items or fewer keeps all of them in the pool;
- items already in the project keep their split (an item that has answers is never moved);
  only new items are added to the hold-out, as many as the label still lacks (``k`` minus the
  hold-out items it already has);
- which new items: the ones whose ``rank`` — the SHA-256 of the item id — is smallest. The
  choice depends on the ids only (no random state), so importing the same folder again gives
  the same split, and adding files later never reshuffles the items already there.

Unlabelled items always go to the pool (they cannot be scored); excluded items do not count;
a new id that already has answers is never held out. ``F = 0`` keeps everything in the pool.

A manifest whose ``split`` column is filled in on at least one row decides every new row itself
(``split_of_cell``): pool / train / training / feedback → pool; holdout / hold-out / held-out /
heldout / test / eval → hold-out; an empty cell → pool; any other word → the row is skipped with
a reason; a hold-out row without a label goes to the pool, with a note. ``F`` is then not used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

DEFAULT_HOLDOUT = 0.2
MIN_POOL = 3
HOLDOUT_WORDS = frozenset({"holdout", "hold-out", "held-out", "heldout", "test", "eval"})
POOL_WORDS = frozenset({"pool", "train", "training", "feedback"})


def holdout_count(n: int, fraction: float) -> int:
    """How many of a label's ``n`` items the hold-out should hold (see the module's rule)."""
    if fraction <= 0 or n <= MIN_POOL:
        return 0
    return max(0, min(int(n * fraction + 0.5), n - MIN_POOL))


def rank(item_id: str) -> str:
    """The fixed order new items are drawn in: a hash of the id, independent of file order."""
    return hashlib.sha256(item_id.encode("utf-8", "surrogatepass")).hexdigest()


def choose_holdout(
    new: Iterable[tuple[str, str | None]],
    existing: Iterable[tuple[str, str | None, str]] = (),
    fraction: float = DEFAULT_HOLDOUT,
    answered: Iterable[str] = (),
) -> set[str]:
    """The ids among ``new`` ((id, label)) that go to the hold-out, given the project's
    ``existing`` items ((id, label, split)) and the ids that already have answers."""
    if fraction <= 0:
        return set()
    done = set(answered)
    counts: dict[str, list[int]] = {}  # label -> [items, hold-out items]
    for _id, label, split in existing:
        if label:
            c = counts.setdefault(label, [0, 0])
            c[0] += 1
            c[1] += split == "holdout"
    candidates: dict[str, list[str]] = {}
    for item_id, label in new:
        if label:
            counts.setdefault(label, [0, 0])[0] += 1
            if item_id not in done:
                candidates.setdefault(label, []).append(item_id)
    chosen: set[str] = set()
    for label, ids in candidates.items():
        n, held = counts[label]
        lack = holdout_count(n, fraction) - held
        if lack > 0:
            chosen.update(sorted(ids, key=rank)[:lack])
    return chosen


def split_of_cell(value: str) -> str | None:
    """A manifest's ``split`` cell → ``"pool"`` / ``"holdout"``; ``""`` for an empty cell (the
    row is in the pool); None for a word that names neither."""
    word = value.strip().lower()
    if not word or word in POOL_WORDS:
        return "pool" if word else ""
    if word in HOLDOUT_WORDS:
        return "holdout"
    return None


def plan_splits(
    store,
    scanned: list[tuple[str, str | None]],
    task: str,
    fraction: float,
    explicit: dict[str, str] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """The split of every scanned item ((id, label under ``task``)) once imported into ``store``
    (a ``FeedbackStore``): items already
    there keep theirs; new ones follow ``explicit`` (a manifest's ``split`` column) when given,
    else ``choose_holdout``. Also returns warnings (sentences)."""
    present = {it.item_id: it.split for it in store.items(with_excluded=True)}
    existing = [(it.item_id, it.labels.get(task), it.split) for it in store.items()]
    new = [(i, lab) for i, lab in scanned if i not in present]
    warnings: list[str] = []
    if explicit is not None:
        held = {i for i, lab in new if explicit.get(i) == "holdout" and lab}
        orphans = sum(1 for i, lab in new if explicit.get(i) == "holdout" and not lab)
        if orphans:
            warnings.append(
                f"{orphans} item{'s' if orphans != 1 else ''} marked holdout in the manifest "
                f"{'have' if orphans != 1 else 'has'} no label and went to the pool instead "
                "(a held-out item needs a label to be scored)."
            )
    else:
        held = choose_holdout(new, existing, fraction, store.answered_item_ids())
    splits = {i: present.get(i) or ("holdout" if i in held else "pool") for i, _ in scanned}
    return splits, warnings


def per_label(ids_labels: Iterable[tuple[str, str | None]], holdout: set[str]) -> dict[str, int]:
    """{label: how many of these items are in ``holdout``}, every label listed (0 included)."""
    out: dict[str, int] = {}
    for item_id, label in ids_labels:
        if label:
            out[label] = out.get(label, 0) + (item_id in holdout)
    return out
