"""``mmrl-desktop encoders check PATH [--modality M] [--load] [--json]``: what a local Hugging Face
model folder holds (modality, architecture, parameters, embedding size, dtype, fingerprint), or
the one sentence saying why it is refused (exit 2). ``--load`` also loads it with transformers
(local files only, no remote code) and encodes one blank input.

JSON: ``EncoderInfo.to_dict()`` plus ``"loaded"`` (with ``--load``: seconds to load and encode).
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


def run(args) -> int:
    if args.encoders_command == "check":
        return _check(args)
    raise SystemExit(2)
