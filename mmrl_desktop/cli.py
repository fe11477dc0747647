"""The command line of ../shared/docs/CONTRACT.md, in one place.

Every sub-command lives in ``mmrl_desktop.commands.<name>`` and is imported only when it runs, so
``mmrl-desktop`` (the GUI) starts without importing torch. Bad user input exits 2 with one line on
stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time

from mmrl_desktop.commands.bench_flags import add_generate_flags

PROCESS_START = time.perf_counter()

log = logging.getLogger(__name__)

PROG = "mmrl-desktop"


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default: ``(default: X)``, ``(default: off)`` for a
    flag, ``(required)``; a help text that already says its default is left as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        if action.required:
            return f"{text} (required)"
        if isinstance(action, argparse._StoreTrueAction):
            return f"{text} (default: off)"
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line and exits 2, and shows each option's
    default in ``--help``."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{PROG}: error: {message}\n")
        raise SystemExit(2)


def _feedback_points(text: str) -> list[int]:
    try:
        points = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--feedback takes comma-separated whole numbers, not {text!r}"
        ) from None
    if not points or any(p <= 0 for p in points):
        raise argparse.ArgumentTypeError("--feedback needs at least one positive number")
    return sorted(set(points))


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability, not {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability between 0 and 1, not {value}")
    return value


def _holdout(text: str) -> float:
    value = _probability(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError("--holdout must be strictly between 0 and 1")
    return value


def _import_holdout(text: str) -> float:
    """``import --holdout``: 0 (no hold-out) up to, not including, 1."""
    value = _probability(text)
    if value >= 1.0:
        raise argparse.ArgumentTypeError(
            "--holdout must be at least 0 and below 1 (0: keep no items out)"
        )
    return value


def _encoder_arg(text: str) -> tuple[str, str]:
    """``--encoder MODALITY=PATH`` → (modality, path)."""
    modality, sep, path = text.partition("=")
    modality = modality.strip()
    if not sep or modality not in ("image", "text", "audio") or not path.strip():
        raise argparse.ArgumentTypeError(
            f"--encoder takes image=PATH, text=PATH or audio=PATH, not {text!r}"
        )
    return modality, path.strip()


ENCODER_HELP = (
    "a pretrained encoder for a modality, MODALITY=PATH (image, text or audio = a local Hugging "
    "Face model folder); repeat for several modalities (default: the built-in small encoders)"
)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, not {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected zero or a positive number, not {value}")
    return value


DEVICES = ["auto", "cpu", "cuda", "mps"]
NEXT_ITEM_NAMES = ("shuffle", "uncertain", "diverse", "likely-positive")  # = core.config's
DEVICE_HELP = "where the model runs: auto (a GPU when there is one), cpu, cuda or mps"
PROJECT_HELP = "project folder ('demo' = the built-in demo project)"
JSON_HELP = "print one JSON object on stdout (a progress bar, if any, stays on stderr)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Teach a multimodal model with thumbs, offline.")
    parser.add_argument(
        "--project",
        metavar="DIR",
        help="project folder to open ('demo' = the built-in demo project; default: the last "
        "project opened, else the demo)",
    )
    parser.add_argument(
        "--quit-after-paint",
        action="store_true",
        help="print 'first-paint-ms N' once the main window is painted, then quit",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_data_commands(sub)
    _add_model_commands(sub)
    _add_project_commands(sub)
    _add_tool_commands(sub)
    _add_encoder_commands(sub)
    return parser


def _command(sub, name: str, text: str) -> argparse.ArgumentParser:
    """A sub-command whose ``--help`` opens with the same line the command list shows."""
    return sub.add_parser(name, help=text, description=text[:1].upper() + text[1:] + ".")


def _add_data_commands(sub) -> None:
    """Data in and training: import, bench, train."""
    p = _command(sub, "import", "import a folder of classes or a manifest into a project")
    p.add_argument("source", help="folder of classes (SOURCE/<label>/<files>) or items.csv/.jsonl")
    p.add_argument(
        "--project", required=True, metavar="DIR", help="project folder (created when missing)"
    )
    p.add_argument(
        "--holdout",
        type=_import_holdout,
        default=None,
        metavar="F",
        help="fraction of each label's new items kept out of the questions to measure the model "
        "(default 0.2; 0: none; at least 3 items of a label always stay in the pool)",
    )
    p.add_argument(
        "--encoder", type=_encoder_arg, action="append", metavar="MODALITY=PATH", help=ENCODER_HELP
    )
    p.add_argument("--json", action="store_true", help=JSON_HELP)

    _add_bench(sub)
    _add_train(sub)


def _add_bench(sub) -> None:
    p = _command(sub, "bench", "learning-from-thumbs benchmark with a simulated expert")
    p.add_argument("--data", required=True, help="'digits' or a SOURCE folder/manifest")
    p.add_argument("--algorithm", default="default", help="learning algorithm")
    p.add_argument(
        "--feedback",
        type=_feedback_points,
        default=[100, 300, 1000],
        metavar="N,N,...",
        help="numbers of answers after which the held-out accuracy is measured "
        "(default: 100,300,1000)",
    )
    p.add_argument(
        "--corrections",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability that the simulated expert corrects a wrong label (else a thumbs-down)",
    )
    p.add_argument(
        "--noise",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability that the simulated expert answers wrongly",
    )
    p.add_argument(
        "--holdout",
        type=_holdout,
        default=0.3,
        metavar="F",
        help="fraction of the data kept out to measure the model",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (data order, expert, model)")
    p.add_argument(
        "--order",
        choices=NEXT_ITEM_NAMES,
        default="shuffle",
        help="which item the simulated expert answers next: shuffle (the stream in its random "
        "order) or the learner's pick from the unanswered items (uncertain, diverse, "
        "likely-positive; docs/adr/0013-next-item.md)",
    )
    p.add_argument(
        "--positive",
        metavar="LABEL",
        default=None,
        help="the label likely-positive asks about first; also reports the share of its items "
        "found after 10/25/50 %% of the stream (default: none)",
    )
    p.add_argument(
        "--orientation-free",
        action="store_true",
        help="the labels do not depend on orientation: training also sees images flipped and "
        "turned by 90 degrees (project.toml [algorithm] orientation_free)",
    )
    p.add_argument(
        "--encoder", type=_encoder_arg, action="append", metavar="MODALITY=PATH", help=ENCODER_HELP
    )
    p.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    add_generate_flags(p)


def _add_train(sub) -> None:
    p = _command(sub, "train", "train headless from a project's feedback (torchrun-ready)")
    p.add_argument("--project", required=True, metavar="DIR", help=PROJECT_HELP)
    p.add_argument("--steps", type=_positive_int, default=200, metavar="N", help="updates to run")
    p.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)
    p.add_argument(
        "--max-catch-up",
        type=_non_negative_int,
        metavar="N",
        help="at most this many of the updates owed to answers since the last checkpoint "
        "(default 1000; 0: none)",
    )


def _add_model_commands(sub) -> None:
    """Models and feedback out: predict, export."""
    p = _command(sub, "predict", "label new files with the project's current model")
    p.add_argument("source", help="a file, a folder (sub-folders included) or items.csv/.jsonl")
    p.add_argument("--project", required=True, metavar="DIR", help=PROJECT_HELP)
    p.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)
    p.add_argument("--json", action="store_true", help=JSON_HELP)

    p = _command(sub, "export", "export the model or the feedback")
    p.add_argument("--project", required=True, metavar="DIR", help=PROJECT_HELP)
    p.add_argument(
        "--format",
        required=True,
        choices=[
            "torchscript",
            "onnx",
            "feedback-csv",
            "feedback-jsonl",
            "tensorboard",
            "generate",
        ],
        help="what to write: the model (torchscript, onnx), the feedback log (feedback-csv, "
        "feedback-jsonl), the training metrics (tensorboard, a folder) or a generate task's "
        "LoRA adapters and merged model (generate, a folder)",
    )
    p.add_argument(
        "--task",
        default=None,
        metavar="NAME",
        help="with --format generate: the generate task (default: the project's first)",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="file to write, or a folder (an existing one, or a path ending in / or without a "
        "suffix) that gets model.pt, model.onnx, feedback.csv/.jsonl",
    )
    p.add_argument(
        "--pseudonymize",
        action="store_true",
        help="item ids become pseudonyms (keyed by the project's pseudonym.key; no mapping file)",
    )
    p.add_argument("--json", action="store_true", help=JSON_HELP)


def _add_project_commands(sub) -> None:
    """Working on a project: simulate, evaluate, exclude, include, relocate."""
    p = _command(sub, "simulate", "a simulated expert answers items of a labelled project")
    p.add_argument("--project", required=True, metavar="DIR", help=PROJECT_HELP)
    p.add_argument("--clicks", type=_positive_int, default=100, metavar="N", help="answers to give")
    p.add_argument(
        "--corrections",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability that the simulated expert corrects a wrong label (else a thumbs-down)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of the simulated expert")
    p.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)

    p = _command(sub, "evaluate", "held-out metrics: current vs starting model")
    p.add_argument("--project", required=True, metavar="DIR", help=PROJECT_HELP)
    p.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="a weights file to evaluate instead of the current model (default: the current model)",
    )
    p.add_argument("--json", action="store_true", help=JSON_HELP)

    p = _command(sub, "exclude", "set bad items aside (queue, training, evaluation)")
    p.add_argument("item_ids", nargs="*", metavar="ITEM_ID", help="ids of the items to set aside")
    p.add_argument("--project", required=True, metavar="DIR", help=PROJECT_HELP)
    p.add_argument("--reason", default="", help="why, kept with the exclusion (default: none)")
    p.add_argument("--list", action="store_true", help="list the excluded items")
    p.add_argument("--json", action="store_true", help=JSON_HELP)

    p = _command(sub, "include", "bring excluded items back")
    p.add_argument("item_ids", nargs="+", metavar="ITEM_ID", help="ids of the items to bring back")
    p.add_argument("--project", required=True, metavar="DIR", help=PROJECT_HELP)
    p.add_argument("--json", action="store_true", help=JSON_HELP)

    p = _command(sub, "relocate", "the project's files moved to another folder: follow them")
    p.add_argument("--project", required=True, metavar="DIR", help=PROJECT_HELP)
    p.add_argument("--to", required=True, metavar="FOLDER", help="the folder the files are in now")
    p.add_argument(
        "--from",
        dest="from_folder",
        metavar="FOLDER",
        help="the folder they were imported from (default: the one that is gone)",
    )
    p.add_argument("--json", action="store_true", help=JSON_HELP)


def _add_tool_commands(sub) -> None:
    """Checks of the app itself: snapshot, bench-gui, self-test."""
    p = _command(sub, "snapshot", "render the main window offscreen to PNG files")
    p.add_argument("--project", required=True, metavar="DIR", help=PROJECT_HELP)
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the PNG files")

    p = _command(sub, "bench-gui", "click latency through the real main window")
    p.add_argument("--project", required=True, metavar="DIR", help=PROJECT_HELP)
    p.add_argument(
        "--clicks", type=_positive_int, default=500, metavar="N", help="simulated clicks"
    )
    p.add_argument("--json", action="store_true", help=JSON_HELP)

    p = _command(sub, "self-test", "headless health check (used by the packaged app)")
    p.add_argument("--json", action="store_true", help=JSON_HELP)


def _add_encoder_commands(sub) -> None:
    """Pretrained encoders from a local Hugging Face folder (docs/adr/0014)."""
    p = _command(sub, "encoders", "check a pretrained encoder folder, fill a project's embeddings")
    what = p.add_subparsers(dest="encoders_command", metavar="ACTION", parser_class=_Parser)
    what.required = True
    c = what.add_parser(
        "check",
        help="say what a local Hugging Face model folder holds, or why it is refused",
        description="Say what a local Hugging Face model folder holds (modality, architecture, "
        "parameters, embedding size), or why it is refused (exit 2).",
    )
    c.add_argument("path", metavar="PATH", help="model folder (config.json + *.safetensors)")
    c.add_argument(
        "--modality",
        choices=["image", "text", "audio"],
        default=None,
        help="the modality it must encode (default: any)",
    )
    c.add_argument(
        "--load",
        action="store_true",
        help="also load it with transformers and encode one blank input (slower)",
    )
    c.add_argument("--json", action="store_true", help=JSON_HELP)
    e = what.add_parser(
        "embed",
        help="compute the embeddings a project's [encoders] lack (resumes where it stopped)",
        description="Compute, in batches, the embeddings of a project's items that its "
        "pretrained encoders' cache lacks (project.toml [encoders]); a progress line on stderr.",
    )
    e.add_argument("--project", required=True, metavar="DIR", help=PROJECT_HELP)
    e.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)
    e.add_argument("--json", action="store_true", help=JSON_HELP)


COMMAND_MODULES = {
    "import": "import_cmd",
    "bench": "bench",
    "train": "train",
    "predict": "predict",
    "export": "export",
    "simulate": "simulate",
    "evaluate": "evaluate",
    "exclude": "exclude",
    "include": "exclude",
    "relocate": "relocate",
    "snapshot": "snapshot",
    "bench-gui": "bench_gui",
    "self-test": "self_test",
    "encoders": "encoders",
    None: "gui",
}


def _guard_streams() -> None:
    """A windowed launcher (``pythonw``, the gui-script, the Windows bundle's mmrl-desktop.exe)
    has no console: ``sys.stdout``/``sys.stderr`` are None. Writes go nowhere instead of raising
    (the log keeps what matters)."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


def main(argv: list[str] | None = None, *, log_to_file: bool = False) -> int:
    """``log_to_file``: set up this process's log (``mmrl_desktop.logs``); the launchers do,
    tests calling ``main`` in-process do not."""
    _guard_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from mmrl_desktop import __version__

        print(__version__)
        return 0
    if log_to_file:
        from mmrl_desktop import logs

        logs.install("gui" if args.command is None else "cli")
    what = args.command or "window"
    log.info("%s: started", what)  # never the arguments: they hold paths
    code = _run(args)
    log.info("%s: exit %d after %.1f s", what, code, time.perf_counter() - PROCESS_START)
    return code


def _run(args) -> int:
    from mmrl_desktop.core.errors import UserError

    args.process_start = PROCESS_START
    module = importlib.import_module(f"mmrl_desktop.commands.{COMMAND_MODULES[args.command]}")
    try:
        return int(module.run(args) or 0)
    except UserError as err:
        sys.stderr.write(f"{PROG}: error: {err}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except BrokenPipeError:  # `mmrl-desktop predict ... | head`: the reader left, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as err:  # a full disk, a read-only folder, a damaged database: one sentence
        from mmrl_desktop.core.errors import fault_sentence

        text = fault_sentence(err, getattr(args, "project", None))
        if text is None:
            raise  # sys.excepthook (mmrl_desktop.logs) writes the traceback to the log
        log.error(
            "%s: stopped by %s (the user was told in one sentence)",
            args.command,
            type(err).__name__,
        )
        sys.stderr.write(f"{PROG}: error: {text}\n")
        return 2
