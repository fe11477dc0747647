"""``mmrl-desktop encoders check PATH [--modality M] [--load] [--json]``: what a local Hugging Face
model folder holds (modality, architecture, parameters, embedding size, dtype, fingerprint), or
the one sentence saying why it is refused (exit 2). ``--load`` also loads it with transformers
(local files only, no remote code) and encodes one blank input.

JSON: ``EncoderInfo.to_dict()`` plus ``"loaded"`` (with ``--load``: seconds to load and encode).

``mmrl-desktop encoders embed --project DIR [--device D] [--json]``: compute the embeddings the
project's ``[encoders]`` caches lack (a progress line on stderr; resumes after an interruption).
JSON: ``{"project", "embeddings": {modality: {total, cached, computed, unreadable, seconds,
items_per_s, stopped}}}``.
"""

from __future__ import annotations

import json
import time


def _check(args) -> int:
    from mmrl_desktop.core.learning.pretrained import inspect_encoder

    info = inspect_encoder(args.path, args.modality)
    out = info.to_dict()
    if args.load:
        from mmrl_desktop.core.learning.pretrained import load_encoder
        from mmrl_desktop.core.learning.pretrained.embed import blank_input, embed_batch

        t0 = time.perf_counter()
        enc = load_encoder(info, device="cpu")
        z = embed_batch(enc, [blank_input(enc)])
        out["loaded"] = {"seconds": round(time.perf_counter() - t0, 3), "shape": list(z.shape)}
    if args.json:
        print(json.dumps(out))
        return 0
    print(info.describe())
    print(f"folder: {info.path}")
    print(f"processor: {info.processor}, pooling: {info.pooling}")
    print(f"fingerprint: {info.fingerprint}")
    if args.load:
        print(f"loaded and encoded one input in {out['loaded']['seconds']:.1f} s")
    return 0


def _embed(args) -> int:
    from mmrl_desktop.commands.progress import Bar
    from mmrl_desktop.core.data.demo import resolve_project
    from mmrl_desktop.core.errors import UserError
    from mmrl_desktop.core.learning.pretrained.settings import fill_project

    project = resolve_project(args.project)
    if not project.encoders:
        raise UserError(f"{project.root} has no [encoders] in project.toml; nothing to embed.")
    with Bar("embedding", "items") as bar:

        def report(done: int, total: int, modality: str) -> None:
            bar.update(done, total, label=f"embedding {modality}")

        results = fill_project(project, progress=report, device=args.device)
    out = {m: r.to_dict() for m, r in results.items()}
    if args.json:
        print(json.dumps({"project": project.root.name, "embeddings": out}))
        return 0
    for m, r in results.items():
        bad = f", {len(r.unreadable)} unreadable" if r.unreadable else ""
        print(
            f"{m}: {r.total} items, {r.cached} already embedded, {r.computed} computed "
            f"({r.items_per_s:.1f} items/s){bad}"
        )
    return 0


def run(args) -> int:
    if args.encoders_command == "check":
        return _check(args)
    if args.encoders_command == "embed":
        return _embed(args)
    raise SystemExit(2)
