"""Trainer: the Qt-free learning loop the GUI thread, ``train``, ``simulate`` and ``bench`` all drive.

    trainer = Trainer(project, device="auto")   # cheap; everything is built on first use, in the
    while not stop:                             # thread that calls it (own FeedbackStore, torch)
        result = trainer.step()                 # StepResult(step, model_version, did_update, metrics)
    preds = trainer.predict_items(ids)          # {item_id: {task: Prediction}}
    trainer.close()                             # final checkpoint, store closed

Each ``step()`` reads new events from the store (answers join the replay buffer, retractions leave
it and are unlearned — ``core/learning/unlearn.py`` —, skips are ignored), lets the algorithm
``refresh`` after new feedback, then runs at most one update on a minibatch replayed from the
whole feedback log — ``updates_per_event`` updates per new answer. ``model_version`` goes up
after the first update that used new feedback (after a renewal: once its catch-up ran,
``renew.CatchUp``) and again when its update budget is spent; the queued items' predictions
are then refreshed in the store. NaN/inf in a loss or a parameter rolls
back to the last good in-memory snapshot (``train/nan_rollbacks``). Checkpoints every
``checkpoint_every`` updates, newest ``keep_checkpoints`` kept; a restart resumes from the newest
readable one that fits, with its heads grown when labels were added, and steps continue above
every checkpoint on disk (``core/learning/resume.py``). Deterministic on the CPU for a given seed.
Every attribute is declared in ``__init__``; ``_ensure_built`` fills them in named steps
(``core/learning/trainer_build.py``).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from mmrl_desktop.core.config import ModelConfig, TrainConfig
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.data.store import FeedbackStore
from mmrl_desktop.core.learning import modality_choice, renew
from mmrl_desktop.core.learning.calibration import PrequentialCalibrator, observe_events
from mmrl_desktop.core.learning.metrics_buffer import MetricsBuffer
from mmrl_desktop.core.learning.model.featurize import Featurizer
from mmrl_desktop.core.learning.pretrained.idle import flush_embeddings
from mmrl_desktop.core.learning.replay import ReplayBuffer, Row
from mmrl_desktop.core.learning.resume import save_trainer
from mmrl_desktop.core.learning.trainer_build import TrainerBuild
from mmrl_desktop.core.learning.trainer_eval import TrainerPredictions
from mmrl_desktop.core.learning.unlearn import UndoSnapshots

SNAPSHOT_EVERY = 25


@dataclass(frozen=True)
class StepResult:
    step: int
    model_version: int
    did_update: bool
    metrics: dict[str, float] = field(default_factory=dict)


class Trainer(TrainerBuild, TrainerPredictions):
    def __init__(
        self,
        project: Project,
        device: str | None = None,
        config: TrainConfig | None = None,
        model_config: ModelConfig | None = None,
        *,
        run_id: str | None = None,
        resume: bool = True,
        store_factory: Callable[[], FeedbackStore] | None = None,
        queue_size: int = 32,
        write_metrics: bool = True,
        checkpoints: bool = True,
    ):
        cfg = config or TrainConfig.from_dict(project.algorithm)
        self.project = project  # the arguments: cheap, nothing is read or built here
        self.config = cfg if device is None else cfg.replace(device=device)
        self._model_config_arg = model_config  # None: the project's [model] or the checkpoint's
        self.run_id = run_id or time.strftime("run-%Y%m%d-%H%M%S")
        self.resume = resume
        self._store_factory = store_factory or project.open_store
        self.queue_size = queue_size
        self.write_metrics = write_metrics
        self.checkpoints_enabled = checkpoints
        self.queue: list[str] | None = None  # None: the first unanswered pool items
        self._built = False
        self.store: FeedbackStore = None  # type: ignore[assignment]  # below: built on first use
        self.labels: dict[str, list[str]] = {}  # task -> label names (single-label tasks)
        self.label_index: dict[str, dict[str, int]] = {}  # task -> label -> index
        self.device: torch.device = torch.device("cpu")
        self.model_config: ModelConfig = None  # type: ignore[assignment]  # resolved on the items
        self.algorithm = None  # the algorithm of ``config.algorithm`` (core/learning/algorithms)
        self.featurizer: Featurizer = None  # type: ignore[assignment]
        self.buffer: ReplayBuffer = None  # type: ignore[assignment]  # the replayed answers
        self.holdout_ids: list[str] = []  # labelled held-out items evaluated every eval_every
        self.pool_ids: list[str] = []  # items that may be shown
        self._idf_pool: set[str] = set()  # the texts an "idf-mean" encoder's idf is of (ADR 0037)
        self.sample_gen = torch.Generator()  # replay sampling (seeded at build)
        self.sample_seed = 0  # its seed, and each refit's from it (renew.draws_seed)
        self.act_gen = torch.Generator()  # exploration of the shown label (seeded at build)
        self.checkpoint_warnings: list[str] = []  # checkpoints skipped, settings ignored
        self.incompatible_checkpoint: str | None = None  # "<name>: why" when one did not fit
        self.resumed_from: str | None = None  # the checkpoint file loaded, if any
        self.save_error: str | None = None  # the sentence of the last failed save
        self.updates = 0  # the step (``_start_counters``): continues above every checkpoint
        self.model_version = 0
        self.last_event_id = 0  # the newest event read from the store
        self.trained_event_id = 0  # the newest event the current model version has trained on
        self.pending_updates = 0  # updates owed (updates_per_event per new answer, add_budget)
        self.catch_up = renew.CatchUp()  # after a renewal (TrainConfig.renew_catch_up)
        self.nan_rollbacks = 0
        self._last_ckpt_step = self._last_ckpt_version = 0  # of the last checkpoint on disk
        self.undo = UndoSnapshots()  # undo that unlearns (core/learning/unlearn.py)
        self.calibrator = PrequentialCalibrator()  # temperatures (core/learning/calibration.py)
        # which modalities the model shown fuses (core/learning/modality_choice.py, ADR 0039)
        self.modality_choice: modality_choice.ModalityChoice | None = None
        self.saved_choice: dict | None = None  # its scores in the checkpoint resumed from
        self._told_used: list[str] | None = None  # the modalities used, as last told the app
        self._exclusions_seen = (-1, 0)  # (exclusions_mark, unreadable items) last applied
        self._needs_refresh = False  # the algorithm's refresh is owed (new/retracted answers)
        self._version_pending = False  # new feedback not yet in a model version
        self._snapshot: dict = {}  # the last good state, restored after a NaN/inf
        self._update_s = 0.0  # EMA of one update's duration
        self._metrics = MetricsBuffer()  # metrics not yet written to the store

    # ---------------------------------------------------------------- feedback intake
    def _row(self, ev) -> Row | None:
        idx = self.label_index.get(ev.task)
        if idx is None:
            return None
        shown = idx.get(ev.shown_label, -1) if ev.shown_label is not None else -1
        corrected = idx.get(ev.corrected_label, -1) if ev.corrected_label else -1
        if shown < 0 and corrected < 0:
            return None
        return Row(
            ev.event_id,
            ev.item_id,
            ev.task,
            shown,
            int(ev.reward or 0),
            float(ev.propensity or 1.0),
            corrected,
        )

    def _ingest(self, events, count_new_after: int | None = None) -> int:
        """Add answers, drop retracted ones (and unlearn those trained on: ``core/learning/unlearn.py``);
        returns the number of new answers."""
        new = 0
        after = self.last_event_id if count_new_after is None else count_new_after
        trained: list[Row] = []  # retracted answers the model has trained on
        for ev in events:
            self.last_event_id = max(self.last_event_id, ev.event_id)
            if ev.kind == "feedback":
                row = self._row(ev)
                if row is not None:
                    if not new and ev.event_id > after:
                        self.undo.before_new_answers(self, after)
                    self.buffer.add(row)
                    new += ev.event_id > after
            elif ev.kind == "retraction" and ev.retracts is not None:
                row = self.buffer.remove(ev.retracts)
                if row is not None and ev.retracts <= after < ev.event_id:
                    trained.append(row)
                self._needs_refresh = True
        if new:
            self.pending_updates += self.catch_up.budget(new * self.config.updates_per_event)
            self.pending_updates += new * self._follow_updates()
            self._needs_refresh = True
            self._version_pending = True
        if trained:
            self.undo.retracted(self, trained)  # a rollback restores the catch-up of its snapshot
            self._version_pending = True
        return new

    def _follow_updates(self) -> int:
        """Each new answer's updates after a refit, on top of its budget (``renew.follow_updates``)."""
        alg, cfg, answers = self.algorithm, self.config, len(self.buffer)
        return renew.follow_updates(
            answers,
            getattr(alg, "renewed_at", None),
            getattr(alg, "refit_until", 0),
            cfg.refit_updates,
            alg.refit_follow_at(answers),
            cfg.refit_growth,
        )

    def poll(self) -> int:
        """Read events that arrived since the last poll. Returns new answers."""
        self._ensure_built()
        self._sync_exclusions()
        events = self.store.events_since(self.last_event_id)
        self._observe_prequential(events)
        new = self._ingest(events)
        if events:  # after an undo's rollback, a retraction (not on every step's empty poll)
            modality_choice.reapply(self)
        return new

    def _observe_prequential(self, events) -> None:
        """Before training on new answers: the model's log-probabilities for their items, for the
        temperature fit (``core/learning/calibration.py``; read-only trainers — evaluate,
        predict — skip it) and for the choice of modalities (``modality_choice.py``)."""
        if self.checkpoints_enabled:
            observe_events(self, events)
        modality_choice.observe_events(self, events)

    def _set_item_lists(self, items: list[Item]) -> None:
        self.holdout_ids = [it.item_id for it in items if it.split == "holdout" and it.labels][
            : self.config.eval_items
        ]
        self.pool_ids = [it.item_id for it in items if it.split == "pool"]

    def _sync_exclusions(self) -> None:
        """Items excluded or included since the last look, and items found unreadable, leave
        (or rejoin) the replay and the hold-out (``core/data/exclusions.py``)."""
        mark, bad = self.store.exclusions_mark(), self.featurizer.unreadable
        if (mark, len(bad)) == self._exclusions_seen:
            return
        if mark != self._exclusions_seen[0] and self._built:
            self._set_item_lists(self.store.items())
        self._exclusions_seen = (mark, len(bad))
        if self.buffer.set_excluded(self.store.excluded_ids() | set(bad)):
            self._needs_refresh = True

    def add_budget(self, updates: int) -> None:
        """Ask for ``updates`` more updates on the current buffer (headless ``train --steps``)."""
        self._ensure_built()
        self.pending_updates += int(updates)

    # ---------------------------------------------------------------- the loop
    def step(self) -> StepResult:
        self._ensure_built()
        metrics: dict[str, float] = {}
        self.poll()
        did = False
        if not len(self.buffer):
            self.pending_updates = 0
        if self._needs_refresh:  # also on an empty buffer: a posterior then forgets its answers
            metrics.update(self.algorithm.refresh(self.buffer))
            self._needs_refresh = False
            if self._version_pending and self.pending_updates == 0:  # nothing to train on
                self._bump_version(metrics)
        if self.pending_updates > 0 and len(self.buffer):
            metrics.update(self._update())
            did = True
            if self.pending_updates == 0 or (self._version_pending and not self.catch_up.left):
                self._bump_version(metrics)
            self._periodic(metrics)
        if did or metrics:
            metrics["data/answers"] = float(len(self.buffer))
            metrics["data/last_event_id"] = float(self.trained_event_id)
            metrics["reward/thumbs_up_rate"] = self.buffer.thumbs_up_rate()
            if self.featurizer.unreadable:
                metrics["data/unreadable_items"] = float(len(self.featurizer.unreadable))
            if self._update_s > 0:
                metrics["perf/updates_per_s"] = 1.0 / self._update_s
            self._log(metrics)
        return StepResult(self.updates, self.model_version, did, metrics)

    def _update(self) -> dict[str, float]:
        t0 = time.perf_counter()
        renewed = self.algorithm.renew_if_due(len(self.buffer), self.catch_up.refitting)
        if renewed.get("train/refit"):  # extra updates, not repaid (renew.refits)
            self.pending_updates += self.catch_up.start(self.config.refit_updates, repaid=False)
            # the refit's draws seeded as its weights are: what it trains does not depend on how
            # the answers before it were trained (renew.draws_seed)
            self.sample_gen.manual_seed(renew.draws_seed(self.sample_seed, len(self.buffer)))
        elif renewed and not renewed.get("train/refit_joined"):  # a joined refit: nothing more
            extra = round(self.config.renew_catch_up * len(self.buffer))
            self.pending_updates += self.catch_up.start(extra)
        if renewed and not renewed.get("train/refit_joined"):
            self._refresh_text_idf()  # texts added since: their n-grams weigh as they now do
        counter = self.undo.push()  # an old answer's undo: 👎s on what it asserted (unlearn.py)
        batch = self.buffer.sample(
            self.config.batch_size,
            self.sample_gen,
            counter,
            self.algorithm.draws_with_replacement_at(len(self.buffer)),
        )
        out = {**self.algorithm.update(batch), **renewed}
        if counter:  # the model shown follows the undo at once, not the average's memory of it
            self.algorithm.restart_average()
        if not self._finite(out):
            self.algorithm.load_state_dict(copy.deepcopy(self._snapshot))
            modality_choice.reapply(self)  # the snapshot's flags may be older than the choice
            self.nan_rollbacks += 1
            self.pending_updates = max(0, self.pending_updates - 1)
            self.catch_up.ran(self.pending_updates)
            return {"train/nan_rollbacks": float(self.nan_rollbacks)}
        self.updates += 1
        self.pending_updates -= 1
        self.catch_up.ran(self.pending_updates)
        out.update(self.catch_up.progress())
        if self.updates % SNAPSHOT_EVERY == 0:
            self._snapshot = copy.deepcopy(self.algorithm.state_dict())
        dt = time.perf_counter() - t0
        self._update_s = dt if self._update_s == 0 else 0.9 * self._update_s + 0.1 * dt
        return out

    def _finite(self, metrics: dict[str, float]) -> bool:
        if not all(math.isfinite(v) for v in metrics.values()):
            return False
        # a NaN or an infinity anywhere makes the sum of sums non-finite (finite weights would
        # need |w| ~1e32 to overflow it): 0.4 ms for the demo model where isfinite() per tensor
        # took 4.6 ms of each update
        sums = [p.detach().float().sum() for p in self.algorithm.policy.parameters()]
        return bool(torch.isfinite(torch.stack(sums).sum()))

    def _bump_version(self, metrics: dict[str, float]) -> None:
        self.model_version += 1
        self.trained_event_id = self.last_event_id
        self._version_pending = False
        metrics["data/model_version"] = float(self.model_version)
        self.calibrator.fit(self.updates)
        if self.queue_size > 0:
            self._refresh_queue_predictions()

    def _periodic(self, metrics: dict[str, float]) -> None:
        c = self.config
        shown = not self.catch_up.left  # not a renewed model half way through its catch-up
        if shown and c.eval_every and self.holdout_ids and self.updates % c.eval_every == 0:
            metrics.update(self.evaluate_ids(self.holdout_ids))
        due = c.checkpoint_every and self.updates % c.checkpoint_every == 0
        if self.checkpoints_enabled and due and self.save_checkpoint(keep_going=True) is None:
            metrics["train/checkpoint_failed"] = 1.0

    # ---------------------------------------------------------------- metrics
    def _log(self, metrics: dict[str, float]) -> None:
        if self.write_metrics and self._metrics.add(metrics):
            self.flush_metrics()

    def flush_metrics(self) -> None:
        rows = self._metrics.take()
        if rows:
            self.store.add_metrics(self.run_id, self.updates, rows)

    # ---------------------------------------------------------------- checkpoints
    def save_checkpoint(self, note: str = "", *, keep_going: bool = False) -> str | None:
        """Write a checkpoint of the current step; return its path (``resume.save_trainer``: a
        failed write is one sentence — a ``UserError``, or with ``keep_going`` None)."""
        self._ensure_built()
        return save_trainer(self, note, keep_going)

    def unsaved(self) -> bool:
        """True when the model in memory is not the last checkpoint written: new updates, or a
        new model version without any (an undo rolled back to a snapshot, nothing owed)."""
        return (
            self.updates > 0 and self.updates != self._last_ckpt_step
        ) or self.model_version != self._last_ckpt_version

    # ---------------------------------------------------------------- info / running / closing
    def info(self) -> dict:
        self._ensure_built()
        self._told_used = modality_choice.used_by(self.algorithm)
        return {
            "device": str(self.device),
            "model_version": self.model_version,
            "algorithm": self.config.algorithm,
            "answers": len(self.buffer),
            "updates": self.updates,
            "modalities": self.model_config.modality_list(),
            # those the model shown predicts from ([model] modality_choice, ADR 0039)
            "modalities_used": self._told_used,
            "parameters": sum(p.numel() for p in self.algorithm.policy.parameters()),
            "checkpoint_warnings": list(self.checkpoint_warnings),  # sentences for the app
        }

    def take_info_update(self) -> dict | None:
        """The fields of ``info()`` that changed since it or this was last called — the
        modalities the model shown predicts from (ADR 0039) — for the status bar; None when
        nothing did."""
        used = modality_choice.used_by(self.algorithm) if self._built else self._told_used
        if used == self._told_used:
            return None
        self._told_used = used
        return {"modalities": self.model_config.modality_list(), "modalities_used": used}

    def train_pending(self) -> dict[str, float]:
        """Run steps until the update budget is spent (bench, simulate, headless train)."""
        last: dict[str, float] = {}
        while True:
            r = self.step()
            last.update(r.metrics)
            if not r.did_update or self.pending_updates <= 0:
                return last

    def close(self, checkpoint: bool = True) -> None:
        if not self._built:
            return
        try:
            if checkpoint and self.checkpoints_enabled and self.unsaved():
                self.save_checkpoint("on close", keep_going=True)
            flush_embeddings(self)  # computed since the last shard (ADR 0014)
            self.flush_metrics()
        finally:
            self.store.close()
            self._built = False
