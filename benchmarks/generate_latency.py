"""A generate task in the real window with its trainer process: answer → next draft painted, and
click → paint while the trainer drafts ahead and trains KTO (issue 16).

    python benchmarks/generate_latency.py --answers 40 --pace 1.0 --json
    python benchmarks/generate_latency.py --answers 40 --pace 1.0 --json --baseline  # no drafts
    python benchmarks/generate_latency.py --answers 6 --screenshot docs/screenshots/generate_panel.png

The model is a tiny Llama-style causal LM built from a config (``generate/tiny.py``), warm-started
by a short supervised pass (``sft_step``, 40 steps on 6 examples of "item text → finding") and
merged (``merge_to``) into the project's model folder, so the drafts read like findings. The
project has a label task (normal / abnormal) and the generate task ("Finding:", greedy drafts,
3 items drafted ahead). A simulated expert, at ``--pace`` seconds per item: thumbs-up on the draft
when it names the item's finding, else an edit with the right text; then the label (the window's
thumbs, ``bench_gui.simulated_answer``), which shows the next item.

Reported (milliseconds): ``answer_to_draft_painted_ms`` — from the label answer to the end of the
first paint that shows the next item's draft (when the draft was made ahead, the same paint as the
item's); ``draft_ready_at_first_paint`` — the share of answers where it was; ``click_to_paint_ms``
— the label answer to the window's first repaint (``bench_gui``'s measure).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

FINDINGS = {
    "normal": "no focal lesion",
    "abnormal": "8 mm nodule right upper lobe",
}
WORDS = (
    [
        "Finding:",
        "case",
        "no",
        "focal",
        "lesion",
        "nodule",
        "mm",
        "8",
        "right",
        "upper",
        "lobe",
        "clear",
        "lungs",
        "round",
        "opacity",
        "normal",
        "study",
    ]
) + [str(k) for k in range(100)]


def item_text(k: int, label: str) -> str:
    return f"case {k} " + (
        "clear lungs normal study" if label == "normal" else "round opacity 8 mm"
    )


def warm_model(folder: Path, steps: int = 40) -> Path:
    """The tiny LM after a short supervised pass, merged into ``folder / 'lm'``."""
    from mmrl_desktop.core.learning.generate.encode import Example
    from mmrl_desktop.core.learning.generate.policy import GenerativePolicy
    from mmrl_desktop.core.learning.generate.tiny import build_tiny_lm

    base = build_tiny_lm(folder / "base", WORDS, hidden=32, layers=2)
    policy = GenerativePolicy.load(base, "cpu", lora_rank=8, lr=1e-2)
    examples = [
        Example(f"{item_text(k, lab)}\nFinding:", FINDINGS[lab], True)
        for k, lab in enumerate(["normal", "abnormal"] * 3)
    ]
    for _ in range(steps):
        policy.sft_step(examples)
    return policy.merge_to(folder / "lm")


def make_project(root: Path, lm: Path, generate: bool = True, n: int = 60):
    from mmrl_desktop.core.config import GenerateConfig
    from mmrl_desktop.core.data.items import Item
    from mmrl_desktop.core.data.project import GenerateTask, Project, Task

    settings = {"prompt": "Finding:", "model": str(lm), "max_new_tokens": 8, "temperature": 0.0}
    task = GenerateTask("finding", GenerateConfig.from_dict(settings))
    p = Project.create(root, tasks=[Task("label", ["normal", "abnormal"])], generate_tasks=[task])
    rng = random.Random(0)
    labels = [rng.choice(["normal", "abnormal"]) for _ in range(n)]
    with p.open_store() as s:
        s.add_items(
            Item(f"case{k:03d}", text_inline=item_text(k, lab), labels={"label": lab})
            for k, lab in enumerate(labels)
        )
    return p


class DraftPaints:
    """The times the draft's text label painted, with the item shown then."""

    def __init__(self, ctrl):
        from PySide6.QtCore import QEvent, QObject

        class _Filter(QObject):
            def eventFilter(inner, obj, event):  # noqa: N802, N805
                if event.type() == QEvent.Paint:
                    self.log.append((time.perf_counter(), ctrl.item_id, obj.text()))
                return False

        self.log: list[tuple[float, str | None, str]] = []
        self.filter = _Filter()
        ctrl.panel.texts[0].installEventFilter(self.filter)

    def first_draft_after(self, t0: float, item_id: str) -> float | None:
        from mmrl_desktop.gui.draft_panel import DRAFTING

        for t, shown, text in self.log:
            if t >= t0 and shown == item_id and text != DRAFTING:
                return t
        return None


def expert_on_draft(window) -> None:
    """Thumbs-up when the draft names the item's finding, else an edit with the right text."""
    ctrl = window.drafts
    item = window.labeling.session.current_item()
    drafts = ctrl.book.drafts_for(item.item_id)
    if not drafts:
        return
    right = FINDINGS[item.labels["label"]]
    if drafts[0].text == right:
        ctrl.panel.up_button.click()
    else:
        ctrl.panel.editSubmitted.emit(0, right)


def open_window(generate: bool):
    from mmrl_desktop.gui.app import make_app
    from mmrl_desktop.gui.bench_gui import _wait
    from mmrl_desktop.gui.draft_panel import DRAFTING
    from mmrl_desktop.gui.main_window import MainWindow

    tmp = Path(tempfile.mkdtemp(prefix="mmrl-generate-"))
    project = make_project(tmp / "p", warm_model(tmp), generate)
    app = make_app(offscreen=True)
    window = MainWindow(project, annotator="bench", device="cpu")
    window.resize(1280, 800)
    window.show()
    _wait(app, lambda: window.labeling is not None, 60)
    if generate:  # the trainer has loaded and drafted the first item
        _wait(app, lambda: window.drafts.panel.texts[0].text() != DRAFTING, 600)
    else:
        _wait(app, lambda: window.trainer.state in ("idle", "running"), 600)
    return app, project, window


def run(answers: int, pace: float, screenshot: str | None, generate: bool = True) -> dict:
    """``generate=False``: the same project without its generate task (the baseline)."""
    from mmrl_desktop.gui.app import release_window
    from mmrl_desktop.gui.bench_gui import _PaintWatch, _pcts, _wait, simulated_answer
    from mmrl_desktop.gui.draft_panel import DRAFTING

    app, project, window = open_window(generate)
    ctrl = window.drafts
    paints = DraftPaints(ctrl) if generate else None
    watch = _PaintWatch(window)
    to_draft, to_paint, ready = [], [], 0
    for k in range(answers):
        _wait(app, lambda: False, pace)  # the expert reads the item and its draft
        if generate:
            expert_on_draft(window)
        watch.reset()
        t0 = time.perf_counter()
        simulated_answer(window.labeling)
        new = window.labeling.session.current_item().item_id
        _wait(app, watch.done, 5.0)
        to_paint.append(((watch.painted_at or time.perf_counter()) - t0) * 1e3)
        if generate:
            # drafted ahead: the item's first paint showed its draft (the same text as the
            # previous item's does not repaint the label, so the panel is read, not its paints)
            if ctrl.item_id == new and ctrl.panel.texts[0].text() != DRAFTING:
                ready += 1
                at = watch.painted_at
            else:
                _wait(app, lambda t0=t0, n=new: paints.first_draft_after(t0, n) is not None, 120)
                at = paints.first_draft_after(t0, new)
            to_draft.append(((at or time.perf_counter()) - t0) * 1e3)
        if screenshot and k == min(answers, 6) - 1:
            _wait(app, lambda: False, 0.3)
            window.grab().save(screenshot)
    with project.open_store() as s:
        up = sum(a.reward == 1 for a in s.active_draft_answers())
        n_answers = len(s.active_draft_answers())
    window.shutdown()
    release_window(window)
    out = {
        "answers": answers,
        "pace_s": pace,
        "generate_task": generate,
        "click_to_paint_ms": {**_pcts(to_paint, 2, (50, 95, 99)), "max": round(max(to_paint), 2)},
    }
    if generate:
        out["answer_to_draft_painted_ms"] = {
            **_pcts(to_draft, 2, (50, 95)),
            "max": round(max(to_draft), 2),
        }
        out["draft_ready_at_first_paint"] = round(ready / answers, 3)
        out["draft_thumbs_up"] = f"{up}/{n_answers}"
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--answers", type=int, default=40)
    ap.add_argument("--pace", type=float, default=1.0, help="seconds the expert takes per item")
    ap.add_argument("--screenshot", default=None, help="save the window after 6 answers")
    ap.add_argument(
        "--baseline", action="store_true", help="the same project without its generate task"
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    result = run(args.answers, args.pace, args.screenshot, generate=not args.baseline)
    print(json.dumps(result) if args.json else json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
