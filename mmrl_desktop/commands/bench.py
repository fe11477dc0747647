"""``mmrl-desktop bench``: learning from thumbs with a simulated expert (CONTRACT.md)."""

from __future__ import annotations

import json
import sys


def run(args) -> int:
    if getattr(args, "task", "label") == "generate":
        return _generate(args)
    from mmrl_desktop.core.config import TrainConfig
    from mmrl_desktop.core.tools.bench import run_bench

    TrainConfig.from_dict({"algorithm": args.algorithm})  # unknown algorithm → one-line error

    def progress(row: dict) -> None:
        if not args.json:
            print(
                f"{row['feedback']:>8}  {row['accuracy']:>8.3f}  {row['macro_f1']:>8.3f}  "
                f"{row['thumbs_up_rate']:>8.3f}",
                flush=True,
            )

    order = getattr(args, "order", None) or "shuffle"  # --order / --positive: once cli.py has them
    positive = getattr(args, "positive", None)
    from mmrl_desktop.commands.progress import Bar

    embedding = Bar("embedding", "items")  # with --encoder: the items embedded once, first

    def bar(done: int, total: int, modality: str) -> None:
        embedding.update(done, total, label=f"embedding {modality}")
        if done >= total:
            embedding.close()

    if not args.json:
        print(
            f"bench {args.data}  algorithm={args.algorithm}  order={order}  seed={args.seed}",
            flush=True,
        )
        print(f"{'feedback':>8}  {'accuracy':>8}  {'macro_f1':>8}  {'thumbs_up':>8}", flush=True)
    result = run_bench(
        args.data,
        algorithm=args.algorithm,
        feedback=args.feedback,
        corrections=args.corrections,
        noise=args.noise,
        holdout=args.holdout,
        seed=args.seed,
        device=args.device,
        algorithm_settings={"orientation_free": True}
        if getattr(args, "orientation_free", False)
        else None,
        progress=progress,
        order=order,
        positive=positive,
        encoders=dict(getattr(args, "encoder", None) or []),
        embed_progress=bar,
    )
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        print(
            f"classes {result['classes']}, stream {result['stream_items']}, test "
            f"{result['test_items']}, device {result['device']}, "
            f"{result['updates_per_event']} updates/answer, {result['seconds']:.1f} s"
        )
        for row in result.get("positives_found", []):
            print(
                f"{positive} found after {row['fraction']:.0%} of the items "
                f"({row['answers']} answers): {row['found']:.1%}"
            )
    return 0


def _generate(args) -> int:
    """``bench --task generate``: drafts judged by a simulated expert (core/tools/bench_generate)."""
    from mmrl_desktop.core.learning.device import choose_device
    from mmrl_desktop.core.tools.bench_generate import run_generate_bench

    def progress(row: dict) -> None:
        if not args.json:
            print(
                f"{row['feedback']:>8}  {row['heldout_thumbs_up']:>8.3f}  "
                f"{row['heldout_greedy']:>8.3f}  {row.get('answers_thumbs_up', float('nan')):>8.3f}",
                flush=True,
            )

    if not args.json:
        print(f"bench {args.data}  task=generate  arm={args.arm}  seed={args.seed}", flush=True)
        print(f"{'feedback':>8}  {'held-out':>8}  {'greedy':>8}  {'answers':>8}", flush=True)
    result = run_generate_bench(
        args.data,
        lm=args.lm,
        arm=args.arm,
        feedback=args.feedback,
        corrections=args.corrections,
        holdout=args.holdout,
        seed=args.seed,
        device=choose_device(args.device).type,
        settings={"expert": args.expert},
        progress=progress,
    )
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        print(
            f"base {result['base']}, stream {result['stream_items']}, test "
            f"{result['test_items']}, {result['seconds']:.1f} s"
        )
    return 0
