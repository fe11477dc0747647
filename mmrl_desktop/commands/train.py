"""``mmrl-desktop train``: headless training from a project's feedback log.

Runs ``--steps`` updates on the replay buffer (plus any updates owed to answers that arrived since
the last checkpoint), then saves a checkpoint. Launched by torchrun (``torchrun --nproc_per_node=N
-m mmrl_desktop train ...``) it trains data-parallel, one process per CPU share or GPU, and rank 0
writes the one checkpoint (``core/distributed.py``, ADR 0005); otherwise it is one process.
"""

from __future__ import annotations


def run(args) -> int:
    import sys

    from mmrl_desktop.core import distributed

    if distributed.requested():
        return _run_distributed(args)
    from mmrl_desktop.core.demo import resolve_project
    from mmrl_desktop.core.errors import UserError
    from mmrl_desktop.core.trainer import Trainer

    project = resolve_project(args.project)
    trainer = Trainer(project, device=args.device, queue_size=0)
    try:
        info = trainer.info()
        for text in trainer.checkpoint_warnings:  # skipped checkpoints, ignored [model] settings
            sys.stderr.write(f"warning: {text}\n")
        if info["answers"] == 0:
            raise UserError(f"{project.root} has no feedback yet; answer some items first.")
        trainer.add_budget(args.steps)
        metrics = trainer.train_pending()
        path = trainer.save_checkpoint("train command")
    finally:
        trainer.close(checkpoint=False)
    loss = metrics.get("loss/total", float("nan"))
    print(
        f"trained {args.steps} updates on {info['answers']} answers ({info['device']}); "
        f"loss {loss:.4f}; checkpoint {path}"
    )
    return 0


def _run_distributed(args) -> int:
    import os

    from mmrl_desktop.core import distributed
    from mmrl_desktop.core.errors import UserError

    try:
        s = distributed.train(args.project, args.steps, args.device)
    except UserError:
        if os.environ.get("RANK", "0") != "0":
            return 2  # rank 0 prints the reason once
        raise
    if s is not None:
        print(
            f"trained {s.steps} updates on {s.answers} answers ({s.device}); "
            f"world size {s.world_size} ({s.backend}); loss {s.loss:.4f}; {s.seconds:.1f} s; "
            f"checkpoint {s.checkpoint}",
            flush=True,
        )
    return 0
