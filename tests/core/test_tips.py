"""The correction tip (core/labelling/tips.py): due once, only on many labels, mostly 👎 and no
correction among the latest answers."""

from mmrl_desktop.core.labelling.session import ItemStatus
from mmrl_desktop.core.labelling.tips import MIN_LABELS, WINDOW, CorrectionTip

UP, DOWN, CORR, SKIP = ItemStatus.UP, ItemStatus.DOWN, ItemStatus.CORRECTED, ItemStatus.SKIPPED


def feed(tip: CorrectionTip, statuses) -> list[str]:
    return [t for t in (tip.record(s) for s in statuses) if t is not None]


def test_due_once_after_a_window_of_mostly_wrong_answers_on_many_labels():
    tip = CorrectionTip([3, 10])  # the largest task counts
    said = feed(tip, [DOWN] * (WINDOW - 1))
    assert said == []  # not before a whole window
    said = feed(tip, [DOWN])
    assert len(said) == 1 and "10 labels" in said[0] and "right answer" in said[0]
    assert feed(tip, [DOWN] * 3 * WINDOW) == []  # once per session


def test_not_on_few_labels_nor_with_a_correction_nor_with_many_rights():
    assert feed(CorrectionTip([MIN_LABELS - 1]), [DOWN] * 3 * WINDOW) == []
    tip = CorrectionTip([10])
    assert feed(tip, [CORR] + [DOWN] * (WINDOW - 1)) == []  # the correction is in the window
    assert len(feed(tip, [DOWN])) == 1  # now it has left it
    rights = [UP] * (WINDOW // 4 + 1) + [DOWN] * (WINDOW - WINDOW // 4 - 1)
    assert feed(CorrectionTip([10]), rights) == []
    just = [UP] * (WINDOW // 4) + [DOWN] * (WINDOW - WINDOW // 4)
    assert len(feed(CorrectionTip([10]), just)) == 1


def test_skips_are_no_answers_and_an_undo_leaves_the_window():
    tip = CorrectionTip([10])
    assert feed(tip, [DOWN] * (WINDOW - 1) + [SKIP] * 5) == []
    tip.forget(DOWN)
    assert feed(tip, [DOWN]) == []  # the undone one no longer counts
    assert len(feed(tip, [DOWN])) == 1
    empty = CorrectionTip([10])
    empty.forget(UP)  # nothing to forget: no error
    assert len(empty.recent) == 0


def test_only_single_label_tasks_count():
    from mmrl_desktop.core.data.project import Task

    findings = Task("findings", [f"f{k}" for k in range(8)], kind="multi")
    assert CorrectionTip.for_tasks([findings, Task("view", ["AP", "PA"])]).labels == 2
    assert CorrectionTip.for_tasks([findings, Task("digit", list("0123456789"))]).labels == 10
    assert feed(CorrectionTip.for_tasks([findings]), [DOWN] * 3 * WINDOW) == []
