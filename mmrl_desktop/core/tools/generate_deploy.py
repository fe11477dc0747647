"""A ``generate`` task's model out of the app: drafts for new files (``predict``) and the LoRA
adapters plus a merged model folder (``export --format generate``).

Both load the task's base model folder with the adapters of its newest checkpoint of the same
base model (``checkpoints/generate-<task>/``; none yet: the base model as it is) through the
policy of ``core/learning/generate`` — local files only, no remote code.

``draft_files(project, found)`` drafts greedily (temperature 0, so a file's draft is the same on
every run) one text per item::

    [{"id": "case7", "path": "case7.txt", "task": "finding", "text": "no focal lesion",
      "logprob": -2.31, "policy_version": 4}, ...]

``export_generate(project, out)`` writes ``<out>/adapters/`` (peft: adapter_model.safetensors,
adapter_config.json, and mmrl_base.json naming the base model and its fingerprint) and
``<out>/merged/`` (safetensors, tokenizer or processor: ``transformers``'
``from_pretrained`` loads it without this app), then loads the merged folder back with
``transformers`` and checks that it drafts what the live policy drafts (greedy, on the prompt
alone).
"""

from __future__ import annotations

import json
from pathlib import Path

from mmrl_desktop.core.data.drafts import compose_prompt, item_image
from mmrl_desktop.core.data.project import GenerateTask, Project
from mmrl_desktop.core.errors import UserError


def _task(project: Project, name: str | None) -> GenerateTask:
    try:
        return project.generate_task(name)
    except KeyError:
        what = f"no generate task {name!r}" if name else "no generate task"
        raise UserError(
            f'this project has {what} (a [[tasks]] entry with kind = "generate").'
        ) from None


def open_policy(project: Project, task: GenerateTask, device: str = "cpu"):
    """(policy, checkpoint metadata or {}) — the base model with its newest adapters."""
    from mmrl_desktop.core.learning.checkpoints import find_latest
    from mmrl_desktop.core.learning.device import choose_device
    from mmrl_desktop.core.learning.generate.policy import GenerativePolicy
    from mmrl_desktop.core.learning.generate_trainer import checkpoint_folder

    policy = GenerativePolicy.load(
        task.model_folder(project.root), str(choose_device(device)), task.settings.lora_rank
    )
    fingerprint = policy.fingerprint
    latest = find_latest(
        checkpoint_folder(project, task.name),
        accept=lambda e: (e.meta or {}).get("fingerprint") == fingerprint,
    )
    if latest.checkpoint is None:
        return policy, {}
    policy.load_checkpoint_state(latest.checkpoint.state)
    return policy, {**latest.checkpoint.meta, "path": str(latest.checkpoint.path)}


def draft_files(
    project: Project, found: list, task: str | None = None, device: str = "cpu"
) -> list[dict]:
    """One greedy draft per item of ``found`` (``predict.scan_files``' items) for each generate
    task (or only ``task``)."""
    tasks = [_task(project, task)] if task else list(project.generate_tasks)
    out = []
    for t in tasks:
        policy, meta = open_policy(project, t, device)
        version = int(meta.get("policy_version", 0))
        vision = policy.kind == "vision"
        for it, files, _given in found:
            if vision and not it.image:
                continue
            prompt = compose_prompt(it, t.settings.prompt)
            images = [item_image(it)] if vision else None
            (draft,) = policy.generate(
                [prompt], images, max_new_tokens=t.settings.max_new_tokens, temperature=0.0, n=1
            )[0]
            out.append(
                {
                    "id": it.item_id,
                    "path": next(iter(files.values()), None),
                    "task": t.name,
                    "text": draft.text,
                    "logprob": float(draft.logprob),
                    "policy_version": version,
                }
            )
    return out


def drafts_only(project: Project, found: list, skipped: list, source, device: str) -> dict:
    """``predict``'s result for a project whose only tasks are generate tasks: no label
    predictions, the drafts, and the first task's model (policy version, step, written)."""
    from mmrl_desktop.core.evaluation.model_info import written_utc
    from mmrl_desktop.core.learning.ckpt_files import scan
    from mmrl_desktop.core.learning.generate.lm_folder import inspect_lm
    from mmrl_desktop.core.learning.generate_trainer import checkpoint_folder

    task = project.generate_tasks[0]
    fingerprint = inspect_lm(task.model_folder(project.root)).fingerprint  # reads no weights
    fits = [
        e
        for e in scan(checkpoint_folder(project, task.name))
        if e.readable and (e.meta or {}).get("fingerprint") == fingerprint
    ]
    newest = max(fits, key=lambda e: e.order, default=None)
    meta = {**newest.meta, "path": str(newest.weights)} if newest is not None else {}
    model = {
        "version": int(meta.get("policy_version", 0)),
        "step": int(meta.get("step", 0)),
        "written": written_utc(meta.get("path")),
    }
    return {
        "project": str(project.root),
        "model_version": model["version"],
        "step": model["step"],
        "model": model,
        "source": str(Path(source)),
        "items": len(found),
        "predictions": [],
        "skipped": skipped,
        "drafts": draft_files(project, found, device=device),
    }


def export_generate(project: Project, out: str | Path, task: str | None = None) -> dict:
    """Write the adapters and the merged model folder (module docstring); returns what was
    written and the check."""
    t = _task(project, task)
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; give a folder for the adapters and the merged model.")
    adapters, merged = out / "adapters", out / "merged"
    for folder in (adapters, merged):
        if folder.exists() and any(folder.iterdir()):
            raise UserError(f"{folder} is not empty; choose another --out folder.")
    policy, meta = open_policy(project, t, "cpu")
    try:
        out.mkdir(parents=True, exist_ok=True)
        policy.save_adapters(adapters)
        policy.merge_to(merged)
    except OSError as err:
        raise UserError(f"cannot write the model to {out}: {err.strerror or err}.") from None
    check = check_merged(policy, merged, t)
    info = {
        "format": "generate",
        "task": t.name,
        "path": str(out),
        "adapters": str(adapters),
        "merged": str(merged),
        "base_fingerprint": policy.fingerprint,
        "policy_version": int(meta.get("policy_version", 0)),
        "step": int(meta.get("step", 0)),
        "check": check,
    }
    (out / "mmrl_export.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    return info


def export_generate_apart(project_root: str | Path, out: str | Path, task: str | None = None):
    """``export_generate`` in a process of its own (spawned) — the app's Export dialog: the base
    model is loaded and merged there, never in the window's process, which imports neither torch
    nor transformers (ADR 0017). A ``UserError`` there is raised here."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(_export_in_child, str(project_root), str(out), task).result()


def _export_in_child(project_root: str, out: str, task: str | None) -> dict:
    return export_generate(Project.open(project_root), out, task)


def check_merged(policy, merged: Path, task: GenerateTask) -> dict:
    """Load ``merged`` with plain ``transformers`` and compare its greedy draft of the task's
    prompt with the live policy's (a text model; a vision model is only loaded back)."""
    import torch
    import transformers

    cls = (
        transformers.AutoModelForImageTextToText
        if policy.kind == "vision"
        else transformers.AutoModelForCausalLM
    )
    model = cls.from_pretrained(str(merged), local_files_only=True, trust_remote_code=False)
    if policy.kind == "vision":
        return {"reloaded_with": cls.__name__, "same_draft": None}
    tok = transformers.AutoTokenizer.from_pretrained(str(merged), local_files_only=True)
    prompt = task.settings.prompt
    n = min(task.settings.max_new_tokens, 16)
    live = policy.generate([prompt], None, max_new_tokens=n, temperature=0.0, n=1)[0][0]
    ids = policy.encoder.prompts([prompt], None, "cpu")
    with torch.no_grad():
        seq = model.generate(
            **ids, max_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id
        )
    new = seq[0, ids["input_ids"].shape[1] :].tolist()
    return {
        "reloaded_with": cls.__name__,
        "same_draft": new[: len(live.token_ids)] == list(live.token_ids),
        "draft": live.text,
    }
