"""``mmrl-desktop train``: headless training from a project's feedback log.

Runs ``--steps`` updates on the replay buffer (plus any updates owed to answers that arrived since
the last checkpoint), then saves a checkpoint. Single process for now; torchrun-compatible in the
sense that it reads no environment beyond the project and writes only there.
"""

from __future__ import annotations


def run(args) -> int:
    from mmrl_desktop.core.demo import resolve_project
    from mmrl_desktop.core.errors import UserError
    from mmrl_desktop.core.trainer import Trainer

    project = resolve_project(args.project)
    trainer = Trainer(project, device=args.device, queue_size=0)
    try:
        info = trainer.info()
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
