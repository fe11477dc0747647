"""Data-parallel ``train`` under torchrun: N processes, one model, one checkpoint (ADR 0005).

    torchrun --nproc_per_node=2 -m mmrl_desktop train --project DIR [--steps N] [--device cpu]

Used only when torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``) is set; otherwise ``train`` stays the single-process loop. Every rank builds the
same ``Trainer`` from the same project folder, and this module keeps their models identical:

* start: rank 0's policy + reference parameters and buffers and the algorithm's ``extra_state()``
  are broadcast; ranks then check that they agree on the project state (counters, answers).
* feedback: all ranks read the log through their own ``FeedbackStore`` connection, capped at the
  last event id rank 0 saw at start, so answers arriving meanwhile cannot make ranks disagree.
* each update: every rank replays its own minibatch (sample seed offset by rank); an optimiser
  step pre-hook all-reduces (averages) the gradients before the step, so every algorithm that steps
  its ``optimizer`` is covered without knowing how it computes its loss; policy buffers (BatchNorm
  statistics) are then broadcast from rank 0 and the metrics averaged across ranks, so the NaN
  guard decides alike on every rank.
* ``refresh`` (closed-form state such as a Bayesian head) runs on every rank on the full buffer,
  then rank 0's ``extra_state()`` is broadcast and loaded by the others.
* end: a parameter checksum is compared across ranks; only rank 0 writes metrics and checkpoints.

A rank that fails with a ``UserError`` during set-up tells the others (they all exit 2, rank 0
prints the reason); collectives time out after ``MMRL_DIST_TIMEOUT_S`` (default 300 s) instead of
hanging forever. ``MMRL_DIST_DUMP_DIR`` (tests, debugging) makes every rank write its final
algorithm state to ``rank<N>.safetensors`` there.
"""

from __future__ import annotations

import datetime
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from mmrl_desktop.core.errors import UserError

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
DEFAULT_TIMEOUT_S = 300.0
RANK_SEED_STRIDE = 1_000_003  # rank r samples with seed + 1 + r·stride (rank 0 = single process)


def requested(environ: dict[str, str] | None = None) -> bool:
    """True when launched by torchrun (or anything that sets its environment variables)."""
    env = os.environ if environ is None else environ
    return all(v in env for v in ENV_VARS)


@dataclass
class DistContext:
    rank: int
    local_rank: int
    world_size: int
    backend: str  # "gloo" or "nccl"
    device: str  # "cpu" or "cuda" (cuda = cuda:local_rank, set as the current device)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # ---------------------------------------------------------------- small collectives
    def _collective_device(self) -> torch.device:
        return (
            torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")
        )

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (pickled; keep it small and on the CPU)."""
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=self._collective_device())
        return box[0]

    def gather_objects(self, obj: Any) -> list[Any]:
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def agree(self, error: UserError | None) -> None:
        """Collective: raise the first rank's ``UserError`` on every rank when any rank had one."""
        messages = self.gather_objects(None if error is None else str(error))
        first = next((m for m in messages if m is not None), None)
        if first is not None:
            raise UserError(first)

    def barrier(self) -> None:
        dist.barrier()


def _timeout() -> datetime.timedelta:
    try:
        seconds = float(os.environ.get("MMRL_DIST_TIMEOUT_S", DEFAULT_TIMEOUT_S))
    except ValueError:
        raise UserError("MMRL_DIST_TIMEOUT_S must be a number of seconds.") from None
    return datetime.timedelta(seconds=max(1.0, seconds))


def _env_int(name: str) -> int:
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        raise UserError(f"torchrun's {name} is missing or not a number.") from None


def init(device: str = "auto") -> DistContext:
    """Join the process group torchrun set up: NCCL on GPUs (one per rank), else gloo on the CPU."""
    rank, world = _env_int("RANK"), _env_int("WORLD_SIZE")
    local_rank = _env_int("LOCAL_RANK")
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device == "mps":
        raise UserError("distributed training runs on cpu or cuda, not on Apple's MPS.")
    if device == "cuda" and gpus == 0:
        raise UserError("--device cuda was asked for, but no CUDA GPU is available.")
    if device == "cuda" and gpus < local_world:
        raise UserError(
            f"{local_world} processes per node need {local_world} GPUs; this machine has {gpus}."
        )
    use_cuda = device == "cuda" or (device == "auto" and gpus >= local_world)
    kwargs: dict[str, Any] = {"timeout": _timeout()}
    if use_cuda:
        torch.cuda.set_device(local_rank)
        kwargs["device_id"] = torch.device("cuda", local_rank)
    backend = "nccl" if use_cuda else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world, **kwargs)
    return DistContext(rank, local_rank, world, backend, "cuda" if use_cuda else "cpu")


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# -------------------------------------------------------------------- the feedback log
class HorizonStore:
    """A ``FeedbackStore`` that shows events up to ``horizon`` only; writes only on rank 0.

    Every rank must ingest the same answers and retractions at the same steps, so the log is
    frozen at the id rank 0 saw at start, and so are the excluded items. On other ranks metrics,
    predictions and audit rows are dropped (rank 0 writes them)."""

    _WRITES = ("add_metrics", "put_predictions", "audit", "add_checkpoint", "remove_checkpoint")

    def __init__(self, store, horizon: int, writable: bool):
        self._store = store
        self.horizon = int(horizon)
        self.writable = writable
        self._excluded = frozenset(store.excluded_ids())  # frozen too (core/data/exclusions.py)

    def excluded_ids(self) -> set[str]:
        return set(self._excluded)

    def exclusions_mark(self) -> int:
        return 0

    def events_since(self, after_id: int = 0, limit: int | None = None):
        events = self._store.events_since(after_id)
        events = [e for e in events if e.event_id <= self.horizon]
        return events[:limit] if limit else events

    def last_event_id(self) -> int:
        return min(self.horizon, self._store.last_event_id())

    def __getattr__(self, name: str):
        if not self.writable and name in self._WRITES:
            return lambda *args, **kwargs: None
        return getattr(self._store, name)


# -------------------------------------------------------------------- keeping the model identical
def _coalesced(tensors: list[torch.Tensor], op) -> None:
    """Apply ``op`` (an in-place collective on one flat tensor) per dtype, write results back."""
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    for group in by_dtype.values():
        flat = _flatten_dense_tensors([t.data for t in group])
        op(flat)
        for t, new in zip(group, _unflatten_dense_tensors(flat, group), strict=True):
            t.data.copy_(new)


def _broadcast_tensors(tensors: list[torch.Tensor]) -> None:
    if tensors:
        _coalesced(tensors, lambda flat: dist.broadcast(flat, src=0))


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


class _GradAverager:
    """Optimiser step pre-hook: average every parameter's gradient over the ranks.

    Gradients that are ``None`` on a rank (an encoder its batch did not use) count as zero; a
    parameter that has no gradient on any rank keeps ``None``, so the optimiser skips it exactly as
    in a single process."""

    def __init__(self, world_size: int):
        self.world_size = world_size
        self.calls = 0

    def __call__(self, optimizer, args, kwargs) -> None:
        params = [p for g in optimizer.param_groups for p in g["params"]]
        by_dtype: dict[torch.dtype, list[torch.nn.Parameter]] = {}
        for p in params:
            by_dtype.setdefault(p.dtype, []).append(p)
        for group in by_dtype.values():
            grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in group]
            present = torch.tensor(
                [p.grad is not None for p in group], dtype=grads[0].dtype, device=grads[0].device
            )
            flat = _flatten_dense_tensors([*grads, present])
            dist.all_reduce(flat)
            *avg, seen = _unflatten_dense_tensors(flat, [*grads, present])
            for p, g, n in zip(group, avg, seen.tolist(), strict=True):
                p.grad = (g / self.world_size) if n > 0 else None
        self.calls += 1


def attach(ctx: DistContext, trainer) -> None:
    """Make ``trainer`` (already built on every rank) one data-parallel learner.

    Collective: every rank calls it at the same point. Patches the algorithm *instance* only
    (``update`` and ``refresh`` wrappers, an optimiser step pre-hook); no class is changed."""
    algo = trainer.algorithm
    shown = [] if algo.average is None else [*algo.average.parameters(), *algo.average.buffers()]
    _broadcast_tensors(
        [*algo.policy.parameters(), *algo.policy.buffers(), *algo.reference.parameters()]
        + list(algo.reference.buffers())
        + shown
    )
    _sync_extra_state(ctx, algo)
    state = (
        trainer.updates,
        trainer.model_version,
        trainer.trained_event_id,
        trainer.last_event_id,
        trainer.pending_updates,
        len(trainer.buffer),
        algo.updates,
    )
    if len(set(ctx.gather_objects(state))) != 1:
        raise UserError(
            "the processes disagree on the project's state (a checkpoint was written while they "
            "started?); run the command again."
        )
    seed = trainer.config.seed
    trainer.sample_seed = seed + 1 + ctx.rank * RANK_SEED_STRIDE
    trainer.sample_gen.manual_seed(trainer.sample_seed)
    torch.manual_seed(seed + ctx.rank * RANK_SEED_STRIDE)  # dropout masks differ per rank too

    averager = _GradAverager(ctx.world_size)
    algo.optimizer.register_step_pre_hook(averager)
    update, refresh = algo.update, algo.refresh

    def synced_update(batch):
        metrics = update(batch)
        averaged = [] if algo.average is None else list(algo.average.buffers())
        _broadcast_tensors(list(algo.policy.buffers()) + averaged)
        return _average_metrics(ctx, metrics)

    def synced_refresh(buffer):
        metrics = refresh(buffer)
        _sync_extra_state(ctx, algo)
        return _average_metrics(ctx, metrics)

    algo.update, algo.refresh = synced_update, synced_refresh


def _sync_extra_state(ctx: DistContext, algo) -> None:
    """Rank 0's ``extra_state()`` (e.g. a refitted Bayesian head) loaded on every other rank."""
    extra = ctx.broadcast_object(_to_cpu(algo.extra_state()) if ctx.is_main else None)
    if not ctx.is_main and extra:
        algo.load_extra_state(extra)


def _average_metrics(ctx: DistContext, metrics: dict[str, float]) -> dict[str, float]:
    """The mean of every metric over the ranks that reported it (identical on all ranks)."""
    sums: dict[str, list[float]] = {}
    for per_rank in ctx.gather_objects(dict(metrics)):
        for k, v in per_rank.items():
            sums.setdefault(k, []).append(float(v))
    return {k: sum(v) / len(v) for k, v in sums.items()}


def checksum(algo) -> list[float]:
    """Per-tensor sums of the policy's parameters and buffers (a cheap identity check)."""
    tensors = [*algo.policy.parameters(), *algo.policy.buffers()]
    return [float(t.detach().cpu().double().sum()) for t in tensors]


def verify_identical(ctx: DistContext, algo) -> None:
    sums = ctx.gather_objects(checksum(algo))
    if any(s != sums[0] for s in sums[1:]):
        raise RuntimeError("distributed training left the ranks with different parameters")


def dump_state(ctx: DistContext, algo) -> Path | None:
    """With ``MMRL_DIST_DUMP_DIR`` set: write this rank's algorithm state there (tests)."""
    folder = os.environ.get("MMRL_DIST_DUMP_DIR")
    if not folder:
        return None
    from safetensors.torch import save_file

    from mmrl_desktop.core.learning.checkpoints import flatten_state

    tensors, _ = flatten_state(algo.state_dict())
    path = Path(folder) / f"rank{ctx.rank}.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))
    return path


# -------------------------------------------------------------------- the command
@dataclass
class TrainSummary:
    steps: int
    answers: int
    world_size: int
    backend: str
    device: str
    seconds: float
    loss: float
    checkpoint: str  # empty on ranks other than 0
    warnings: list[str] = field(default_factory=list)  # sentences: skipped checkpoints, …


def _open_on_every_rank(ctx, project_arg: str):
    """The project on every rank (rank 0 first: ``demo`` may create the demo project) and rank
    0's last event id, the horizon every rank trains up to; one rank's error is every rank's."""
    from mmrl_desktop.core.data.demo import resolve_project

    project, horizon, error = None, 0, None
    for turn in (0, 1):
        if (turn == 0) == ctx.is_main:
            try:
                project = resolve_project(project_arg)
                if ctx.is_main:
                    with project.open_store() as store:
                        horizon = store.last_event_id()
            except UserError as err:
                error = err
        ctx.agree(error)
    return project, ctx.broadcast_object(horizon)


def _summary(ctx, steps: int, info: dict, metrics: dict, path: str, t0: float) -> TrainSummary:
    return TrainSummary(
        steps=steps,
        answers=info["answers"],
        world_size=ctx.world_size,
        backend=ctx.backend,
        device=info["device"],
        seconds=time.perf_counter() - t0,
        loss=float(metrics.get("loss/total", float("nan"))),
        checkpoint=path,
        warnings=list(info.get("checkpoint_warnings", [])),
    )


def train(project_arg: str, steps: int, device: str = "auto") -> TrainSummary | None:
    """``train`` on every rank; returns the summary on rank 0 and None elsewhere.

    A ``UserError`` (no feedback, unreadable project) is raised on every rank; callers print it
    on rank 0 only."""
    from mmrl_desktop.core.config import TrainConfig
    from mmrl_desktop.core.learning.trainer import Trainer

    ctx = init(device)
    trainer = None
    t0 = time.perf_counter()
    try:
        project, horizon = _open_on_every_rank(ctx, project_arg)
        error = None
        try:
            config = TrainConfig.from_dict(project.algorithm)
            if not ctx.is_main:
                config = config.replace(eval_every=0)  # held-out evaluation: rank 0's job
            trainer = Trainer(
                project,
                device=ctx.device,
                config=config,
                store_factory=lambda: HorizonStore(project.open_store(), horizon, ctx.is_main),
                queue_size=0,
                write_metrics=ctx.is_main,
                checkpoints=ctx.is_main,
            )
            info = trainer.info()
            if info["answers"] == 0:
                raise UserError(f"{project.root} has no feedback yet; answer some items first.")
        except UserError as err:
            error = err
        ctx.agree(error)
        attach(ctx, trainer)
        trainer.add_budget(steps)
        metrics = trainer.train_pending()
        verify_identical(ctx, trainer.algorithm)
        dump_state(ctx, trainer.algorithm)
        path = ""
        if ctx.is_main:
            path = trainer.save_checkpoint(f"train command, {ctx.world_size} processes")
        ctx.barrier()
        return _summary(ctx, steps, info, metrics, path, t0) if ctx.is_main else None
    finally:
        try:
            if trainer is not None:
                trainer.close(checkpoint=False)
        finally:
            teardown()
