"""``mmrl-desktop train``: headless training from a project's feedback log.

Runs ``--steps`` updates on the replay buffer, plus the updates owed to answers that arrived since
the last checkpoint (at most ``--max-catch-up`` of them; the line it prints says how many were owed
and done), then saves a checkpoint. A progress line goes to stderr when it is a terminal; Ctrl+C or
SIGTERM stops it after the current update, with a checkpoint (``train_progress.py``).

Launched by torchrun (``torchrun --nproc_per_node=N -m mmrl_desktop train ...``) it trains
data-parallel, one process per CPU share or GPU, and rank 0 writes the one checkpoint
(``core/learning/distributed.py``, ADR 0005); otherwise it is one process.
"""

from __future__ import annotations

MAX_CATCH_UP = 1000  # updates owed to new answers that one run catches up at most (~20 s on a CPU)


def run(args) -> int:
    from mmrl_desktop.core.learning import distributed

    if distributed.requested():
        return _run_distributed(args)
    from mmrl_desktop.commands.train_progress import StopSignals

    stop = StopSignals()  # before torch is imported: Ctrl+C never ends in a traceback
    try:
        return _run_local(args, stop)
    finally:
        stop.restore()


def _run_local(args, stop) -> int:
    import sys

    from mmrl_desktop.commands.relocate import warn_gone
    from mmrl_desktop.commands.train_progress import Progress
    from mmrl_desktop.core.data.demo import resolve_project
    from mmrl_desktop.core.errors import UserError
    from mmrl_desktop.core.learning.trainer import Trainer

    project = resolve_project(args.project)
    warn_gone(project, args.project)
    trainer = Trainer(project, device=args.device, queue_size=0)
    try:
        info = trainer.info()
        for text in trainer.checkpoint_warnings:  # skipped checkpoints, ignored [model] settings
            sys.stderr.write(f"warning: {text}\n")
        if info["answers"] == 0:
            raise UserError(f"{project.root} has no feedback yet; answer some items first.")
        # answers since the last checkpoint × updates_per_event: bounded, and said
        owed = trainer.pending_updates
        cap = getattr(args, "max_catch_up", None)
        caught_up = min(owed, MAX_CATCH_UP if cap is None else cap)
        trainer.pending_updates = caught_up
        trainer.add_budget(args.steps)
        start = trainer.updates
        progress = Progress(caught_up + args.steps)
        metrics = _train(trainer, stop, progress, start)
        progress.clear()
        done = trainer.updates - start
        path = None
        if done or not stop.requested():
            path = trainer.save_checkpoint("train stopped" if stop.requested() else "train command")
    finally:
        trainer.close(checkpoint=False)
    if stop.requested():
        saved = f"checkpoint {path}" if path else "no checkpoint written"
        sys.stderr.write(f"stopped after {done} updates; {saved}\n")
        return stop.exit_code
    loss = metrics.get("loss/total", float("nan"))
    owed_text = f"{caught_up} of {owed} updates owed to new answers; " if owed else ""
    print(
        f"trained {done} updates on {info['answers']} answers ({info['device']}); "
        f"{owed_text}loss {loss:.4f}; checkpoint {path}"
    )
    from mmrl_desktop.commands.exclude import warn_unreadable  # items left out, if any

    warn_unreadable(trainer.featurizer.unreadable_report(), args.project)
    return 0


def _train(trainer, stop, progress, start: int) -> dict[str, float]:
    """Steps until the budget is spent or a stop is requested (checked before each step, so a
    signal ends it after the current update); the last metrics of each kind."""
    last: dict[str, float] = {}
    while not stop.requested():
        r = trainer.step()
        last.update(r.metrics)
        if r.metrics:
            progress.update(trainer.updates - start, r.metrics.get("loss/total"))
        if not r.did_update or trainer.pending_updates <= 0:
            break
    return last


def _run_distributed(args) -> int:
    import os
    import sys

    from mmrl_desktop.core.errors import UserError
    from mmrl_desktop.core.learning import distributed

    try:
        s = distributed.train(args.project, args.steps, args.device)
    except UserError:
        if os.environ.get("RANK", "0") != "0":
            return 2  # rank 0 prints the reason once
        raise
    if s is not None:
        for text in s.warnings:  # rank 0: skipped checkpoints, ignored [model] settings
            sys.stderr.write(f"warning: {text}\n")
        print(
            f"trained {s.steps} updates on {s.answers} answers ({s.device}); "
            f"world size {s.world_size} ({s.backend}); loss {s.loss:.4f}; {s.seconds:.1f} s; "
            f"checkpoint {s.checkpoint}",
            flush=True,
        )
    return 0
