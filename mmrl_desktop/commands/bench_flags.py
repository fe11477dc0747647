"""``bench --task generate``'s flags (issue 16), apart so that cli.py stays one screenful a
command: argparse only, nothing heavy is imported."""

from __future__ import annotations


def add_generate_flags(p) -> None:
    """--task, --lm, --arm and --expert on the ``bench`` parser ``p``."""
    p.add_argument(
        "--task",
        choices=("label", "generate"),
        default="label",
        help="label: choose among the labels (default); generate: a language model drafts the "
        "answer's text and learns from thumbs (KTO; issue 16)",
    )
    p.add_argument(
        "--lm",
        metavar="PATH",
        default=None,
        help="--task generate: the base model folder (default: the bench's own tiny model, "
        "warm-started on a few items)",
    )
    p.add_argument(
        "--arm",
        choices=("kto", "kto+accepted", "sft", "kto+edits", "none"),
        default="kto",
        help="--task generate: learn from thumbs (kto; kto+accepted: each thumbs-up draft also "
        "a supervised target), from the expert's texts (sft: give --corrections 1), both, or "
        "not at all",
    )
    p.add_argument(
        "--expert",
        choices=("strict", "names"),
        default="strict",
        help="--task generate: the simulated expert's thumbs-up: the draft names the true label "
        "and no other (strict, default) or names it among others (names: a hedge accepted)",
    )
