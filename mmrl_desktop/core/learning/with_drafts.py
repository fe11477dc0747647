"""The trainer loop's trainer for a project with ``generate`` tasks: the label tasks' ``Trainer``
(None when the project has none) and one ``GenerateTrainer`` per generate task, stepped in turn.

``trainer_loop.build_trainer`` builds it when the project has a generate task; the loop drives it
as it drives a ``Trainer`` (``step``, ``predict_items``, ``info``, ``close``; the label trainer's
other attributes are read through). Each step does one thing: drafts the queue needs come first
(the expert must never wait for one), then a label update and a KTO update take turns. The loop
sends the drafts of a step to the app (``take_drafts`` → ``trainer_messages.Drafts``). A generate
task whose model cannot be used is dropped with one sentence (``take_warnings`` → ``Warned``); the
label tasks go on training.
"""

from __future__ import annotations

from mmrl_desktop.core.data.drafts import Draft
from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.generate_trainer import GenerateTrainer
from mmrl_desktop.core.learning.trainer import StepResult, Trainer


class WithDrafts:
    def __init__(self, label: Trainer | None, generators: list[GenerateTrainer], project: Project):
        self.label = label
        self.generators = generators
        self.project = project
        self._drafts: list[Draft] = []
        self._warnings: list[str] = []  # sentences for the app (``Warned``)
        self._turn = 0
        self._steps = 0

    def __getattr__(self, name: str):
        """The label trainer's attributes (config, store, labels, checkpoints_enabled …)."""
        label = self.__dict__.get("label")
        if label is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(label, name)

    # ------------------------------------------------------------ what the loop reads
    @property
    def pending_updates(self) -> int:
        own = sum(g.pending_updates for g in self.generators)
        return own + (self.label.pending_updates if self.label is not None else 0)

    @property
    def model_version(self) -> int:
        return self.label.model_version if self.label is not None else 0

    @property
    def updates(self) -> int:
        return self.label.updates if self.label is not None else self._steps

    @property
    def save_error(self) -> str | None:
        errors = [g.save_error for g in self.generators if g.save_error]
        if self.label is not None and self.label.save_error:
            errors.insert(0, self.label.save_error)
        return " ".join(errors) or None

    @property
    def checkpoints_enabled(self) -> bool:
        return bool(self.label is not None and self.label.checkpoints_enabled)

    def set_draft_queue(self, item_ids: list[str]) -> None:
        for g in self.generators:
            g.set_queue(item_ids)

    def take_drafts(self) -> list[Draft]:
        out, self._drafts = self._drafts, []
        return out

    # ------------------------------------------------------------ stepping
    def take_warnings(self) -> list[str]:
        out, self._warnings = self._warnings, []
        return out

    def _drop(self, g: GenerateTrainer, err: UserError) -> None:
        """A generate task that cannot run (its model folder refused, a checkpoint of another
        rank): one sentence; the label tasks go on training."""
        self.generators.remove(g)
        self._warnings.append(f"The {g.task.name} task drafts nothing: {err}")

    def step(self) -> StepResult:
        metrics: dict[str, float] = {}
        for g in list(self.generators):  # drafts first: read the answers, draft what is due
            try:
                r = g.step(train=False)
            except UserError as err:
                self._drop(g, err)
                continue
            metrics.update(r.metrics)
            if r.drafts:
                self._drafts += r.drafts
                return self._result(True, metrics)
        self._turn += 1
        if self.label is not None and self._turn % 2:
            r = self.label.step()
            if r.did_update:
                return StepResult(r.step, r.model_version, True, {**r.metrics, **metrics})
        for g in list(self.generators):
            if g.pending_updates > 0:
                try:
                    metrics.update(g.step().metrics)
                except UserError as err:
                    self._drop(g, err)
                    continue
                return self._result(True, metrics)
        if self.label is not None and not self._turn % 2:
            r = self.label.step()
            return StepResult(r.step, r.model_version, r.did_update, {**r.metrics, **metrics})
        return self._result(False, metrics)

    def _result(self, did: bool, metrics: dict[str, float]) -> StepResult:
        self._steps += did
        return StepResult(self.updates, self.model_version, did, metrics)

    def predict_items(self, item_ids: list[str]) -> dict:
        return self.label.predict_items(item_ids) if self.label is not None else {}

    def info(self) -> dict:
        info = dict(self.label.info()) if self.label is not None else {"model_version": 0}
        gens = []
        for g in list(self.generators):
            try:
                gens.append(g.info())  # loads the model (in the trainer process)
            except UserError as err:
                self._drop(g, err)
        info["generate"] = gens
        info.setdefault("device", gens[0].get("device", "") if gens else "")
        return info

    def close(self, checkpoint: bool = True) -> None:
        try:
            for g in self.generators:
                g.close()
        finally:
            if self.label is not None:
                self.label.close(checkpoint)


def build_with_drafts(project: Project, device: str = "auto", **trainer_kwargs) -> WithDrafts:
    """The label trainer (when the project has label tasks) and a generate trainer per
    generate task. Nothing is loaded until the first ``step`` or ``info``."""
    label = Trainer(project, device=device, **trainer_kwargs) if project.tasks else None
    seed = label.config.seed if label is not None else 0
    gens = [GenerateTrainer(project, t, device, seed=seed) for t in project.generate_tasks]
    return WithDrafts(label, gens, project)
