"""The trainer's lazy building and resume (``Trainer`` inherits them): on first use, in the
thread that calls it, ``_ensure_built`` opens the store, reads the tasks, sets up torch, plans
the resume (``core/learning/resume.py``), builds the algorithm with seeded fresh weights, the
featurizer and the replay buffer, starts the counters above every checkpoint on disk, loads the
checkpoint the plan chose, attaches the unanswered pool and reads the whole feedback log.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from mmrl_desktop.core.config import ModelConfig
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning import modality_choice, renew
from mmrl_desktop.core.learning.augment import Augmenter
from mmrl_desktop.core.learning.calibration import PrequentialCalibrator
from mmrl_desktop.core.learning.device import choose_device
from mmrl_desktop.core.learning.metrics_buffer import MetricsBuffer
from mmrl_desktop.core.learning.model.featurize import (
    Featurizer,
    resolve_model_config,
    text_document_frequencies,
)
from mmrl_desktop.core.learning.model.fusion import resolve_fusion_mlp
from mmrl_desktop.core.learning.model.policy import build_policy
from mmrl_desktop.core.learning.pretrained.features import first_pool, fit_encoders, with_encoders
from mmrl_desktop.core.learning.replay import ReplayBuffer
from mmrl_desktop.core.learning.resume import (
    ResumePlan,
    check_writable,
    model_config_for,
    plan_resume,
    restore,
    restore_refit,
)
from mmrl_desktop.core.learning.unlearn import UndoSnapshots


class TrainerBuild:
    """Mixin of ``Trainer``: fills in the attributes its ``__init__`` declares; uses its
    ``_set_item_lists``, ``_sync_exclusions``, ``_observe_prequential`` and ``_ingest``."""

    def _ensure_built(self) -> None:
        if self._built:
            return
        self.store = self._store_factory()
        self._read_tasks()
        self._set_up_torch()
        plan = fit_encoders(self, self._plan_resume())  # not a model of other encoders
        fresh = self._build_model(plan)
        self._start_counters(plan)
        if plan.checkpoint is not None:
            self._resume_from(plan.checkpoint, plan.highest_step, fresh)
        self.modality_choice = modality_choice.start(self)
        self._attach_pool()
        self._read_feedback_log()
        self._built = True

    def _read_tasks(self) -> None:
        """The single-label tasks this trainer learns, their labels and label indices."""
        tasks = [t for t in self.project.tasks if t.kind == "single"]
        if not tasks:
            raise UserError(self.project.no_task_sentence())
        self.labels = {t.name: list(t.labels) for t in tasks}
        self.label_index = {
            t: {lab: i for i, lab in enumerate(ls)} for t, ls in self.labels.items()
        }

    def _set_up_torch(self) -> None:
        self.device = choose_device(self.config.device)
        if self.config.cpu_threads and torch.get_num_threads() != self.config.cpu_threads:
            torch.set_num_threads(self.config.cpu_threads)

    def _plan_resume(self) -> ResumePlan:
        """Which checkpoint to resume from (none without ``resume``), after checking that the
        checkpoints folder is writable, before any work that would be lost."""
        self.incompatible_checkpoint = None
        self.save_error = None
        if self.checkpoints_enabled:
            check_writable(self.project.checkpoints_dir)
        plan = ResumePlan()
        if self.resume:
            plan = plan_resume(self.project.checkpoints_dir, self.labels, self.config.algorithm)
        self.checkpoint_warnings = list(plan.warnings)  # sentences: skipped checkpoints
        return plan

    def _build_model(self, plan: ResumePlan) -> Callable:
        """The model config, the item lists, the algorithm with fresh weights (seeded), the
        featurizer and the replay buffer. Returns the builder of a fresh algorithm, for a
        checkpoint of another shape."""
        items = self.store.items()
        mcfg, ignored = model_config_for(self.project.model, plan.checkpoint)
        if ignored:
            self.checkpoint_warnings.append(ignored)
        if self._model_config_arg is not None:
            mcfg = self._model_config_arg
        mcfg = with_encoders(mcfg, self.project, self.device)  # [encoders] (issue 14)
        num = {t: len(v) for t, v in self.labels.items()}
        self.model_config = resolve_fusion_mlp(resolve_model_config(mcfg, items), num)
        self._set_item_lists(items)
        pool = [it for it in items if it.split == "pool"]
        text_idf = _text_idf(self.model_config, pool)
        self._idf_pool = {it.item_id for it in pool}  # the texts the idf was fitted on
        del items
        from mmrl_desktop.core.learning.algorithms import ALGORITHMS

        algo_cls = ALGORITHMS[self.config.algorithm]

        def fresh():
            policy = build_policy(self.model_config, num, self.project.root)
            if text_idf is not None:  # a checkpoint's own idf replaces it when one loads
                policy.encoders["text"].fit_idf(*text_idf)
            return algo_cls(policy, num, self.config, self.device)

        torch.manual_seed(self.config.seed)
        self.algorithm = fresh()
        self.featurizer = Featurizer(self.model_config, self.config.cache_mb, self.project.root)
        augment = Augmenter.from_config(self.config)  # the trainer's minibatches only
        self.buffer = ReplayBuffer(list(self.labels), self.featurizer, self.store.item, augment)
        self._exclusions_seen = (-1, 0)
        self._sync_exclusions()
        self.sample_seed = self.config.seed + 1  # per rank under torchrun (distributed.py)
        self.sample_gen = torch.Generator().manual_seed(self.sample_seed)
        self.act_gen = torch.Generator().manual_seed(self.config.seed + 2)
        return fresh

    def _refresh_text_idf(self) -> None:
        """At a renewal, the idf of an "idf-mean" text encoder (ADR 0037) follows the texts
        added to the project since it was fitted (or loaded with a checkpoint); unchanged
        texts are not read again."""
        if not _idf_design(self.model_config):
            return
        pool = self.store.items(split="pool")
        if {it.item_id for it in pool} == self._idf_pool:
            return
        self.algorithm.policy.encoders["text"].fit_idf(*_text_idf(self.model_config, pool))
        self._idf_pool = {it.item_id for it in pool}
        self.algorithm.restart_average(hold=True)  # the average starts from the new weights too

    def _attach_pool(self) -> None:
        """Unanswered pool items (never held-out ones) for an algorithm that uses them (default)."""
        pool = first_pool(self)  # a pretrained encoder: its embedded part first (issue 14)
        attach_pool = getattr(self.algorithm, "attach_pool", None)
        if attach_pool is not None:
            attach_pool(pool, lambda ids: self.featurizer.batch(self._items(ids)))

    def _read_feedback_log(self) -> None:
        """The whole feedback log into the replay buffer; answers after the checkpoint's last
        trained event are owed updates. The last good snapshot is the state built so far."""
        events = self.store.events_since(0)
        self._observe_prequential([e for e in events if e.event_id > self.trained_event_id])
        self._ingest(events, count_new_after=self.trained_event_id)
        modality_choice.reapply(self)
        self._needs_refresh = len(self.buffer) > 0
        self._version_pending = self.catch_up.refitting  # a resumed refit: shown when it ends
        self._snapshot = copy.deepcopy(self.algorithm.state_dict())
        self._update_s = 0.0
        self._metrics = MetricsBuffer()

    def _start_counters(self, plan: ResumePlan) -> None:
        """Steps, versions, events and the per-model state before any checkpoint is loaded."""
        # steps and versions continue above every checkpoint on disk: new ones sort newest, and a
        # model other than the newest checkpoint's never takes (overwrites) a step on disk
        self.updates = plan.highest_step + 1 if plan.highest_step else 0
        self.model_version = plan.highest_version
        self.last_event_id = 0
        self.trained_event_id = 0
        self.pending_updates = 0
        self.catch_up = renew.CatchUp()
        self.nan_rollbacks = 0
        self._last_ckpt_step = self.updates  # never re-save a step on disk without an update
        self._last_ckpt_version = self.model_version  # the model version on disk
        self.resumed_from = None
        self.undo = UndoSnapshots()
        self.calibrator = PrequentialCalibrator()
        self.saved_choice = None  # the modality choice's scores of the checkpoint resumed from

    def _resume_from(self, ckpt, highest_step: int, fresh) -> None:
        """Load the checkpoint the resume plan chose (``fresh`` builds a new algorithm for a
        model of another shape): its weights, step, model version, last trained event and
        calibration."""
        self.algorithm, ckpt, problem = restore(self.algorithm, ckpt, self.labels, fresh)
        if problem:  # a model of another shape (e.g. an older app): fresh weights, a trace
            self.incompatible_checkpoint = f"{ckpt.path.name}: {problem}"
            self.store.audit("checkpoint_incompatible", path=str(ckpt.path), reason=problem[:300])
        else:
            self.resumed_from = str(ckpt.path)
            self._idf_pool = set()  # its idf is of the texts it was saved with: refreshed later
        step = int(ckpt.meta.get("step", 0))
        if step >= highest_step and not problem:  # the newest on disk: its own step
            self.updates = step
        self.model_version = max(self.model_version, int(ckpt.meta.get("model_version", 0)))
        self.trained_event_id = int(ckpt.meta.get("last_event_id", 0))
        self._last_ckpt_step = self.updates
        self._last_ckpt_version = self.model_version
        if not problem:
            cal = ckpt.meta.get("calibration")
            self.calibrator = PrequentialCalibrator.from_meta(cal, self.labels)
            self.saved_choice = ckpt.meta.get("modality_choice")
            restore_refit(self, ckpt.meta)  # a refit under way at the save goes on (ADR 0029)


def _idf_design(config: ModelConfig) -> bool:
    """The model's text encoder is the app's own "idf-mean" (ADR 0037)."""
    own = "text" in config.modality_list() and "text" not in config.pretrained
    return own and config.text_encoder == "idf-mean"


def _text_idf(config: ModelConfig, pool: list) -> tuple | None:
    """The document frequencies of the pool's texts (never the held-out ones) for the
    "idf-mean" text encoder (ADR 0037); None for a model without it."""
    if not _idf_design(config):
        return None
    return text_document_frequencies(pool, config.text_buckets, config.text_max_tokens)
